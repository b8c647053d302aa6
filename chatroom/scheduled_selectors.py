"""Reads of scheduled messages ("send later"), scoped to their author: no
one sees another's, and another's is the same NotFound as none."""

from __future__ import annotations

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from chatroom.models import ScheduledMessage
from core.errors import NotFound, ValidationFailed, parse_uuid

Status = ScheduledMessage.Status


def own(actor: User, scheduled_id, *, lock: bool = False) -> ScheduledMessage:
    """The actor's own scheduled message; anyone else's is the same NotFound
    as one that does not exist."""
    qs = ScheduledMessage.objects.filter(id=parse_uuid(scheduled_id, "id"), author=actor)
    if lock:
        qs = qs.select_for_update(of=("self",))
    found = qs.select_related("room", "room__org").first()
    if found is None:
        raise NotFound(_("No such scheduled message."))
    return found


def scheduled_list(*, user: User, status: str | None = None):
    """The user's own scheduled messages (a queryset, for the API's pages)."""
    qs = ScheduledMessage.objects.filter(author=user)
    if status:
        if status not in Status.values:
            raise ValidationFailed(fields={"status": [gettext("One of %(choices)s.") % {"choices": ", ".join(Status.values)}]})
        qs = qs.filter(status=status)
    return qs.select_related("room")


def scheduled_get(*, user: User, scheduled_id) -> ScheduledMessage:
    return own(user, scheduled_id)
