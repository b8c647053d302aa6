"""The room page's notification menu (issue 18): a member's own choice of
notify level, through membership.member_update like the API's PATCH."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from chatroom import services
from chatroom.page_access import room_or_404
from core.errors import ApplicationError

LABELS = {"all": _("You will be notified of everything here."),
          "mentions": _("You will be notified only of mentions here."),
          "none": _("Muted: no notifications from here; unread messages are still counted.")}


@login_required
@require_POST
def notify_level(request, room_id):
    room = room_or_404(request.user, room_id)
    level = request.POST.get("notify_level", "")
    try:
        services.member_update(actor=request.user, room=room, user=request.user, notify_level=level)
    except ApplicationError as exc:
        detail = "; ".join(m for msgs in (exc.fields or {}).values() for m in msgs) if exc.fields else exc.message
        messages.error(request, detail)
    else:
        messages.success(request, LABELS[level])
    return redirect("chatroom:room", room.id)
