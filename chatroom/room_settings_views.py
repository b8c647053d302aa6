"""A room's settings and members pages, for those who may: rename, topic,
privacy and password, join approval, invites, archive, delete and ownership
transfer (settings); roles, mute and kick (members, which every member may
read). Server-rendered forms over chatroom.services, which make the
permission decisions (chatroom.permissions); the pages only hide what the
user may not do. A refusal is a form error or a message, never a 500."""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as Forbidden
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from chatroom import selectors, services
from chatroom.models import Room, RoomMember
from chatroom.page_access import room_or_404
from chatroom.permissions import assignable_roles, has_power, outranks
from chatroom.templatetags.chat_shell import role_label
from config.forms import form_errors
from core.errors import ApplicationError, NotFound
from realtime import presence

Role = RoomMember.Role


class GeneralForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=50,
                           help_text=gettext_lazy("3 to 50 letters, digits, _ or -."))
    description = forms.CharField(label=gettext_lazy("Topic"), required=False, max_length=2000,
                                  widget=forms.Textarea(attrs={"rows": 2, "translate": "no"}))
    allow_invites = forms.BooleanField(required=False, label=gettext_lazy("Members may invite others"))
    require_approval = forms.BooleanField(required=False, label=gettext_lazy("New members need approval"))


class PrivacyForm(forms.Form):
    is_private = forms.BooleanField(required=False, label=gettext_lazy("Private (needs a password or an invite)"))
    password = forms.CharField(required=False, max_length=128, strip=False, label=gettext_lazy("New password"),
                               widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
                               help_text=gettext_lazy("4 to 128 characters. Needed to make the room private; "
                                                      "leave empty to keep the current one."))


class TransferForm(forms.Form):
    new_owner = forms.ChoiceField(label=gettext_lazy("New owner"))


class DeleteForm(forms.Form):
    confirm = forms.CharField(label=gettext_lazy("Type the room's name to confirm"), max_length=50)


def _member_or_404(request, room_id) -> tuple[Room, RoomMember]:
    """The room and the user's membership; a room they cannot see, or are
    not in, is a 404 (the same answer for both)."""
    room = room_or_404(request.user, room_id)
    member = selectors.member_of(room, request.user)
    if member is None:
        raise Http404
    return room, member


def _transfer_form(room, member, data=None) -> TransferForm:
    form = TransferForm(data)
    others = RoomMember.objects.filter(room=room).exclude(pk=member.pk).select_related("user").order_by("user__username")
    form.fields["new_owner"].choices = [("", _("Choose a member"))] + [(str(m.user_id), m.user.username) for m in others]
    return form


@login_required
def room_settings(request, room_id):
    room, member = _member_or_404(request, room_id)
    if room.kind != Room.Kind.CHANNEL or not has_power(member, "manage_settings"):
        raise Forbidden(_("Only the room's admins and owner change its settings."))
    is_owner = member.role == Role.OWNER
    op = request.POST.get("op") if request.method == "POST" else None
    general = GeneralForm(request.POST if op == "general" else None, initial={
        "name": room.name, "description": room.description, "allow_invites": room.allow_invites,
        "require_approval": room.require_approval})
    privacy = PrivacyForm(request.POST if op == "privacy" else None, initial={"is_private": room.is_private})
    transfer = _transfer_form(room, member, request.POST if op == "transfer" else None)
    delete = DeleteForm(request.POST if op == "delete" else None)
    status = 200
    if op is not None:
        try:
            done = _apply(request, room, op, general=general, privacy=privacy, transfer=transfer, delete=delete)
        except ApplicationError as exc:
            form = {"general": general, "privacy": privacy, "transfer": transfer, "delete": delete}.get(op)
            if form is None:
                messages.error(request, exc.message)
                return redirect("chatroom:settings", room.id)
            form_errors(form, exc)
            done = None
        if done is not None:
            return done
        status = 400
    return render(request, "chatroom/settings.html", {
        "room": room, "member": member, "is_owner": is_owner, "general": general, "privacy": privacy,
        "transfer": transfer, "delete": delete,
        "member_count": RoomMember.objects.filter(room=room).count(),
    }, status=status)


def _apply(request, room, op, *, general, privacy, transfer, delete):
    """Run the settings change ``op``; a redirect when done, None when the
    form was invalid (its errors are shown). Services raise refusals."""
    user = request.user
    if op == "general":
        if not general.is_valid():
            return None
        services.room_update(actor=user, room=room, **general.cleaned_data)
        messages.success(request, _("Settings saved."))
    elif op == "privacy":
        if not privacy.is_valid():
            return None
        data = privacy.cleaned_data
        services.room_update(actor=user, room=room, is_private=data["is_private"], password=data["password"] or None)
        messages.success(request, _("The room is now private.") if data["is_private"] else _("The room is now public."))
    elif op in ("archive", "unarchive"):
        services.room_update(actor=user, room=room, archived=op == "archive")
        messages.success(request, _("The room is archived: read-only.") if op == "archive"
                         else _("The room is open again."))
    elif op == "transfer":
        if not transfer.is_valid():
            return None
        new_owner = RoomMember.objects.filter(room=room, user_id=transfer.cleaned_data["new_owner"]).select_related("user").first()
        if new_owner is None:
            transfer.add_error("new_owner", _("That person is no longer a member."))
            return None
        services.room_transfer_ownership(actor=user, room=room, new_owner=new_owner.user)
        messages.success(request, _("%(name)s now owns #%(room)s. You are an admin, and can leave the room now.")
                         % {"name": new_owner.user.username, "room": room.name})
    elif op == "delete":
        if not delete.is_valid():
            return None
        if delete.cleaned_data["confirm"] != room.name:
            delete.add_error("confirm", _("Type %(name)s exactly to delete the room.") % {"name": room.name})
            return None
        name = room.name
        services.room_delete(actor=user, room=room)
        messages.success(request, _("#%(name)s was deleted.") % {"name": name})
        return redirect("chatroom:list")
    else:
        messages.error(request, _("Unknown action."))
    return redirect("chatroom:settings", room.id)


@login_required
def room_members(request, room_id):
    """Every member may see who is in the room, with roles and presence;
    the controls show only where the viewer outranks the member."""
    room, me = _member_or_404(request, room_id)
    rows = list(selectors.room_members(user=request.user, room=room))
    statuses = presence.status_of([m.user_id for m in rows])
    roles = assignable_roles(me)
    for m in rows:
        m.status = statuses.get(str(m.user_id), presence.OFFLINE)
        below = m.pk != me.pk and outranks(me, m) and room.kind == Room.Kind.CHANNEL
        m.can_kick = below and has_power(me, "kick")
        m.can_mute = below and has_power(me, "mute")
        m.roles = [(r, role_label(r)) for r in roles] if below and roles else []
    return render(request, "chatroom/members.html", {
        "room": room, "me": me, "members": rows, "can_settings": has_power(me, "manage_settings"),
    })


@login_required
@require_POST
def member_change(request, room_id):
    """One change to one member (``op``: role, mute, unmute, kick). The
    service decides; a refusal comes back as a message on the members page."""
    room, _me = _member_or_404(request, room_id)
    target = RoomMember.objects.filter(room=room, user_id=_uuid(request.POST.get("user_id"))).select_related("user").first()
    op = request.POST.get("op")
    try:
        if target is None:
            raise NotFound(_("That user is not a member of this room."))
        who = target.user.username
        if op == "kick":
            services.member_kick(actor=request.user, room=room, user=target.user)
            messages.success(request, _("%(name)s was removed from the room.") % {"name": who})
        elif op in ("mute", "unmute"):
            services.member_update(actor=request.user, room=room, user=target.user, is_muted=op == "mute")
            done = _("%(name)s is muted: they cannot post.") if op == "mute" else _("%(name)s can post again.")
            messages.success(request, done % {"name": who})
        elif op == "role":
            role = request.POST.get("role", "")
            services.member_update(actor=request.user, room=room, user=target.user, role=role)
            messages.success(request, _("%(name)s's role is now %(role)s.") % {"name": who, "role": role_label(role)})
        else:
            messages.error(request, _("Unknown action."))
    except ApplicationError as exc:
        detail = "; ".join(m for msgs in (exc.fields or {}).values() for m in msgs)
        messages.error(request, detail or exc.message)
    return redirect("chatroom:members", room.id)


def _uuid(value):
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
