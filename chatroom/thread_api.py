"""The threads API (api.md, "v1 additions", "Conversations"): a thread's
replies, the threads the caller follows, following and reading one. Thin,
as chatroom.api: validate, call one selector or service, render. Replies
are posted with POST /rooms/{room_id}/messages/ and ``thread_id``."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from chatroom import services, thread_selectors
from chatroom.api import READ, RW, WRITE
from chatroom.serializers import MessageSerializer, ReadInput, _query_text
from config.serializers import Presented, QueryFlag, validated

# ---------------------------------------------------------------- shapes


class ThreadPageInput(serializers.Serializer):
    before = _query_text("A cursor: the replies before it.")
    after = _query_text("A cursor: the replies after it.")
    limit = serializers.IntegerField(required=False, default=50, error_messages={"invalid": _("A whole number.")})


class ThreadPageSerializer(Presented):
    """A page of a thread's replies, oldest first, with its root (shown as
    removed once deleted: the thread stays readable)."""

    root = MessageSerializer()
    results = MessageSerializer(many=True)
    prev = serializers.CharField(allow_null=True, help_text="The cursor for older replies (`before=`), or null.")
    next = serializers.CharField(allow_null=True, help_text="The cursor for newer replies (`after=`), or null.")

    def present(self, page):
        return page.as_dict()


class ThreadRoomSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    kind = serializers.CharField(help_text="channel, dm or group_dm (the room object's `kind`).")
    name = serializers.CharField(allow_blank=True, help_text="Empty for a DM.")


class FollowedThreadSerializer(serializers.Serializer):
    """A thread the caller follows, with its unread replies and mentions."""

    root = MessageSerializer()
    room = ThreadRoomSerializer(help_text="Addition to api.md: the thread's room.")
    reply_count = serializers.IntegerField()
    last_reply_at = serializers.DateTimeField(allow_null=True)
    participants = serializers.ListField(child=serializers.UUIDField())
    unread = serializers.IntegerField()
    mentions = serializers.IntegerField()


class FollowedThreadPageSerializer(serializers.Serializer):
    results = FollowedThreadSerializer(many=True)
    next = serializers.CharField(allow_null=True, help_text="The cursor of the next page, or null.")


class ThreadListInput(serializers.Serializer):
    unread = QueryFlag(help_text="1: only threads with unread replies.")
    cursor = _query_text("The `next` of the previous page.")
    limit = serializers.IntegerField(required=False, default=50, error_messages={"invalid": _("A whole number.")})


# ---------------------------------------------------------------- views


class ThreadView(APIView):
    required_scopes = {"GET": READ}

    @extend_schema(operation_id="v1_messages_thread", parameters=[ThreadPageInput],
                   responses=ThreadPageSerializer)
    def get(self, request, message_id):
        data = validated(ThreadPageInput, request.query_params)
        page = thread_selectors.thread_messages(user=request.user, root_id=message_id,
                                                before=data.get("before") or None, after=data.get("after") or None,
                                                limit=data["limit"])
        return Response(ThreadPageSerializer(page).data)


class ThreadsView(APIView):
    required_scopes = {"GET": READ}

    @extend_schema(operation_id="v1_threads_list", parameters=[ThreadListInput],
                   responses=FollowedThreadPageSerializer)
    def get(self, request):
        data = validated(ThreadListInput, request.query_params)
        found = thread_selectors.threads_list(user=request.user, unread_only=data["unread"],
                                              cursor=data.get("cursor") or None, limit=data["limit"])
        return Response(FollowedThreadPageSerializer(found).data)


class ThreadFollowView(APIView):
    required_scopes = {"POST": WRITE, "DELETE": WRITE}

    @extend_schema(operation_id="v1_messages_follow", request=None, responses={204: None})
    def post(self, request, message_id):
        services.thread_follow(actor=request.user, root_id=message_id)
        return Response(status=204)

    @extend_schema(operation_id="v1_messages_unfollow", responses={204: None})
    def delete(self, request, message_id):
        services.thread_unfollow(actor=request.user, root_id=message_id)
        return Response(status=204)


class ThreadReadView(APIView):
    required_scopes = RW

    @extend_schema(operation_id="v1_threads_read", request=ReadInput, responses={204: None})
    def post(self, request, root_id):
        data = validated(ReadInput, request.data)
        services.thread_read_mark(actor=request.user, root_id=root_id, message_id=data["message_id"])
        return Response(status=204)
