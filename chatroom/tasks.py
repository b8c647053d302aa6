"""Chat's Celery tasks, thin: the send-later due-scan that beat runs every
SCHEDULED_MESSAGES_SCAN_SECONDS, and the send of one scheduled message.
Both are safe to run twice at once or to be delivered twice
(chatroom.services.scheduled_send claims each row once)."""

from __future__ import annotations

from celery import shared_task

from chatroom.services import scheduled_send


@shared_task(name="chatroom.tasks.scheduled_messages_due", ignore_result=True)
def scheduled_messages_due() -> dict:
    return scheduled_send.scheduled_due_scan()


@shared_task(name="chatroom.tasks.send_scheduled_message", ignore_result=True, acks_late=True)
def send_scheduled_message(scheduled_id: str) -> str | None:
    return scheduled_send.scheduled_send(scheduled_id=scheduled_id)
