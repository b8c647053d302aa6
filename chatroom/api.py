"""The chat JSON API (api.md, "Rooms and messages"). Thin: validate input,
call one selector or service, render. API keys need ``chat:read`` for reads
and ``chat:write`` for writes (accounts.permissions.HasRequiredScopes)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from chatroom import selectors, services
from chatroom.models import Invite, JoinRequest, Room, RoomMember
from chatroom.presenters import attachment_dict, attachment_response, message_dicts, user_dict
from config.api import CursorPage
from config.errors import NotFound, ValidationFailed, parse_uuid
from orgs.models import Organization
from realtime import presence

READ = "chat:read"
WRITE = "chat:write"
RW = {"GET": READ, "POST": WRITE, "PATCH": WRITE, "PUT": WRITE, "DELETE": WRITE}


def _iso(value):
    return value.isoformat().replace("+00:00", "Z") if value else None


def room_dict(room: Room, member: RoomMember | None = None) -> dict:
    return {
        "id": str(room.id),
        "name": room.name,
        "description": room.description,
        "owner": user_dict(room.owner),
        "org_id": str(room.org_id) if room.org_id else None,
        "is_private": room.is_private,
        "max_members": room.max_members,
        "allow_invites": room.allow_invites,
        "require_approval": room.require_approval,
        "archived": room.archived,
        "settings": room.settings,
        "is_member": member is not None or bool(getattr(room, "is_member", False)),
        "role": member.role if member else getattr(room, "my_role", None),
        "created_at": _iso(room.created_at),
        "updated_at": _iso(room.updated_at),
    }


def member_dict(member: RoomMember) -> dict:
    return {
        "user": user_dict(member.user),
        "role": member.role,
        "is_muted": member.is_muted,
        "notifications_enabled": member.notifications_enabled,
        "permissions": member.permissions,
        "joined_at": _iso(member.joined_at),
        "last_read_message_id": str(member.last_read_message_id) if member.last_read_message_id else None,
    }


def join_request_dict(request: JoinRequest) -> dict:
    return {"id": str(request.id), "room_id": str(request.room_id), "user": user_dict(request.user),
            "status": request.status, "created_at": _iso(request.created_at)}


def invite_dict(invite: Invite) -> dict:
    return {"code": invite.code, "room_id": str(invite.room_id), "max_uses": invite.max_uses, "uses": invite.uses,
            "expires_at": _iso(invite.expires_at), "revoked": invite.revoked_at is not None,
            "invitee_id": str(invite.invitee_id) if invite.invitee_id else None}


def _validated(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _user(user_id) -> User:
    user = User.objects.filter(id=parse_uuid(user_id, "user_id")).first()
    if user is None:
        raise NotFound("No such user.")
    return user


def _paginate(view, request, queryset, ordering, render=None, *, render_page=None):
    """A cursor page, each item rendered by ``render`` (or the whole page by
    ``render_page``, for renderings that read something once per page)."""
    paginator = CursorPage()
    paginator.ordering = ordering
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(render_page(page) if render_page else [render(x) for x in page])


# --------------------------------------------------------------------------- serializers (input)


class RoomCreateIn(serializers.Serializer):
    name = serializers.CharField(max_length=50)
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")
    is_private = serializers.BooleanField(default=False)
    password = serializers.CharField(required=False, allow_null=True, max_length=128, trim_whitespace=False)
    max_members = serializers.IntegerField(required=False, default=1000)
    allow_invites = serializers.BooleanField(default=True)
    require_approval = serializers.BooleanField(default=False)
    org_id = serializers.UUIDField(required=False, allow_null=True)


class RoomUpdateIn(serializers.Serializer):
    name = serializers.CharField(required=False, max_length=50)
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    is_private = serializers.BooleanField(required=False)
    password = serializers.CharField(required=False, max_length=128, trim_whitespace=False)
    max_members = serializers.IntegerField(required=False)
    allow_invites = serializers.BooleanField(required=False)
    require_approval = serializers.BooleanField(required=False)
    archived = serializers.BooleanField(required=False)
    settings = serializers.DictField(required=False)


class JoinIn(serializers.Serializer):
    password = serializers.CharField(required=False, allow_null=True, allow_blank=True, trim_whitespace=False)
    invite_code = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=32)


class MemberUpdateIn(serializers.Serializer):
    role = serializers.ChoiceField(choices=RoomMember.Role.choices, required=False)
    is_muted = serializers.BooleanField(required=False)
    notifications_enabled = serializers.BooleanField(required=False)
    permissions = serializers.DictField(child=serializers.BooleanField(), required=False)


class InviteIn(serializers.Serializer):
    max_uses = serializers.IntegerField(required=False, default=0)
    max_age_seconds = serializers.IntegerField(required=False, default=services.INVITE_DEFAULT_MAX_AGE)
    user_id = serializers.UUIDField(
        required=False, allow_null=True,
        help_text="Invite this user personally: single-use, only they may accept it, and they are notified "
                  "(max_uses is ignored).")


class MessageIn(serializers.Serializer):
    content = serializers.CharField(allow_blank=True, trim_whitespace=False, default="")
    message_type = serializers.CharField(required=False, default="text")
    reply_to = serializers.UUIDField(required=False, allow_null=True)
    client_id = serializers.CharField(required=False, allow_null=True, max_length=services.CLIENT_ID_MAX)
    attachment_ids = serializers.ListField(child=serializers.UUIDField(), required=False, default=list, max_length=10)


class MessageEditIn(serializers.Serializer):
    content = serializers.CharField(allow_blank=True, trim_whitespace=False)


class EmojiIn(serializers.Serializer):
    emoji = serializers.CharField(max_length=services.EMOJI_MAX)


class ReadIn(serializers.Serializer):
    message_id = serializers.UUIDField()


class TransferIn(serializers.Serializer):
    user_id = serializers.UUIDField()


class SearchIn(serializers.Serializer):
    q = serializers.CharField(max_length=200)
    room_id = serializers.UUIDField(required=False)
    user_id = serializers.UUIDField(required=False)
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)
    cursor = serializers.CharField(required=False)
    limit = serializers.IntegerField(required=False, default=20, min_value=1, max_value=selectors.SEARCH_MAX_LIMIT)


OBJ = OpenApiTypes.OBJECT


# --------------------------------------------------------------------------- rooms


class RoomsView(APIView):
    required_scopes = RW

    @extend_schema(operation_id="v1_rooms_list",
                   parameters=[OpenApiParameter("scope", str, enum=["mine", "public"]), OpenApiParameter("q", str),
                               OpenApiParameter("cursor", str), OpenApiParameter("limit", int)], responses=OBJ)
    def get(self, request):
        qs = selectors.rooms_list(user=request.user, scope=request.query_params.get("scope", "mine"),
                                  q=request.query_params.get("q", ""))
        return _paginate(self, request, qs, ("-created_at", "-id"), room_dict)

    @extend_schema(request=RoomCreateIn, responses={201: OBJ})
    def post(self, request):
        data = _validated(RoomCreateIn, request.data)
        room = services.room_create(
            owner=request.user, name=data["name"], description=data["description"], is_private=data["is_private"],
            password=data.get("password") or None, org=Organization(pk=data["org_id"]) if data.get("org_id") else None,
            max_members=data["max_members"],
            allow_invites=data["allow_invites"], require_approval=data["require_approval"],
        )
        return Response(room_dict(room, selectors.member_of(room, request.user)), status=201)


class RoomDetailView(APIView):
    required_scopes = RW

    @extend_schema(responses=OBJ)
    def get(self, request, room_id):
        room = selectors.room_get(user=request.user, room_id=room_id)
        return Response(room_dict(room, selectors.member_of(room, request.user)))

    @extend_schema(request=RoomUpdateIn, responses=OBJ)
    def patch(self, request, room_id):
        room = selectors.room_get(user=request.user, room_id=room_id)
        data = _validated(RoomUpdateIn, request.data)
        if "settings" in data:
            data["settings_"] = data.pop("settings")
        room = services.room_update(actor=request.user, room=room, **data)
        return Response(room_dict(room, selectors.member_of(room, request.user)))

    @extend_schema(responses={204: None})
    def delete(self, request, room_id):
        room = selectors.room_get(user=request.user, room_id=room_id)
        services.room_delete(actor=request.user, room=room)
        return Response(status=204)


class RoomJoinView(APIView):
    required_scopes = RW

    @extend_schema(request=JoinIn, responses={200: OBJ, 202: OBJ})
    def post(self, request, room_id):
        room = selectors.room_get(user=request.user, room_id=room_id)
        data = _validated(JoinIn, request.data)
        member, join_request = services.room_join(user=request.user, room=room, password=data.get("password") or None,
                                                  invite_code=data.get("invite_code") or None)
        if join_request is not None:
            return Response({"status": "pending", "request": join_request_dict(join_request)}, status=202)
        return Response({"member": member_dict(member)})


class RoomLeaveView(APIView):
    required_scopes = RW

    @extend_schema(request=None, responses={204: None})
    def post(self, request, room_id):
        room = selectors.room_get(user=request.user, room_id=room_id)
        services.room_leave(user=request.user, room=room)
        return Response(status=204)


class RoomTransferView(APIView):
    """Addition to api.md: the owner hands the room to another member."""

    required_scopes = RW

    @extend_schema(request=TransferIn, responses=OBJ)
    def post(self, request, room_id):
        room = selectors.room_get(user=request.user, room_id=room_id)
        data = _validated(TransferIn, request.data)
        room = services.room_transfer_ownership(actor=request.user, room=room, new_owner=_user(data["user_id"]))
        return Response(room_dict(room, selectors.member_of(room, request.user)))


class MembersView(APIView):
    required_scopes = RW

    @extend_schema(parameters=[OpenApiParameter("cursor", str), OpenApiParameter("limit", int)], responses=OBJ)
    def get(self, request, room_id):
        room = selectors.room_get(user=request.user, room_id=room_id)
        qs = selectors.room_members(user=request.user, room=room)

        def render(page):
            # Presence for the page in one Redis read (addition to api.md: status).
            statuses = presence.status_of([m.user_id for m in page])
            return [{**member_dict(m), "status": statuses.get(str(m.user_id), presence.OFFLINE)} for m in page]

        return _paginate(self, request, qs, ("joined_at", "id"), render_page=render)


class MemberDetailView(APIView):
    required_scopes = RW

    @extend_schema(request=MemberUpdateIn, responses=OBJ)
    def patch(self, request, room_id, user_id):
        room = selectors.room_get(user=request.user, room_id=room_id)
        data = _validated(MemberUpdateIn, request.data)
        member = services.member_update(actor=request.user, room=room, user=_user(user_id), **data)
        return Response(member_dict(member))

    @extend_schema(responses={204: None})
    def delete(self, request, room_id, user_id):
        room = selectors.room_get(user=request.user, room_id=room_id)
        services.member_kick(actor=request.user, room=room, user=_user(user_id))
        return Response(status=204)


class JoinRequestsView(APIView):
    required_scopes = RW

    @extend_schema(parameters=[OpenApiParameter("cursor", str), OpenApiParameter("limit", int)], responses=OBJ)
    def get(self, request, room_id):
        room = selectors.room_get(user=request.user, room_id=room_id)
        qs = selectors.join_requests(user=request.user, room=room)
        return _paginate(self, request, qs, ("created_at", "id"), join_request_dict)


class JoinRequestDecideView(APIView):
    required_scopes = RW
    approve = True

    @extend_schema(request=None, responses=OBJ)
    def post(self, request, room_id, request_id):
        room = selectors.room_get(user=request.user, room_id=room_id)
        join_request = JoinRequest.objects.filter(
            id=parse_uuid(request_id, "request_id"), room=room).first()
        if join_request is None:
            raise NotFound("No such join request.")
        join_request = services.join_request_decide(actor=request.user, request=join_request, approve=self.approve)
        return Response(join_request_dict(join_request))


class InvitesView(APIView):
    required_scopes = RW

    @extend_schema(request=InviteIn, responses={201: OBJ})
    def post(self, request, room_id):
        room = selectors.room_get(user=request.user, room_id=room_id)
        data = _validated(InviteIn, request.data)
        if data.get("user_id"):
            invite = services.invite_user(actor=request.user, room=room, user=_user(data["user_id"]),
                                          max_age_seconds=data["max_age_seconds"])
        else:
            invite = services.invite_create(actor=request.user, room=room, max_uses=data["max_uses"],
                                            max_age_seconds=data["max_age_seconds"])
        return Response(invite_dict(invite), status=201)


class InviteAcceptView(APIView):
    required_scopes = RW

    @extend_schema(request=None, responses=OBJ)
    def post(self, request, code):
        member = services.invite_accept(user=request.user, code=code)
        return Response({"member": member_dict(member), "room_id": str(member.room_id)})


# --------------------------------------------------------------------------- messages


class MessagesView(APIView):
    required_scopes = RW

    @extend_schema(parameters=[OpenApiParameter("before", str), OpenApiParameter("after", str),
                               OpenApiParameter("around", OpenApiTypes.UUID), OpenApiParameter("limit", int)],
                   responses=OBJ)
    def get(self, request, room_id):
        room = selectors.room_get(user=request.user, room_id=room_id)
        params = request.query_params
        try:
            limit = int(params.get("limit", 50))
        except ValueError:
            raise ValidationFailed(fields={"limit": ["A whole number."]}) from None
        page = selectors.room_messages(user=request.user, room=room, before=params.get("before"),
                                       after=params.get("after"), around=params.get("around"), limit=limit)
        return Response(page.as_dict())

    @extend_schema(request=MessageIn, responses={200: OBJ, 201: OBJ})
    def post(self, request, room_id):
        room = selectors.room_get(user=request.user, room_id=room_id)
        data = _validated(MessageIn, request.data)
        message = services.message_post(actor=request.user, room=room, content=data["content"],
                                        message_type=data["message_type"], reply_to=data.get("reply_to"),
                                        client_id=data.get("client_id"), attachment_ids=data["attachment_ids"])
        return Response(getattr(message, "body", None) or message_dicts([message], request.user)[0],
                        status=200 if getattr(message, "deduplicated", False) else 201)


class PinnedView(APIView):
    """Addition to api.md: a room's pinned messages, newest first."""

    required_scopes = RW

    @extend_schema(responses=OBJ)
    def get(self, request, room_id):
        room = selectors.room_get(user=request.user, room_id=room_id)
        return Response({"results": message_dicts(selectors.pinned_messages(user=request.user, room=room), request.user)})


class MessageDetailView(APIView):
    required_scopes = RW

    @extend_schema(responses=OBJ)
    def get(self, request, message_id):
        message, _ = selectors.message_get(user=request.user, message_id=message_id)
        return Response(message_dicts([message], request.user)[0])

    @extend_schema(request=MessageEditIn, responses=OBJ)
    def patch(self, request, message_id):
        data = _validated(MessageEditIn, request.data)
        message = services.message_edit(actor=request.user, message_id=message_id, content=data["content"])
        return Response(message_dicts([message], request.user)[0])

    @extend_schema(responses={204: None})
    def delete(self, request, message_id):
        services.message_delete(actor=request.user, message_id=message_id)
        return Response(status=204)


class MessageHistoryView(APIView):
    required_scopes = RW

    @extend_schema(responses=OBJ)
    def get(self, request, message_id):
        return Response({"results": selectors.message_history(user=request.user, message_id=message_id)})


class ReactionsView(APIView):
    required_scopes = RW

    @extend_schema(request=EmojiIn, responses=OBJ)
    def post(self, request, message_id):
        data = _validated(EmojiIn, request.data)
        message = services.reaction_add(actor=request.user, message_id=message_id, emoji=data["emoji"])
        return Response(message_dicts([message], request.user)[0])


class ReactionDetailView(APIView):
    required_scopes = RW

    @extend_schema(responses={200: OBJ})  # the updated message, as POST answers
    def delete(self, request, message_id, emoji):
        message = services.reaction_remove(actor=request.user, message_id=message_id, emoji=emoji)
        return Response(message_dicts([message], request.user)[0])


class PinView(APIView):
    required_scopes = RW

    @extend_schema(request=None, responses=OBJ)
    def post(self, request, message_id):
        message = services.message_pin(actor=request.user, message_id=message_id, pinned=True)
        return Response(message_dicts([message], request.user)[0])

    @extend_schema(responses={200: OBJ})  # the updated message, as POST answers
    def delete(self, request, message_id):
        message = services.message_pin(actor=request.user, message_id=message_id, pinned=False)
        return Response(message_dicts([message], request.user)[0])


class ReadView(APIView):
    required_scopes = RW

    @extend_schema(request=ReadIn, responses=OBJ)
    def post(self, request, room_id):
        room = selectors.room_get(user=request.user, room_id=room_id)
        data = _validated(ReadIn, request.data)
        member = services.read_mark(actor=request.user, room=room, message_id=data["message_id"])
        return Response({"room_id": str(room.id), "message_id": str(member.last_read_message_id)})


class UnreadView(APIView):
    required_scopes = {"GET": READ}

    @extend_schema(responses=inline_serializer("Unread", fields={
        "total": serializers.IntegerField(),
        "rooms": inline_serializer("UnreadRoom", fields={
            "room_id": serializers.UUIDField(), "unread": serializers.IntegerField(),
            "mentions": serializers.IntegerField()}, many=True)}))
    def get(self, request):
        return Response(selectors.unread_counts(user=request.user))


class SearchView(APIView):
    required_scopes = {"GET": READ}

    @extend_schema(parameters=[SearchIn], responses=OBJ)
    def get(self, request):
        data = _validated(SearchIn, request.query_params)
        return Response(selectors.search_messages(user=request.user, **data))


class UploadView(APIView):
    required_scopes = {"POST": WRITE}
    parser_classes = [MultiPartParser]

    @extend_schema(request={"multipart/form-data": inline_serializer("Upload", fields={"file": serializers.FileField()})},
                   responses={201: OBJ})
    def post(self, request):
        upload = request.FILES.get("file")
        if upload is None:
            raise ValidationFailed(fields={"file": ["Attach a file in the multipart field `file`."]})
        attachment = services.attachment_upload(actor=request.user, file=upload)
        return Response(attachment_dict(attachment), status=201)


class _AnyAccept(BaseContentNegotiation):
    """A download answers with the file's own type whatever the client's
    Accept says; its errors are the contract's JSON (the only renderer)."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class AttachmentView(APIView):
    """Addition to api.md: an attachment's content for clients that sign in
    with a token or an API key (the pages use the same file's ``url``). The
    same access rule as the page download (chatroom.selectors.attachment_for_download):
    404 not_found for a missing file, someone else's upload, a room the
    caller is not a member of, or a deleted message."""

    required_scopes = {"GET": READ}
    content_negotiation_class = _AnyAccept

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, 404: OBJ})
    def get(self, request, attachment_id):
        return attachment_response(selectors.attachment_for_download(user=request.user, attachment_id=attachment_id))
