"""Shapes of the chat API (api.md, "Rooms and messages"): ``...Input``
checks a request (types only; the rules live in the services),
``...Serializer`` renders a response (config.serializers). The message and
attachment objects are built by chatroom.presenters, which the socket's
frames share; their serializers declare them and render what it builds."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts import dnd
from accounts.serializers import UserRefSerializer
from chatroom import selectors, services
from chatroom.models import Invite, JoinRequest, Message, Room, RoomMember, UserBlock
from chatroom.presenters import attachment_dict, message_dicts
from config.serializers import Presented, json_shape
from realtime import presence

RoomSettings = json_shape("RoomSettings", "The room's own settings, a JSON object its admins define.")
MemberPermissions = json_shape(
    "MemberPermissions",
    'Per-member overrides of the role\'s powers, {"<power>": true|false}; a power left out follows the role.',
    {"type": "object", "additionalProperties": {"type": "boolean"}},
)
MessageMetadata = json_shape(
    "MessageMetadata",
    "What a system or bot message is about (the event and whom it names); {} for every other message.",
)

# ---------------------------------------------------------------- output: rooms and members


class _WithParticipants(serializers.ListSerializer):
    # The other people of every DM on the page, in one query.
    def to_representation(self, data):
        rooms = list(data)
        viewer = self.context.get("viewer")
        if viewer is not None:
            self.child.context["participants"] = selectors.dm_participants(user=viewer, rooms=rooms)
        return [self.child.to_representation(r) for r in rooms]


class RoomSerializer(serializers.ModelSerializer):
    """A room, with the caller's own membership (`is_member`, `role`). A DM
    or group DM (`kind`) has no name, and `participants` lists its other
    people (null for a channel)."""

    # The caller's membership: context["member"] for one room, or the list's
    # annotations (chatroom.selectors.rooms_list: is_member, my_role).
    owner = UserRefSerializer(read_only=True)
    org_id = serializers.UUIDField(read_only=True, allow_null=True)
    settings = RoomSettings(read_only=True)
    is_member = serializers.SerializerMethodField()
    role = serializers.SerializerMethodField()
    participants = serializers.SerializerMethodField()

    class Meta:
        model = Room
        fields = ["id", "kind", "name", "description", "owner", "org_id", "is_private", "max_members",
                  "allow_invites", "require_approval", "archived", "settings", "is_member", "role", "participants",
                  "created_at", "updated_at"]
        read_only_fields = fields
        list_serializer_class = _WithParticipants

    @extend_schema_field(UserRefSerializer(many=True, allow_null=True))
    def get_participants(self, room):
        if not room.is_dm:
            return None
        found = self.context.get("participants")
        viewer = self.context.get("viewer")
        if found is None or room.id not in found:
            found = selectors.dm_participants(user=viewer, rooms=[room]) if viewer is not None else {room.id: []}
        return UserRefSerializer(found[room.id], many=True).data

    def get_is_member(self, room) -> bool:
        return self.context.get("member") is not None or bool(getattr(room, "is_member", False))

    @extend_schema_field(serializers.ChoiceField(choices=RoomMember.Role.choices, allow_null=True))
    def get_role(self, room):
        member = self.context.get("member")
        return member.role if member else getattr(room, "my_role", None)


class RoomMemberSerializer(serializers.ModelSerializer):
    """A member of a room."""

    user = UserRefSerializer(read_only=True)
    permissions = MemberPermissions(read_only=True)
    last_read_message_id = serializers.UUIDField(read_only=True, allow_null=True)

    class Meta:
        model = RoomMember
        fields = ["user", "role", "is_muted", "notifications_enabled", "notify_level", "permissions", "joined_at",
                  "last_read_message_id"]
        read_only_fields = fields


class _WithPresence(serializers.ListSerializer):
    # The whole page's presence in one Redis read.
    def to_representation(self, data):
        members = list(data)
        self.child.context["statuses"] = presence.status_of([m.user_id for m in members])
        self.child.context["dnd"] = dnd.in_dnd([m.user_id for m in members])
        return [self.child.to_representation(m) for m in members]


class RoomMemberStatusSerializer(RoomMemberSerializer):
    """A member of a room, with whether they are online now."""

    status = serializers.SerializerMethodField()
    dnd = serializers.SerializerMethodField(help_text="Whether the member is in do not disturb now.")

    class Meta(RoomMemberSerializer.Meta):
        fields = [*RoomMemberSerializer.Meta.fields, "status", "dnd"]
        read_only_fields = fields
        list_serializer_class = _WithPresence

    @extend_schema_field(serializers.ChoiceField(choices=[presence.ONLINE, presence.AWAY, presence.OFFLINE]))
    def get_status(self, member):
        statuses = self.context.get("statuses")
        if statuses is None:
            statuses = presence.status_of([member.user_id])
        return statuses.get(str(member.user_id), presence.OFFLINE)

    def get_dnd(self, member) -> bool:
        resting = self.context.get("dnd")
        if resting is None:
            resting = dnd.in_dnd([member.user_id])
        return member.user_id in resting


class JoinRequestSerializer(serializers.ModelSerializer):
    """A request to join a room that needs approval."""

    room_id = serializers.UUIDField(read_only=True)
    user = UserRefSerializer(read_only=True)

    class Meta:
        model = JoinRequest
        fields = ["id", "room_id", "user", "status", "created_at"]
        read_only_fields = fields


class InviteSerializer(serializers.ModelSerializer):
    """An invite code to a room."""

    room_id = serializers.UUIDField(read_only=True)
    revoked = serializers.SerializerMethodField()
    invitee_id = serializers.UUIDField(read_only=True, allow_null=True,
                                       help_text="For a personal invite: the only user who may accept it.")

    class Meta:
        model = Invite
        fields = ["code", "room_id", "max_uses", "uses", "expires_at", "revoked", "invitee_id"]
        read_only_fields = fields

    def get_revoked(self, invite) -> bool:
        return invite.revoked_at is not None


class JoinedSerializer(serializers.Serializer):
    member = RoomMemberSerializer()


class JoinPendingSerializer(serializers.Serializer):
    """The room needs approval: the request waits for a moderator."""

    status = serializers.ChoiceField(choices=["pending"])
    request = JoinRequestSerializer()


class InviteAcceptedSerializer(serializers.Serializer):
    member = RoomMemberSerializer()
    room_id = serializers.UUIDField()


# ---------------------------------------------------------------- output: messages


class AttachmentSerializer(Presented):
    """An uploaded file; `width` and `height` only for images."""

    id = serializers.UUIDField()
    url = serializers.CharField(help_text="Where the members of the message's room download it.")
    filename = serializers.CharField()
    mime_type = serializers.CharField()
    size = serializers.IntegerField()
    checksum = serializers.CharField(help_text="SHA-256 of the content, in hex.")
    width = serializers.IntegerField(required=False)
    height = serializers.IntegerField(required=False)

    def present(self, attachment):
        return attachment_dict(attachment)


class ReactionSerializer(serializers.Serializer):
    emoji = serializers.CharField()
    count = serializers.IntegerField()
    me = serializers.BooleanField(help_text="Whether the caller is among them.")


class ReplySerializer(serializers.Serializer):
    """The message replied to, as a reply quotes it."""

    id = serializers.UUIDField()
    user = UserRefSerializer()
    excerpt = serializers.CharField(allow_blank=True, help_text="Its first 100 characters; empty once deleted.")
    is_deleted = serializers.BooleanField()


class ThreadSummarySerializer(serializers.Serializer):
    """A thread's summary on its root; `following` and `unread` are the caller's
    (false and 0 in a broadcast, which every member gets alike)."""

    reply_count = serializers.IntegerField()
    last_reply_at = serializers.DateTimeField(allow_null=True)
    participants = serializers.ListField(child=serializers.UUIDField(),
                                         help_text="Who replied, in order of their first reply.")
    following = serializers.BooleanField()
    unread = serializers.IntegerField()


class _MessagesOfAPage(serializers.ListSerializer):
    # Messages in a fixed number of queries, whatever their number (chatroom.presenters.message_dicts).
    def to_representation(self, data):
        items = list(data)
        if items and isinstance(items[0], Message):
            items = message_dicts(items, self.context.get("viewer"))
        return [self.child.to_representation(item) for item in items]


class MessageSerializer(Presented):
    """A message (the socket's `message.new` and `message.updated` frames carry the same)."""

    id = serializers.UUIDField()
    room_id = serializers.UUIDField()
    user = UserRefSerializer()
    content = serializers.CharField(allow_blank=True, help_text="Empty once deleted.")
    html = serializers.CharField(allow_blank=True, help_text=(
        "The content's markdown (bold, italic, code, code blocks, links, lists, quotes) as sanitized HTML; "
        "@mentions are <span class=\"mention\" data-mention=\"name\">. Empty once deleted."))
    message_type = serializers.ChoiceField(choices=Message.Type.choices)
    reply_to = ReplySerializer(allow_null=True)
    thread_id = serializers.UUIDField(allow_null=True, help_text="The root's id for a reply in a thread, else null.")
    also_to_room = serializers.BooleanField(help_text="A thread reply that the room's history shows too.")
    thread = ThreadSummarySerializer(allow_null=True, help_text="On a root with replies, its thread's summary.")
    is_edited = serializers.BooleanField()
    is_deleted = serializers.BooleanField()
    is_pinned = serializers.BooleanField()
    reactions = ReactionSerializer(many=True)
    attachments = AttachmentSerializer(many=True)
    mentions = serializers.ListField(child=serializers.UUIDField(), help_text="The ids of the users it mentions.")
    metadata = MessageMetadata()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    cursor = serializers.CharField(help_text="Its place in the room's history, for `before=` and `after=`.")

    class Meta:
        list_serializer_class = _MessagesOfAPage

    def present(self, message):
        # A message just posted carries the body its broadcast was built from.
        return getattr(message, "body", None) or message_dicts([message], self.context.get("viewer"))[0]


class MessagePageSerializer(Presented):
    """A page of a room's history, oldest first."""

    results = MessageSerializer(many=True)
    prev = serializers.CharField(allow_null=True, help_text="The cursor for older messages (`before=`), or null.")
    next = serializers.CharField(allow_null=True, help_text="The cursor for newer messages (`after=`), or null.")

    def present(self, page):
        return page.as_dict()  # a chatroom.selectors.Page, its messages rendered for its viewer


class MessageListSerializer(serializers.Serializer):
    results = MessageSerializer(many=True)


class MessageVersionSerializer(serializers.Serializer):
    """An earlier version of an edited message."""

    content = serializers.CharField(allow_blank=True)
    edited_at = serializers.DateTimeField(help_text="When it was replaced by the next version.")


class MessageHistorySerializer(serializers.Serializer):
    results = MessageVersionSerializer(many=True)


class ReadMarkSerializer(serializers.Serializer):
    room_id = serializers.UUIDField()
    message_id = serializers.UUIDField(source="last_read_message_id")


class UnreadRoomSerializer(serializers.Serializer):
    room_id = serializers.UUIDField()
    unread = serializers.IntegerField(help_text="Stops at UNREAD_COUNT_CAP (default 100).")
    mentions = serializers.IntegerField(help_text="Stops at UNREAD_COUNT_CAP (default 100).")
    capped = serializers.BooleanField(help_text="There are more unread messages than `unread` says (show \"100+\").")


class UnreadThreadsSerializer(serializers.Serializer):
    unread = serializers.IntegerField()
    mentions = serializers.IntegerField()


class UnreadSerializer(serializers.Serializer):
    """Unread messages and mentions, per room (only rooms with any) and in
    total, and over the threads the caller follows (`threads`, counted apart
    from the rooms')."""

    total = serializers.IntegerField(help_text="The sum of the rooms' `unread`.")
    capped = serializers.BooleanField(help_text="Some room's count is capped, so `total` is a lower bound.")
    rooms = UnreadRoomSerializer(many=True)
    threads = UnreadThreadsSerializer()


class SearchHitSerializer(serializers.Serializer):
    message = MessageSerializer()
    highlight = serializers.CharField(help_text="The matching text, its matches in <mark>…</mark>.")


class SearchPageSerializer(serializers.Serializer):
    """Matching messages, newest first."""

    results = SearchHitSerializer(many=True)
    next = serializers.CharField(allow_null=True, help_text="The cursor of the next page, or null.")


# ---------------------------------------------------------------- input


class RoomCreateInput(serializers.Serializer):
    name = serializers.CharField(max_length=50)
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")
    is_private = serializers.BooleanField(default=False)
    password = serializers.CharField(required=False, allow_null=True, max_length=128, trim_whitespace=False)
    max_members = serializers.IntegerField(required=False, default=1000)
    allow_invites = serializers.BooleanField(default=True)
    require_approval = serializers.BooleanField(default=False)
    org_id = serializers.UUIDField(required=False, allow_null=True)


class RoomUpdateInput(serializers.Serializer):
    name = serializers.CharField(required=False, max_length=50)
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    is_private = serializers.BooleanField(required=False)
    password = serializers.CharField(required=False, max_length=128, trim_whitespace=False)
    max_members = serializers.IntegerField(required=False)
    allow_invites = serializers.BooleanField(required=False)
    require_approval = serializers.BooleanField(required=False)
    archived = serializers.BooleanField(required=False)
    settings = RoomSettings(required=False)


class RoomListInput(serializers.Serializer):
    scope = serializers.ChoiceField(choices=["mine", "public"], default="mine",
                                    error_messages={"invalid_choice": "One of mine, public."})
    q = serializers.CharField(required=False, default="", allow_blank=True, trim_whitespace=False,
                              help_text="Part of the room's name.")


class JoinInput(serializers.Serializer):
    password = serializers.CharField(required=False, allow_null=True, allow_blank=True, trim_whitespace=False)
    invite_code = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=32)


class RoomMemberUpdateInput(serializers.Serializer):
    role = serializers.ChoiceField(choices=RoomMember.Role.choices, required=False)
    is_muted = serializers.BooleanField(required=False)
    notifications_enabled = serializers.BooleanField(required=False)
    notify_level = serializers.ChoiceField(
        choices=RoomMember.NotifyLevel.choices, required=False,
        help_text="The member's own: `all`, `mentions` (notify only when mentioned) or `none` (muted: no "
                  "notifications, unread still counted).")
    permissions = serializers.DictField(child=serializers.BooleanField(), required=False)


class InviteInput(serializers.Serializer):
    max_uses = serializers.IntegerField(required=False, default=0)
    max_age_seconds = serializers.IntegerField(required=False, default=services.INVITE_DEFAULT_MAX_AGE)
    user_id = serializers.UUIDField(
        required=False, allow_null=True,
        help_text="Invite this user personally: single-use, only they may accept it, and they are notified "
                  "(max_uses is ignored).")


def _query_text(help_text: str):
    # Passed on as sent: the selector reads it (and refuses a bad one in its own words).
    return serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, help_text=help_text)


class HistoryInput(serializers.Serializer):
    before = _query_text("A cursor: the page before it.")
    after = _query_text("A cursor: the page after it.")
    around = _query_text("A message id: the page around it.")
    limit = serializers.IntegerField(required=False, default=50, error_messages={"invalid": _("A whole number.")})


class MessageInput(serializers.Serializer):
    content = serializers.CharField(allow_blank=True, trim_whitespace=False, default="")
    message_type = serializers.CharField(required=False, default="text")
    reply_to = serializers.UUIDField(required=False, allow_null=True)
    client_id = serializers.CharField(required=False, allow_null=True, max_length=services.CLIENT_ID_MAX)
    attachment_ids = serializers.ListField(child=serializers.UUIDField(), required=False, default=list, max_length=10)
    thread_id = serializers.UUIDField(required=False, allow_null=True, help_text="Reply in this root's thread.")
    also_to_room = serializers.BooleanField(required=False, default=False,
                                            help_text="With thread_id: show the reply in the room's history too.")


class MessageEditInput(serializers.Serializer):
    content = serializers.CharField(allow_blank=True, trim_whitespace=False)


class EmojiInput(serializers.Serializer):
    emoji = serializers.CharField(max_length=services.EMOJI_MAX)


class ReadInput(serializers.Serializer):
    message_id = serializers.UUIDField()


class RoomTransferInput(serializers.Serializer):
    user_id = serializers.UUIDField()


class SearchInput(serializers.Serializer):
    q = serializers.CharField(max_length=200)
    room_id = serializers.UUIDField(required=False)
    user_id = serializers.UUIDField(required=False)
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)
    cursor = serializers.CharField(required=False)
    limit = serializers.IntegerField(required=False, default=20, min_value=1, max_value=selectors.SEARCH_MAX_LIMIT)


_ATTACH = "Attach a file in the multipart field `file`."


class UploadInput(serializers.Serializer):
    # An empty or odd file is the service's to judge (chatroom.uploads).
    file = serializers.FileField(allow_empty_file=True, error_messages={"required": _ATTACH, "invalid": _ATTACH})


# ---------------------------------------------------------------- direct messages and blocks


class DmOpenInput(serializers.Serializer):
    user_ids = serializers.ListField(child=serializers.UUIDField(), allow_empty=False, max_length=100,
                                     help_text="The other people; the caller is added. One: a DM; more: a group DM.")


class DmRoomSerializer(serializers.Serializer):
    """The DM or group DM (201 when it was made now, 200 when it existed)."""

    room = RoomSerializer()


class BlockInput(serializers.Serializer):
    user_id = serializers.UUIDField()


class BlockSerializer(serializers.ModelSerializer):
    """A user the caller blocked."""

    user = UserRefSerializer(source="blocked", read_only=True)

    class Meta:
        model = UserBlock
        fields = ["user", "created_at"]
        read_only_fields = fields
