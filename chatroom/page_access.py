"""The pages' one answer for a room the user may not see: the 404 page (the
same for a room that does not exist), as the API's 404; and the time zone
the chat pages show times in (the user's profile zone, issue 19)."""

from __future__ import annotations

import functools
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.http import Http404
from django.utils import timezone

from chatroom import selectors
from core.errors import NotFound


def room_or_404(user, room_id):
    try:
        return selectors.room_get(user=user, room_id=room_id)
    except NotFound:
        raise Http404 from None


def user_zone(user) -> ZoneInfo:
    """The user's profile time zone, else UTC (an unknown name too)."""
    try:
        return ZoneInfo(getattr(getattr(user, "profile", None), "timezone", None) or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def in_user_zone(view):
    """The view's page shows times in the signed-in user's time zone (the
    template's ``date`` filter reads the active zone)."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        with timezone.override(user_zone(request.user)):
            return view(request, *args, **kwargs)

    return wrapped
