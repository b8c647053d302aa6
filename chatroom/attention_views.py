"""The room page's notification menu (issue 18): a member's own choice of
notify level, through membership.member_update like the API's PATCH."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from chatroom import selectors, services
from core.errors import ApplicationError, NotFound

LABELS = {"all": "You will be notified of everything here.", "mentions": "You will be notified only of mentions here.",
          "none": "Muted: no notifications from here; unread messages are still counted."}


@login_required
@require_POST
def notify_level(request, room_id):
    try:
        room = selectors.room_get(user=request.user, room_id=room_id)
    except NotFound:
        raise Http404 from None
    level = request.POST.get("notify_level", "")
    try:
        services.member_update(actor=request.user, room=room, user=request.user, notify_level=level)
    except ApplicationError as exc:
        detail = "; ".join(m for msgs in (exc.fields or {}).values() for m in msgs) if exc.fields else exc.message
        messages.error(request, detail)
    else:
        messages.success(request, LABELS[level])
    return redirect("chatroom:room", room.id)
