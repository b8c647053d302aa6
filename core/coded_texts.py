"""Texts stored as a code and parameters, rendered in each reader's language
(issue 19): the chat's system messages and the notifications' titles.

A system message stores its code as ``metadata["event"]`` and its
parameters beside it (``old_name``, ``new_name``, ``by``); the user it is
about is the message's own user. A notification stores ``data["i18n"] =
{"code": ..., "params": {...}}``. The stored ``content`` / ``title`` keeps
the English rendering: what the database, the admin and old clients show.
Every reader gets the text rendered at read time, in the language active
then (the request's, the socket's user's, the mail's recipient's):
``system_message`` and ``notification_title``.

Rendering never fails a read: an unknown code, parameters that are not an
object, a missing parameter or a translation that does not fit them gives
the stored text back (so do rows written before the codes existed).

Placeholders are named (``%(user)s``), so a translation may put them in its
own order. Names (users, rooms), user content and codes are never
translated; a parameter listed in ``LABELS`` is a code whose label is
(the job's type)."""

from __future__ import annotations

import logging

from django.utils import translation
from django.utils.translation import gettext_lazy as _

logger = logging.getLogger(__name__)

# ---------------------------------------------------------------- system messages (metadata["event"])

SYSTEM_MESSAGES = {
    "joined": _("%(user)s joined"),
    "left": _("%(user)s left"),
    "kicked": _("%(user)s was removed by %(by)s"),
    "renamed": _("%(user)s renamed the room to %(new_name)s"),
}

# ---------------------------------------------------------------- notification titles (data["i18n"]["code"])

NOTIFICATIONS = {
    "mention": _("%(actor)s mentioned you in #%(room)s"),
    "mention.dm": _("%(actor)s mentioned you in a direct message"),
    "group_mention": _("%(actor)s mentioned %(groups)s in #%(room)s"),
    "group_mention.dm": _("%(actor)s mentioned %(groups)s in a direct message"),
    "dm": _("%(actor)s sent you a message"),
    "reply": _("%(actor)s replied to you in #%(room)s"),
    "reply.dm": _("%(actor)s replied to you in a direct message"),
    "thread": _("%(actor)s replied in a thread in #%(room)s"),
    "thread.dm": _("%(actor)s replied in a thread in a direct message"),
    "invite": _("%(actor)s invited you to #%(room)s"),
    "scheduled_failed": _("Your scheduled message to #%(room)s was not sent"),
    "scheduled_failed.dm": _("Your scheduled message to a direct message was not sent"),
    "job_finished": _("%(job_type)s job finished"),
    "job_failed": _("%(job_type)s job failed"),
    "alert": _("Alert: %(check)s"),  # to staff; the code names the check (audit.alerts)
}

# Parameters that are codes with a label of their own (msgids shared with
# the models' choices, so they read as everywhere else).
LABELS = {
    "job_type": {"copy": _("Copy"), "move": _("Move"), "delete": _("Delete"), "sync": _("Sync"),
                 "backup": _("Backup")},
}

# Where a chat notification happened, as the missed-message mail names it too.
IN_DM = _("a direct message")


def place(*, is_dm: bool, room_name: str) -> str:
    """A room as a sentence names it: ``#general``, or "a direct message"."""
    return str(IN_DM) if is_dm else f"#{room_name}"


def in_room(code: str, *, is_dm: bool) -> str:
    """The variant of a chat notification's code for a DM (``mention.dm``)."""
    return f"{code}.dm" if is_dm else code


# ---------------------------------------------------------------- rendering


def _format(template, params: dict) -> str:
    values = {}
    for name, value in params.items():
        label = LABELS.get(name, {}).get(value) if isinstance(value, str) else None
        values[name] = str(label) if label is not None else ("" if value is None else str(value))
    return str(template) % values


def render(table: dict, code, params, fallback: str = "") -> str:
    """``table[code]`` with ``params``, in the active language; ``fallback``
    (the stored text) when it cannot be rendered."""
    template = table.get(code) if isinstance(code, str) else None
    if template is None or not isinstance(params, dict):
        return fallback
    try:
        return _format(template, params)
    except (KeyError, TypeError, ValueError):
        # Rows written before their parameters were stored: expected, and read often.
        logger.debug("text %r could not be rendered with %s", code, sorted(params))
        return fallback


def english(table: dict, code: str, params: dict) -> str:
    """The stored rendering (English). Raises KeyError for a missing
    parameter: a writer must give them all."""
    with translation.override("en"):
        return _format(table[code], params)


def system_message(metadata, username: str | None, fallback: str) -> str:
    """A system message's text: its ``metadata`` (``event`` and the
    parameters) about the message's user, or the stored ``fallback``."""
    event = metadata.get("event") if isinstance(metadata, dict) else None
    if not isinstance(event, str) or event not in SYSTEM_MESSAGES:
        return fallback
    params = {k: v for k, v in metadata.items() if k != "event" and isinstance(v, (str, int))}
    if username is not None:
        params["user"] = username
    return render(SYSTEM_MESSAGES, event, params, fallback)


def notification_spec(code: str, **params) -> dict:
    """What a notification's ``data["i18n"]`` holds."""
    return {"code": code, "params": {k: "" if v is None else str(v) for k, v in params.items()}}


def notification_title(data, fallback: str) -> str:
    """A notification's title from ``data["i18n"]``, or the stored one."""
    spec = data.get("i18n") if isinstance(data, dict) else None
    if not isinstance(spec, dict):
        return fallback
    return render(NOTIFICATIONS, spec.get("code"), spec.get("params"), fallback)


def notification_english(code: str, **params) -> tuple[str, dict]:
    """(the stored English title, ``data["i18n"]``) for a new notification."""
    spec = notification_spec(code, **params)
    return english(NOTIFICATIONS, code, spec["params"]), spec
