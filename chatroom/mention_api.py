"""GET /api/v1/rooms/{room_id}/mentionables/ (issue 18): what the composer's
@-autocomplete offers in a room: its members (by username) and the groups
(@all, @here, department handles), filtered by ``q``, a prefix. Groups say
whether the caller may use them here (``allowed``: @all and @here need room
admin in rooms over GROUP_MENTION_FREE_MEMBERS members)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.serializers import UserRefSerializer
from chatroom import selectors
from chatroom.api import READ
from chatroom.presenters import user_dict
from chatroom.serializers import _query_text
from chatroom.services import group_mentions
from config.serializers import validated

USERS_MAX = 20


class MentionablesInput(serializers.Serializer):
    q = _query_text("A prefix of a username or handle, without the @.")


class MentionableSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["user", "group", "department"])
    handle = serializers.CharField(help_text="What follows the @.")
    name = serializers.CharField()
    user = UserRefSerializer(required=False, help_text="Only for kind user.")
    members = serializers.IntegerField(required=False, help_text="Groups: how many members of the room it reaches.")
    allowed = serializers.BooleanField(required=False, help_text="Groups: whether the caller may use it here.")
    org_id = serializers.UUIDField(required=False, help_text="Departments: its organization.")


class MentionablesSerializer(serializers.Serializer):
    results = MentionableSerializer(many=True)


class MentionablesView(APIView):
    required_scopes = READ

    @extend_schema(operation_id="chat_room_mentionables", parameters=[MentionablesInput],
                   responses=MentionablesSerializer)
    def get(self, request, room_id):
        room = selectors.room_get(user=request.user, room_id=room_id)
        members = selectors.room_members(user=request.user, room=room)  # refuses non-members
        q = (validated(MentionablesInput, request.query_params).get("q") or "").strip().lstrip("@").lower()
        if q:
            members = members.filter(user__username__istartswith=q)
        users = [{"kind": "user", "handle": m.user.username, "name": m.user.username, "user": user_dict(m.user)}
                 for m in members.exclude(user=request.user).order_by("user__username")[:USERS_MAX]]
        groups = [g for g in group_mentions.mentionable_groups(room=room, actor=request.user)
                  if g["handle"].startswith(q)]
        return Response({"results": groups + users})
