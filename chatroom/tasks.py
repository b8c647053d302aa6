"""Chat's Celery tasks: the missed-message mail (issue 18)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from chatroom import missed_mail, missed_mail_send


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
