"""The pages' one answer for a room the user may not see: the 404 page (the
same for a room that does not exist), as the API's 404."""

from __future__ import annotations

from django.http import Http404

from chatroom import selectors
from core.errors import NotFound


def room_or_404(user, room_id):
    try:
        return selectors.room_get(user=user, room_id=room_id)
    except NotFound:
        raise Http404 from None
