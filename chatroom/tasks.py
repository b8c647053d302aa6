"""Chat's Celery tasks, thin wrappers:

- send later (issue 18): the due-scan that beat runs every
  SCHEDULED_MESSAGES_SCAN_SECONDS, and the send of one scheduled message;
  both are safe to run twice at once or to be delivered twice
  (chatroom.services.scheduled_send claims each row once);
- the missed-message mail: beat's scan, and the send of one batched mail,
  retried while SMTP fails."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from chatroom import missed_mail, missed_mail_send
from chatroom.services import scheduled_send


@shared_task(name="chatroom.tasks.scheduled_messages_due", ignore_result=True)
def scheduled_messages_due() -> dict:
    return scheduled_send.scheduled_due_scan()


@shared_task(name="chatroom.tasks.send_scheduled_message", ignore_result=True, acks_late=True)
def send_scheduled_message(scheduled_id: str) -> str | None:
    return scheduled_send.scheduled_send(scheduled_id=scheduled_id)


@shared_task(name="chatroom.scan_missed_messages")
def scan_missed_messages() -> dict:
    """Beat: queue the mails that are due, and send again those SMTP refused
    whose next attempt has come (and any whose task was lost)."""
    queued = missed_mail.scan()
    again = missed_mail_send.due_again()
    for mail_id in again:
        if mail_id not in {str(q) for q in queued}:
            send_missed_mail.delay(mail_id)
    return {"queued": len(queued), "again": len(again)}


@shared_task(bind=True, name="chatroom.send_missed_mail", acks_late=True)
def send_missed_mail(self, mail_id: str) -> str:
    try:
        return missed_mail_send.deliver(mail_id)
    except Exception as exc:  # noqa: BLE001 - recorded on the row by deliver
        retries = self.request.retries or 0
        if retries >= settings.MISSED_MESSAGE_EMAIL_MAX_RETRIES:
            return "pending"  # the beat scan sends it again at next_attempt_at
        raise self.retry(exc=exc, countdown=missed_mail_send.backoff(retries + 1).total_seconds(),
                         max_retries=settings.MISSED_MESSAGE_EMAIL_MAX_RETRIES) from exc
