"""The chat pages: room list and create form, the room view, joining
(password, approval), invites, join requests, search, and attachment
downloads. Thin: reads through chatroom.selectors, writes through
chatroom.services; the room view's live parts call the JSON API with the
session cookie and CSRF (static/js/chat-room.js)."""

from __future__ import annotations

import datetime
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from accounts.models import User
from accounts.selectors import profile_of, user_for_login
from chatroom import selectors, services, sidebar, thread_selectors
from chatroom.models import JoinRequest
from chatroom.page_access import in_user_zone, room_or_404
from chatroom.permissions import can_invite, has_power
from chatroom.presenters import attachment_response, jump_url
from config.forms import form_errors
from core.errors import ApplicationError, NotFound, ValidationFailed
from core.replicas import lag_tolerant
from core.timestamps import isoformat_z
from realtime import presence

# profile.preferences key of the per-user desktop notification switch (static/js/chat-desktop.js).
DESKTOP_NOTIFICATIONS_KEY = "desktop_notifications"


class RoomCreateForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=50,
                           help_text=gettext_lazy("3 to 50 letters, digits, _ or -."))
    description = forms.CharField(label=gettext_lazy("Description"), required=False,
                                  widget=forms.Textarea(attrs={"rows": 2, "translate": "no"}), max_length=2000)
    is_private = forms.BooleanField(required=False, label=gettext_lazy("Private (needs a password or an invite)"))
    password = forms.CharField(label=gettext_lazy("Password"), required=False, widget=forms.PasswordInput,
                               max_length=128, strip=False)
    require_approval = forms.BooleanField(required=False, label=gettext_lazy("New members need approval"))


@login_required
@lag_tolerant
def room_list(request):
    q = request.GET.get("q", "").strip()
    form = RoomCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            room = services.room_create(owner=request.user, name=data["name"], description=data["description"],
                                        is_private=data["is_private"], password=data["password"] or None,
                                        require_approval=data["require_approval"])
        except ApplicationError as exc:
            form_errors(form, exc)
        else:
            return redirect("chatroom:room", room.id)
    unread = {r["room_id"]: r for r in selectors.unread_counts(user=request.user)["rooms"]}
    joined = list(selectors.rooms_list(user=request.user, scope="mine").order_by("-updated_at", "name"))
    for room in joined:
        room.unread = unread.get(str(room.id))
    mine = sorted((r for r in joined if not r.is_dm), key=lambda r: r.name)
    dms = _with_people(request.user, [r for r in joined if r.is_dm])
    public = selectors.rooms_list(user=request.user, scope="public", q=q).order_by("name")[:100]
    return render(request, "chatroom/list.html", {
        "mine": mine, "dms": dms, "public": public, "q": q, "form": form,
        "candidates": selectors.dm_candidates(user=request.user),
        "group_max": settings.GROUP_DM_MAX_MEMBERS,
    })


# Each DM with its people and their presence (one rule, chatroom.sidebar).
_with_people = sidebar.with_people


@login_required
@require_POST
def dm_open(request):
    """Open (or find) a DM or group DM: ``user_ids`` from a Message button,
    or ``usernames`` typed into the picker, comma-separated."""
    back = request.POST.get("next") or ""
    if not back.startswith("/") or back.startswith("//"):
        back = "/chat/"
    ids = request.POST.getlist("user_ids")
    names = [n.strip().lstrip("@") for n in request.POST.get("usernames", "").replace(" ", ",").split(",") if n.strip()]
    try:
        for name in names:
            found = user_for_login(name)
            if found is None:
                raise NotFound(_("No user %(name)s.") % {"name": repr(name[:150])})
            ids.append(str(found.id))
        if not ids:
            raise ValidationFailed(fields={"user_ids": [_("Choose at least one person.")]})
        room, _created = services.dm_open(actor=request.user, user_ids=ids)
    except ApplicationError as exc:
        detail = "; ".join(m for msgs in (exc.fields or {}).values() for m in msgs)
        messages.error(request, detail or exc.message)
        return redirect(back)
    return redirect("chatroom:room", room.id)


@login_required
def person(request, user_id):
    """Another user's profile: presence, a Message button, Block/Unblock."""
    try:
        other = selectors.user_card(user_id=user_id)
    except (NotFound, ValidationFailed):
        raise Http404 from None
    if request.method == "POST":
        try:
            if request.POST.get("op") == "block":
                services.block_add(actor=request.user, user=other)
                messages.success(request, _("You blocked %(name)s. They cannot message you.") % {"name": other.username})
            elif request.POST.get("op") == "unblock":
                services.block_remove(actor=request.user, user=other)
                messages.success(request, _("You unblocked %(name)s.") % {"name": other.username})
        except ApplicationError as exc:
            messages.error(request, exc.message)
        return redirect("chatroom:person", other.id)
    return render(request, "chatroom/person.html", {
        "other": other, "me": other.pk == request.user.pk,
        "status": presence.status_of([other.id]).get(str(other.id), presence.OFFLINE),
        "blocked": selectors.has_blocked(user=request.user, other=other),
        "dm": selectors.dm_with(user=request.user, other=other),
    })


@login_required
def threads(request):
    """The "Threads" page: the threads the user follows, unread first (the
    API lists them latest activity first); threads.js keeps it live."""
    found = thread_selectors.threads_list(user=request.user, unread_first=True, limit=100)
    return render(request, "chatroom/threads.html", {"threads": found["results"]})


@login_required
@in_user_zone
def room_view(request, room_id):
    room = room_or_404(request.user, room_id)
    member = selectors.member_of(room, request.user)
    if member is None:
        pending = JoinRequest.objects.filter(room=room, user=request.user, status=JoinRequest.Status.PENDING).exists()
        return render(request, "chatroom/join.html", {"room": room, "pending": pending})
    powers = {p: has_power(member, p) for p in ("delete_any", "pin", "kick", "mute", "approve", "manage_settings",
                                                "assign_roles")}
    powers["invite"] = can_invite(member, room) and not room.is_dm
    if room.is_dm:
        _with_people(request.user, [room])
    return render(request, "chatroom/room.html", {
        "room": room, "member": member, "powers": powers,
        "config": {
            "roomId": str(room.id), "userId": str(request.user.id), "username": request.user.username,
            "role": member.role, "powers": powers, "maxLength": settings.CHAT_MESSAGE_MAX_LENGTH,
            "api": "/api/v1/", "kind": room.kind, "thread": request.GET.get("thread") or None,
            # The messages part (chat-room.js): the "new messages" divider goes
            # after this read cursor; the org's departments may have @handles;
            # desktop notifications follow this profile preference.
            "lastRead": {"id": str(member.last_read_message_id) if member.last_read_message_id else None,
                         "at": isoformat_z(member.last_read_at)},
            "orgId": str(room.org_id) if room.org_id else None,
            "uploadMaxBytes": settings.CHAT_UPLOAD_MAX_BYTES,
            "desktopNotifications": bool(profile_of(request.user).preferences.get(DESKTOP_NOTIFICATIONS_KEY)),
        },
    })


@login_required
@require_POST
def room_join(request, room_id):
    try:
        room = selectors.room_get(user=request.user, room_id=room_id)
        member, join_request = services.room_join(user=request.user, room=room,
                                                  password=request.POST.get("password") or None)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("chatroom:room", room_id)
    if join_request is not None:
        messages.info(request, _("Your request to join was sent to the room's moderators."))
    return redirect("chatroom:room", room_id)


@login_required
@require_POST
def room_leave(request, room_id):
    try:
        room = selectors.room_get(user=request.user, room_id=room_id)
        services.room_leave(user=request.user, room=room)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("chatroom:room", room_id)
    messages.info(request, _("You left the conversation.") if room.is_dm
                  else _("You left %(name)s.") % {"name": room.name})
    return redirect("chatroom:list")


@login_required
@require_POST
def room_invite_user(request, room_id):
    """Invite one user by username or email: a personal, single-use invite
    that reaches them as a room_invitation notification."""
    login = request.POST.get("login", "").strip()
    try:
        room = selectors.room_get(user=request.user, room_id=room_id)
        invitee = user_for_login(login)
        if invitee is None:
            raise NotFound(_("No user %(name)s.") % {"name": repr(login[:150])})
        services.invite_user(actor=request.user, room=room, user=invitee)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Invited %(name)s; they will find it in their notifications.")
                         % {"name": invitee.username})
    return redirect("chatroom:room", room_id)


@login_required
@in_user_zone
def invite_page(request, code):
    try:
        invite = selectors.invite_get(code=code)
    except NotFound:
        raise Http404 from None
    if request.method == "POST":
        try:
            services.invite_accept(user=request.user, code=code)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            return redirect("chatroom:room", invite.room_id)
    return render(request, "chatroom/invite.html", {"invite": invite, "room": invite.room})


@login_required
@in_user_zone
def join_requests(request, room_id):
    try:
        room = selectors.room_get(user=request.user, room_id=room_id)
        pending = list(selectors.join_requests(user=request.user, room=room))
    except NotFound:
        raise Http404 from None
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("chatroom:room", room_id)
    if request.method == "POST":
        target = next((r for r in pending if str(r.id) == request.POST.get("request_id")), None)
        if target is None:
            messages.error(request, _("That request is no longer pending."))
        else:
            try:
                services.join_request_decide(actor=request.user, request=target,
                                             approve=request.POST.get("decision") == "approve")
                done = (_("%(name)s: approved.") if request.POST.get("decision") == "approve"
                        else _("%(name)s: rejected."))
                messages.success(request, done % {"name": target.user.username})
            except ApplicationError as exc:
                messages.error(request, exc.message)
        return redirect("chatroom:join_requests", room.id)
    return render(request, "chatroom/requests.html", {"room": room, "pending": pending})


def _search_filters(request) -> tuple[dict, dict, list[str]]:
    """The search page's filters from its query string: (given values to show
    again, selector arguments, errors). Dates are whole days in the user's
    time zone (the page runs in it, page_access.in_user_zone), "until" included."""
    shown = {k: request.GET.get(k, "").strip() for k in ("room_id", "person", "since", "until")}
    args, errors = {"room_id": shown["room_id"] or None}, []
    if shown["person"]:
        found = User.objects.filter(username__iexact=shown["person"].lstrip("@")).values_list("id", flat=True).first()
        if found is None:
            errors.append(_("No one is called %(name)s.") % {"name": shown["person"]})
        args["user_id"] = found
    for key, shift in (("since", 0), ("until", 1)):
        if not shown[key]:
            continue
        try:
            day = datetime.date.fromisoformat(shown[key])
        except ValueError:
            errors.append(_("Since: use a date like 2026-01-31.") if key == "since"
                           else _("Until: use a date like 2026-01-31."))
            continue
        start = datetime.datetime.combine(day + datetime.timedelta(days=shift), datetime.time())
        args[key] = timezone.make_aware(start)
    return shown, args, errors


@login_required
@lag_tolerant
@in_user_zone
def search(request):
    q = request.GET.get("q", "").strip()
    shown, args, errors = _search_filters(request)
    result, error = None, " ".join(errors) or None
    if q and not errors:
        try:
            result = selectors.search_messages(user=request.user, q=q, cursor=request.GET.get("cursor"), **args)
        except ValidationFailed as exc:
            error = "; ".join(m for msgs in (exc.fields or {}).values() for m in msgs) or exc.message
    rooms = list(selectors.rooms_list(user=request.user, scope="mine").order_by("kind", "name"))
    _with_people(request.user, [r for r in rooms if r.is_dm])
    names = {str(r.id): (r.title if r.is_dm else f"#{r.name}") for r in rooms}
    hits = []
    for hit in (result or {}).get("results", []):
        m = hit["message"]
        created = m.get("created_at")
        hits.append({**hit, "room_name": names.get(str(m["room_id"]), _("a room")),
                     "created": parse_datetime(created) if isinstance(created, str) else created,
                     "url": jump_url(m["room_id"], m["id"], m.get("thread_id"), m.get("also_to_room"))})
    more = None
    if result and result.get("next"):
        more = "?" + urlencode({"q": q, **{k: v for k, v in shown.items() if v}, "cursor": result["next"]})
    return render(request, "chatroom/search.html", {"q": q, "hits": hits, "searched": result is not None,
                                                     "more": more, "error": error, "rooms": rooms, **shown})


@login_required
def attachment(request, attachment_id):
    """An attachment, if chatroom.selectors.attachment_for_download allows it."""
    try:
        item = selectors.attachment_for_download(user=request.user, attachment_id=attachment_id)
    except NotFound:
        raise Http404 from None  # the same answer for "missing" and "not yours"
    return attachment_response(item)
