"""GET/PUT /api/v1/me/dnd (issue 18): the caller's do-not-disturb state, and
setting it (accounts.dnd). Others see it as ``dnd`` on room members and in
the ``dnd`` frame."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import dnd
from config.serializers import validated


class DndScheduleSerializer(serializers.Serializer):
    start = serializers.CharField(help_text="HH:MM in the user's time zone.")
    end = serializers.CharField(help_text="HH:MM; before start means the next morning.")


class DndStateSerializer(serializers.Serializer):
    active = serializers.BooleanField()
    ends_at = serializers.DateTimeField(allow_null=True, help_text="When the current DND ends; null when off.")
    until = serializers.DateTimeField(allow_null=True)
    schedule = DndScheduleSerializer(allow_null=True)


class DndInput(serializers.Serializer):
    until = serializers.CharField(required=False, allow_null=True, allow_blank=True,
                                  help_text="DND until this time (ISO 8601), null to end it.")
    schedule = DndScheduleSerializer(required=False, allow_null=True,
                                     help_text='Daily quiet hours, {"start": "22:00", "end": "08:00"}; null for none.')


class DndView(APIView):
    required_scopes = {"GET": ()}

    @extend_schema(operation_id="me_dnd_get", responses=DndStateSerializer)
    def get(self, request):
        return Response(dnd.state_of(request.user))

    @extend_schema(operation_id="me_dnd_set", request=DndInput, responses=DndStateSerializer)
    def put(self, request):
        return Response(dnd.dnd_set(actor=request.user, **validated(DndInput, request.data)))
