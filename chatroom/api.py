"""The chat JSON API (api.md, "Rooms and messages"). Thin: validate input,
call one selector or service, render. API keys need ``chat:read`` for reads
and ``chat:write`` for writes (accounts.permissions.HasRequiredScopes)."""

from __future__ import annotations

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from chatroom import selectors, services
from chatroom import serializers as s
from chatroom.models import JoinRequest
from chatroom.presenters import attachment_response
from config.api import paginate
from config.serializers import PAGE_PARAMETERS, page_of, validated
from core.errors import NotFound, ValidationFailed, parse_uuid
from core.replicas import lag_tolerant
from orgs.models import Organization

READ = "chat:read"
WRITE = "chat:write"
RW = {"GET": READ, "POST": WRITE, "PATCH": WRITE, "PUT": WRITE, "DELETE": WRITE}


def _user(user_id) -> User:
    user = User.objects.filter(id=parse_uuid(user_id, "user_id")).first()
    if user is None:
        raise NotFound(_("No such user."))
    return user


def _room(request, room):
    """A room with the caller's own membership."""
    return s.RoomSerializer(room, context={"member": selectors.member_of(room, request.user),
                                           "viewer": request.user}).data


def _message(request, message):
    return s.MessageSerializer(message, context={"viewer": request.user}).data


# --------------------------------------------------------------------------- rooms


class RoomsView(APIView):
    required_scopes = RW

    @extend_schema(operation_id="v1_rooms_list", parameters=[s.RoomListInput, *PAGE_PARAMETERS],
                   responses=page_of(s.RoomSerializer))
    @lag_tolerant
    def get(self, request):
        qs = selectors.rooms_list(user=request.user, **validated(s.RoomListInput, request.query_params))
        return paginate(self, request, qs, s.RoomSerializer, context={"viewer": request.user})

    @extend_schema(request=s.RoomCreateInput, responses={201: s.RoomSerializer})
    def post(self, request):
        data = validated(s.RoomCreateInput, request.data)
        room = services.room_create(
            owner=request.user, name=data["name"], description=data["description"], is_private=data["is_private"],
            password=data.get("password") or None, org=Organization(pk=data["org_id"]) if data.get("org_id") else None,
            max_members=data["max_members"],
            allow_invites=data["allow_invites"], require_approval=data["require_approval"],
        )
        return Response(_room(request, room), status=201)


class RoomDetailView(APIView):
    required_scopes = RW

    @extend_schema(responses=s.RoomSerializer)
    def get(self, request, room_id):
        room = selectors.room_get(user=request.user, room_id=room_id)
        return Response(_room(request, room))

    @extend_schema(request=s.RoomUpdateInput, responses=s.RoomSerializer)
    def patch(self, request, room_id):
        room = selectors.room_get(user=request.user, room_id=room_id)
        data = validated(s.RoomUpdateInput, request.data)
        if "settings" in data:
            data["settings_"] = data.pop("settings")
        room = services.room_update(actor=request.user, room=room, **data)
        return Response(_room(request, room))

    @extend_schema(responses={204: None})
    def delete(self, request, room_id):
        room = selectors.room_get(user=request.user, room_id=room_id)
        services.room_delete(actor=request.user, room=room)
        return Response(status=204)


class RoomJoinView(APIView):
    required_scopes = RW

    @extend_schema(request=s.JoinInput, responses={200: s.JoinedSerializer, 202: s.JoinPendingSerializer})
    def post(self, request, room_id):
        room = selectors.room_get(user=request.user, room_id=room_id)
        data = validated(s.JoinInput, request.data)
        member, join_request = services.room_join(user=request.user, room=room, password=data.get("password") or None,
                                                  invite_code=data.get("invite_code") or None)
        if join_request is not None:
            return Response(s.JoinPendingSerializer({"status": "pending", "request": join_request}).data, status=202)
        return Response(s.JoinedSerializer({"member": member}).data)


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

    @extend_schema(request=s.RoomTransferInput, responses=s.RoomSerializer)
    def post(self, request, room_id):
        room = selectors.room_get(user=request.user, room_id=room_id)
        data = validated(s.RoomTransferInput, request.data)
        room = services.room_transfer_ownership(actor=request.user, room=room, new_owner=_user(data["user_id"]))
        return Response(_room(request, room))


class MembersView(APIView):
    required_scopes = RW

    @extend_schema(parameters=PAGE_PARAMETERS, responses=page_of(s.RoomMemberStatusSerializer))
    @lag_tolerant
    def get(self, request, room_id):
        room = selectors.room_get(user=request.user, room_id=room_id)
        qs = selectors.room_members(user=request.user, room=room)
        return paginate(self, request, qs, s.RoomMemberStatusSerializer, ordering=("joined_at", "id"))


class MemberDetailView(APIView):
    required_scopes = RW

    @extend_schema(request=s.RoomMemberUpdateInput, responses=s.RoomMemberSerializer)
    def patch(self, request, room_id, user_id):
        room = selectors.room_get(user=request.user, room_id=room_id)
        data = validated(s.RoomMemberUpdateInput, request.data)
        member = services.member_update(actor=request.user, room=room, user=_user(user_id), **data)
        return Response(s.RoomMemberSerializer(member).data)

    @extend_schema(responses={204: None})
    def delete(self, request, room_id, user_id):
        room = selectors.room_get(user=request.user, room_id=room_id)
        services.member_kick(actor=request.user, room=room, user=_user(user_id))
        return Response(status=204)


class JoinRequestsView(APIView):
    required_scopes = RW

    @extend_schema(parameters=PAGE_PARAMETERS, responses=page_of(s.JoinRequestSerializer))
    def get(self, request, room_id):
        room = selectors.room_get(user=request.user, room_id=room_id)
        qs = selectors.join_requests(user=request.user, room=room)
        return paginate(self, request, qs, s.JoinRequestSerializer, ordering=("created_at", "id"))


class JoinRequestDecideView(APIView):
    required_scopes = RW
    approve = True

    @extend_schema(request=None, responses=s.JoinRequestSerializer)
    def post(self, request, room_id, request_id):
        room = selectors.room_get(user=request.user, room_id=room_id)
        join_request = JoinRequest.objects.filter(
            id=parse_uuid(request_id, "request_id"), room=room).first()
        if join_request is None:
            raise NotFound(_("No such join request."))
        join_request = services.join_request_decide(actor=request.user, request=join_request, approve=self.approve)
        return Response(s.JoinRequestSerializer(join_request).data)


class InvitesView(APIView):
    required_scopes = RW

    @extend_schema(request=s.InviteInput, responses={201: s.InviteSerializer})
    def post(self, request, room_id):
        room = selectors.room_get(user=request.user, room_id=room_id)
        data = validated(s.InviteInput, request.data)
        if data.get("user_id"):
            invite = services.invite_user(actor=request.user, room=room, user=_user(data["user_id"]),
                                          max_age_seconds=data["max_age_seconds"])
        else:
            invite = services.invite_create(actor=request.user, room=room, max_uses=data["max_uses"],
                                            max_age_seconds=data["max_age_seconds"])
        return Response(s.InviteSerializer(invite).data, status=201)


class InviteAcceptView(APIView):
    required_scopes = RW

    @extend_schema(request=None, responses=s.InviteAcceptedSerializer)
    def post(self, request, code):
        member = services.invite_accept(user=request.user, code=code)
        return Response(s.InviteAcceptedSerializer({"member": member, "room_id": member.room_id}).data)


# --------------------------------------------------------------------------- messages


class MessagesView(APIView):
    required_scopes = RW

    @extend_schema(parameters=[s.HistoryInput, OpenApiParameter("around", OpenApiTypes.UUID)],
                   responses=s.MessagePageSerializer)
    @lag_tolerant
    def get(self, request, room_id):
        room = selectors.room_get(user=request.user, room_id=room_id)
        page = selectors.room_messages(user=request.user, room=room, **validated(s.HistoryInput, request.query_params))
        return Response(s.MessagePageSerializer(page).data)

    @extend_schema(request=s.MessageInput, responses={200: s.MessageSerializer, 201: s.MessageSerializer},
                   description="201 with the new message; 200 with the earlier one when its `client_id` repeats.")
    def post(self, request, room_id):
        room = selectors.room_get(user=request.user, room_id=room_id)
        data = validated(s.MessageInput, request.data)
        message = services.message_post(actor=request.user, room=room, content=data["content"],
                                        message_type=data["message_type"], reply_to=data.get("reply_to"),
                                        client_id=data.get("client_id"), attachment_ids=data["attachment_ids"],
                                        thread_id=data.get("thread_id"), also_to_room=data["also_to_room"])
        return Response(_message(request, message), status=200 if getattr(message, "deduplicated", False) else 201)


class PinnedView(APIView):
    """Addition to api.md: a room's pinned messages, newest first."""

    required_scopes = RW

    @extend_schema(responses=s.MessageListSerializer)
    @lag_tolerant
    def get(self, request, room_id):
        room = selectors.room_get(user=request.user, room_id=room_id)
        pinned = selectors.pinned_messages(user=request.user, room=room)
        return Response(s.MessageListSerializer({"results": pinned}, context={"viewer": request.user}).data)


class MessageDetailView(APIView):
    required_scopes = RW

    @extend_schema(responses=s.MessageSerializer)
    def get(self, request, message_id):
        message, _member = selectors.message_get(user=request.user, message_id=message_id)
        return Response(_message(request, message))

    @extend_schema(request=s.MessageEditInput, responses=s.MessageSerializer)
    def patch(self, request, message_id):
        data = validated(s.MessageEditInput, request.data)
        message = services.message_edit(actor=request.user, message_id=message_id, content=data["content"])
        return Response(_message(request, message))

    @extend_schema(responses={204: None})
    def delete(self, request, message_id):
        services.message_delete(actor=request.user, message_id=message_id)
        return Response(status=204)


class MessageHistoryView(APIView):
    required_scopes = RW

    @extend_schema(responses=s.MessageHistorySerializer)
    @lag_tolerant
    def get(self, request, message_id):
        versions = selectors.message_history(user=request.user, message_id=message_id)
        return Response(s.MessageHistorySerializer({"results": versions}).data)


class ReactionsView(APIView):
    required_scopes = RW

    @extend_schema(request=s.EmojiInput, responses=s.MessageSerializer)
    def post(self, request, message_id):
        data = validated(s.EmojiInput, request.data)
        message = services.reaction_add(actor=request.user, message_id=message_id, emoji=data["emoji"])
        return Response(_message(request, message))


class ReactionDetailView(APIView):
    required_scopes = RW

    @extend_schema(responses={200: s.MessageSerializer})  # the updated message, as POST answers
    def delete(self, request, message_id, emoji):
        message = services.reaction_remove(actor=request.user, message_id=message_id, emoji=emoji)
        return Response(_message(request, message))


class PinView(APIView):
    required_scopes = RW

    @extend_schema(request=None, responses=s.MessageSerializer)
    def post(self, request, message_id):
        message = services.message_pin(actor=request.user, message_id=message_id, pinned=True)
        return Response(_message(request, message))

    @extend_schema(responses={200: s.MessageSerializer})  # the updated message, as POST answers
    def delete(self, request, message_id):
        message = services.message_pin(actor=request.user, message_id=message_id, pinned=False)
        return Response(_message(request, message))


class ReadView(APIView):
    required_scopes = RW

    @extend_schema(request=s.ReadInput, responses=s.ReadMarkSerializer)
    def post(self, request, room_id):
        room = selectors.room_get(user=request.user, room_id=room_id)
        data = validated(s.ReadInput, request.data)
        member = services.read_mark(actor=request.user, room=room, message_id=data["message_id"])
        return Response(s.ReadMarkSerializer(member).data)


class UnreadView(APIView):
    required_scopes = {"GET": READ}

    @extend_schema(responses=s.UnreadSerializer)
    def get(self, request):
        return Response(s.UnreadSerializer(selectors.unread_counts(user=request.user)).data)


class SearchView(APIView):
    required_scopes = {"GET": READ}

    @extend_schema(parameters=[s.SearchInput], responses=s.SearchPageSerializer)
    @lag_tolerant
    def get(self, request):
        data = validated(s.SearchInput, request.query_params)
        return Response(s.SearchPageSerializer(selectors.search_messages(user=request.user, **data)).data)


class UploadView(APIView):
    required_scopes = {"POST": WRITE}
    parser_classes = [MultiPartParser]

    @extend_schema(request={"multipart/form-data": s.UploadInput}, responses={201: s.AttachmentSerializer})
    def post(self, request):
        data = validated(s.UploadInput, request.data)
        attachment = services.attachment_upload(actor=request.user, file=data["file"])
        return Response(s.AttachmentSerializer(attachment).data, status=201)


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

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request, attachment_id):
        return attachment_response(selectors.attachment_for_download(user=request.user, attachment_id=attachment_id))


# --------------------------------------------------------------------------- direct messages and blocks


class DmsView(APIView):
    """api.md v1 additions, "Conversations": open a DM or group DM."""

    required_scopes = RW

    @extend_schema(request=s.DmOpenInput, responses={201: s.DmRoomSerializer, 200: s.DmRoomSerializer})
    def post(self, request):
        data = validated(s.DmOpenInput, request.data)
        room, created = services.dm_open(actor=request.user, user_ids=[str(u) for u in data["user_ids"]])
        return Response({"room": _room(request, room)}, status=201 if created else 200)


class BlocksView(APIView):
    required_scopes = RW

    @extend_schema(parameters=PAGE_PARAMETERS, responses=page_of(s.BlockSerializer))
    def get(self, request):
        qs = selectors.blocks(user=request.user)
        return paginate(self, request, qs, s.BlockSerializer, ordering=("-created_at", "-id"))

    @extend_schema(request=s.BlockInput, responses={201: s.BlockSerializer})
    def post(self, request):
        data = validated(s.BlockInput, request.data)
        target = User.objects.filter(id=data["user_id"]).first()
        if target is None:  # a field of the body, not the path: bad input, not a missing object
            raise ValidationFailed(fields={"user_id": [gettext("No such user.")]})
        block = services.block_add(actor=request.user, user=target)
        return Response(s.BlockSerializer(block).data, status=201)


class BlockDetailView(APIView):
    required_scopes = RW

    @extend_schema(responses={204: None})
    def delete(self, request, user_id):
        services.block_remove(actor=request.user, user=_user(user_id))
        return Response(status=204)
