"""The "Attention" API of chat (api.md, "v1 additions"): read receipts and
send later. Thin, as chatroom.api: validate, call one selector or service,
render."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from chatroom import receipts, scheduled_selectors
from chatroom.api import READ, RW
from chatroom.scheduled_presenters import scheduled_dict
from accounts.serializers import UserRefSerializer
from chatroom.services import scheduled_messages
from config.api import paginate
from config.serializers import PAGE_PARAMETERS, Presented, page_of, validated
from core.changes import UNSET

Status = scheduled_selectors.Status

# ---------------------------------------------------------------- shapes


class ReceiptSerializer(serializers.Serializer):
    user = UserRefSerializer()
    read_at = serializers.DateTimeField(help_text="When the reader's read cursor last moved past the message.")


class ReceiptsSerializer(serializers.Serializer):
    """Who has read a message: never the caller, nor its author, nor anyone
    who switched ``send_read_receipts`` off."""

    count = serializers.IntegerField()
    read_by = ReceiptSerializer(many=True)


class ScheduledMessageSerializer(Presented):
    """A message to be posted at ``send_at`` (api.md, "Attention")."""

    id = serializers.UUIDField()
    room_id = serializers.UUIDField()
    thread_id = serializers.UUIDField(allow_null=True)
    content = serializers.CharField()
    send_at = serializers.DateTimeField()
    status = serializers.ChoiceField(choices=Status.choices)
    message_id = serializers.UUIDField(allow_null=True, help_text="The posted message, once sent.")
    error = serializers.CharField(allow_null=True, help_text="Why it was not sent, once failed.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def present(self, scheduled):
        return scheduled_dict(scheduled)


class ScheduledCreateInput(serializers.Serializer):
    room_id = serializers.UUIDField()
    content = serializers.CharField(trim_whitespace=False, allow_blank=True)
    thread_id = serializers.UUIDField(required=False, allow_null=True, help_text="Post it as a reply in this thread.")
    send_at = serializers.DateTimeField(help_text="In the future, at most a year ahead.")


class ScheduledUpdateInput(serializers.Serializer):
    content = serializers.CharField(required=False, trim_whitespace=False, allow_blank=True)
    send_at = serializers.DateTimeField(required=False)


class ScheduledListInput(serializers.Serializer):
    status = serializers.ChoiceField(choices=Status.choices, required=False, help_text="Only those in this status.")


# ---------------------------------------------------------------- views


class ReceiptsView(APIView):
    required_scopes = {"GET": READ}

    @extend_schema(operation_id="v1_messages_receipts", responses=ReceiptsSerializer)
    def get(self, request, message_id):
        found = receipts.message_receipts(user=request.user, message_id=message_id)
        return Response(ReceiptsSerializer(found).data)


class ScheduledMessagesView(APIView):
    required_scopes = RW

    @extend_schema(operation_id="v1_scheduled_messages_list", parameters=[ScheduledListInput, *PAGE_PARAMETERS],
                   responses=page_of(ScheduledMessageSerializer))
    def get(self, request):
        status = validated(ScheduledListInput, request.query_params).get("status")
        return paginate(self, request, scheduled_selectors.scheduled_list(user=request.user, status=status),
                        ScheduledMessageSerializer, ordering=("send_at", "id"))

    @extend_schema(operation_id="v1_scheduled_messages_create", request=ScheduledCreateInput,
                   responses={201: ScheduledMessageSerializer})
    def post(self, request):
        data = validated(ScheduledCreateInput, request.data)
        scheduled = scheduled_messages.scheduled_create(
            actor=request.user, room_id=data["room_id"], content=data["content"], send_at=data["send_at"],
            thread_id=data.get("thread_id"))
        return Response(ScheduledMessageSerializer(scheduled).data, status=201)


class ScheduledMessageView(APIView):
    required_scopes = RW

    @extend_schema(operation_id="v1_scheduled_messages_get", responses=ScheduledMessageSerializer)
    def get(self, request, scheduled_id):
        scheduled = scheduled_selectors.scheduled_get(user=request.user, scheduled_id=scheduled_id)
        return Response(ScheduledMessageSerializer(scheduled).data)

    @extend_schema(operation_id="v1_scheduled_messages_update", request=ScheduledUpdateInput,
                   responses=ScheduledMessageSerializer)
    def patch(self, request, scheduled_id):
        data = validated(ScheduledUpdateInput, request.data)
        scheduled = scheduled_messages.scheduled_update(
            actor=request.user, scheduled_id=scheduled_id, content=data.get("content", UNSET),
            send_at=data.get("send_at", UNSET))
        return Response(ScheduledMessageSerializer(scheduled).data)

    @extend_schema(operation_id="v1_scheduled_messages_cancel", responses={204: None})
    def delete(self, request, scheduled_id):
        scheduled_messages.scheduled_cancel(actor=request.user, scheduled_id=scheduled_id)
        return Response(status=204)
