"""Chat (seeds 000 and 003): rooms, members, join requests, invites, and the
monthly-partitioned messages with the tables that point into them by the
composite key (message_id, message_created_at)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext, pgettext_lazy
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone
from psqlextra.manager import PostgresManager
from psqlextra.models import PostgresPartitionedModel
from psqlextra.types import PostgresPartitioningMethod

ROOM_NAME_PATTERN = r"^[a-zA-Z0-9_-]{3,50}$"


class Room(models.Model):
    """A room of one of three kinds (seed 003 channel types): a channel (its
    own name, members with roles), a DM (exactly two people) or a group DM
    (3 to GROUP_DM_MAX_MEMBERS). DMs have no name, password, invites or
    roles; ``dm_key`` (chatroom.services.dms) names their set of people, so
    the database holds one DM per pair and one group DM per set."""

    class Kind(models.TextChoices):
        CHANNEL = "channel", _("Channel")
        DM = "dm", _("Direct message")
        GROUP_DM = "group_dm", _("Group direct message")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(verbose_name=_("kind"), max_length=10, choices=Kind.choices, default=Kind.CHANNEL)
    # A channel has a name (the seed's rule); a DM's name is empty.
    name = models.CharField(verbose_name=_("name"),
        max_length=50,
        validators=[RegexValidator(ROOM_NAME_PATTERN, _("Use 3 to 50 letters, digits, _ or -."))],
    )
    # DMs only: the kind and a digest of the sorted ids of its people (a group DM's
    # changes as people leave; None once another group DM has that set).
    dm_key = models.CharField(verbose_name=_("DM key"), max_length=80, null=True, blank=True, editable=False)
    description = models.TextField(verbose_name=_("description"), blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("owner"), on_delete=models.CASCADE, related_name="owned_rooms")
    org = models.ForeignKey("orgs.Organization", verbose_name=_("organization"), on_delete=models.CASCADE, null=True, blank=True, related_name="rooms")
    is_private = models.BooleanField(verbose_name=_("private"), default=False)
    # Argon2 hash of the room password; set exactly when the room is private.
    password_hash = models.CharField(verbose_name=_("password hash"), max_length=255, null=True, blank=True)
    max_members = models.PositiveIntegerField(verbose_name=_("max members"), default=1000)
    allow_invites = models.BooleanField(verbose_name=_("allow invites"), default=True)
    require_approval = models.BooleanField(verbose_name=_("require approval"), default=False)
    settings = models.JSONField(verbose_name=_("settings"), default=dict, blank=True)
    archived = models.BooleanField(verbose_name=_("archived"), default=False)
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(verbose_name=_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("room")
        verbose_name_plural = _("rooms")
        db_table = "chat_rooms"
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=["channel", "dm", "group_dm"]), name="chat_rooms_kind_check"),
            # The seed's name rule is a channel's; a DM has no name.
            models.CheckConstraint(
                condition=Q(kind="channel", name__regex=ROOM_NAME_PATTERN) | (~Q(kind="channel") & Q(name="")),
                name="chat_rooms_name_check",
            ),
            models.CheckConstraint(
                condition=Q(kind="channel", dm_key__isnull=True)
                | (~Q(kind="channel") & Q(is_private=False, allow_invites=False, require_approval=False)),
                name="chat_rooms_dm_shape_check",
            ),
            models.UniqueConstraint(fields=["dm_key"], name="chat_rooms_dm_key_unique"),
            models.CheckConstraint(
                condition=(Q(is_private=True) & Q(password_hash__isnull=False))
                | (Q(is_private=False) & Q(password_hash__isnull=True)),
                name="chat_rooms_password_check",
            ),
        ]
        indexes = [
            models.Index(fields=["owner"], name="idx_chat_rooms_owner"),
            models.Index(fields=["is_private"], name="idx_chat_rooms_is_private"),
            models.Index(fields=["-created_at"], name="idx_chat_rooms_created_at"),
        ]

    def __str__(self) -> str:
        if self.kind == self.Kind.CHANNEL:
            return self.name
        return f"{self.get_kind_display()} {str(self.id)[:8]}"

    @property
    def is_dm(self) -> bool:
        """A DM or a group DM."""
        return self.kind != self.Kind.CHANNEL


class UserBlock(models.Model):
    """``blocker`` blocked ``blocked``: the blocked user cannot open a DM with
    the blocker or post in their DM (chat_message_post, migration 0009), and
    the blocker gets no mentions or notifications from them."""

    id = models.BigAutoField(primary_key=True)
    blocker = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("blocker"), on_delete=models.CASCADE, related_name="blocks_made")
    blocked = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("blocked"), on_delete=models.CASCADE, related_name="blocks_received")
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("user block")
        verbose_name_plural = _("user blocks")
        db_table = "user_blocks"
        constraints = [
            models.UniqueConstraint(fields=["blocker", "blocked"], name="user_blocks_unique"),
            models.CheckConstraint(condition=~Q(blocker=F("blocked")), name="user_blocks_not_self_check"),
        ]
        indexes = [models.Index(fields=["blocked", "blocker"], name="idx_user_blocks_blocked")]


# --------------------------------------------------------------------------- members and joining


class RoomMember(models.Model):
    """A user's membership of a room (seed 000 room_members)."""

    class Role(models.TextChoices):
        OWNER = "owner", pgettext_lazy("role", "Owner")
        ADMIN = "admin", pgettext_lazy("role", "Admin")
        MODERATOR = "moderator", pgettext_lazy("role", "Moderator")
        MEMBER = "member", pgettext_lazy("role", "Member")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    room = models.ForeignKey(Room, verbose_name=_("room"), on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="room_memberships")
    role = models.CharField(verbose_name=_("role"), max_length=20, choices=Role.choices, default=Role.MEMBER)
    joined_at = models.DateTimeField(verbose_name=_("joined at"), auto_now_add=True)
    # Per-member overrides of the role's powers: {"post": false, "pin": true, ...}
    # (chatroom.permissions.POWERS lists the names).
    permissions = models.JSONField(verbose_name=_("permissions"), default=dict, blank=True)
    is_muted = models.BooleanField(verbose_name=_("muted"), default=False)

    class NotifyLevel(models.TextChoices):
        ALL = "all", _("Everything")
        MENTIONS = "mentions", _("Only mentions")
        NONE = "none", _("Nothing (muted)")

    # The member's own choice for the room (issue 18): "none" mutes it (no
    # notification at all, unread still counted), "mentions" notifies only
    # when they are mentioned. notifications_enabled is the older on/off
    # switch, kept equal to notify_level != "none" by member_update.
    notifications_enabled = models.BooleanField(verbose_name=_("notifications enabled"), default=True)
    notify_level = models.CharField(verbose_name=_("notify level"), max_length=10, choices=NotifyLevel.choices, default=NotifyLevel.ALL,
                                    db_default=NotifyLevel.ALL)
    # The read cursor: the newest message this member has read. Stored as the
    # message's composite key so unread counts filter on created_at.
    last_read_message_id = models.UUIDField(verbose_name=_("last read message ID"), null=True, blank=True)
    last_read_at = models.DateTimeField(verbose_name=_("last read at"), null=True, blank=True)
    # When the cursor last moved: a read receipt's ``read_at`` (chatroom.receipts).
    last_read_marked_at = models.DateTimeField(verbose_name=_("last read marked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("room member")
        verbose_name_plural = _("room members")
        db_table = "room_members"
        constraints = [
            models.UniqueConstraint(fields=["room", "user"], name="room_members_unique"),
            models.CheckConstraint(
                condition=Q(role__in=["owner", "admin", "moderator", "member"]), name="room_members_role_check"
            ),
            # One owner per room, and it is the room's owner (kept by the services).
            models.UniqueConstraint(fields=["room"], condition=Q(role="owner"), name="room_members_one_owner"),
        ]
        indexes = [
            models.Index(fields=["user"], name="idx_room_members_user_id"),
            models.Index(fields=["role"], name="idx_room_members_role"),
        ]

    def __str__(self) -> str:
        return gettext("%(user)s in %(room)s (%(role)s)") % {"user": self.user_id, "room": self.room_id,
                                                              "role": self.get_role_display()}


class JoinRequest(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    room = models.ForeignKey(Room, verbose_name=_("room"), on_delete=models.CASCADE, related_name="join_requests")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="room_join_requests")
    status = models.CharField(verbose_name=_("status"), max_length=20, choices=Status.choices, default=Status.PENDING)
    message = models.CharField(verbose_name=_("message"), max_length=500, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("decided by"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(verbose_name=_("decided at"), null=True, blank=True)
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("join request")
        verbose_name_plural = _("join requests")
        db_table = "room_join_requests"
        constraints = [
            models.UniqueConstraint(
                fields=["room", "user"], condition=Q(status="pending"), name="room_join_requests_one_pending"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "approved", "rejected"]), name="room_join_requests_status_check"
            ),
        ]
        indexes = [models.Index(fields=["room", "status", "created_at"], name="idx_join_requests_room")]


class Invite(models.Model):
    """Seed 003 invites: a code with max uses (0 = unlimited) and an expiry.
    An invite with an ``invitee`` is personal: single-use, and only that user
    may accept it (the room_invitation notification carries its code)."""

    code = models.CharField(verbose_name=_("code"), max_length=32, primary_key=True)
    room = models.ForeignKey(Room, verbose_name=_("room"), on_delete=models.CASCADE, related_name="invites")
    inviter = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("inviter"), on_delete=models.SET_NULL, null=True, related_name="+")
    invitee = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("invitee"), on_delete=models.CASCADE, null=True, blank=True, related_name="room_invites"
    )
    max_uses = models.PositiveIntegerField(verbose_name=_("max uses"), default=0)
    uses = models.PositiveIntegerField(verbose_name=_("uses"), default=0)
    expires_at = models.DateTimeField(verbose_name=_("expires at"), null=True, blank=True)
    revoked_at = models.DateTimeField(verbose_name=_("revoked at"), null=True, blank=True)
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("invite")
        verbose_name_plural = _("invites")
        db_table = "room_invites"
        constraints = [
            models.CheckConstraint(
                condition=Q(max_uses=0) | Q(uses__lte=F("max_uses")), name="room_invites_uses_limit_check"
            ),
            models.CheckConstraint(
                condition=Q(invitee__isnull=True) | Q(max_uses=1), name="room_invites_personal_single_use_check"
            ),
        ]
        indexes = [models.Index(fields=["room", "created_at"], name="idx_room_invites_room")]

    def __str__(self) -> str:
        return self.code


# --------------------------------------------------------------------------- messages


class ILike(models.Lookup):
    """``content__ilike``: a plain ILIKE (Django's icontains compiles to
    UPPER(...) LIKE, which a trigram index on the column cannot serve)."""

    lookup_name = "ilike"

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} ILIKE {rhs}", [*lhs_params, *rhs_params]


class Message(PostgresPartitionedModel):
    """Range-partitioned by month on created_at (django-postgres-extra 2.0.9):
    Django's pk is ``id``; the database pk is ``(id, created_at)``, which every
    reference into this table uses (composite foreign keys in the migration)."""

    class Type(models.TextChoices):
        TEXT = "text", pgettext_lazy("message type", "Text")
        IMAGE = "image", pgettext_lazy("message type", "Image")
        FILE = "file", pgettext_lazy("message type", "File")
        SYSTEM = "system", pgettext_lazy("message type", "System")
        BOT = "bot", pgettext_lazy("message type", "Bot")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Set by message_post under the room's posting lock, so created_at order is
    # commit order within a room (keyset pages never skip a late commit).
    created_at = models.DateTimeField(verbose_name=_("created at"), default=timezone.now)
    # No single-column indexes: (room, created_at, id) and (user, created_at)
    # below serve those lookups, and every index costs each insert.
    room = models.ForeignKey(Room, verbose_name=_("room"), on_delete=models.CASCADE, related_name="messages", db_index=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="chat_messages",
                             db_index=False)
    content = models.TextField(verbose_name=_("content"), blank=True)
    message_type = models.CharField(verbose_name=_("message type"), max_length=20, choices=Type.choices, default=Type.TEXT)
    # (reply_to_id, reply_to_created_at) -> messages(id, created_at): a real
    # composite foreign key added by the migration (ON DELETE SET NULL).
    reply_to_id = models.UUIDField(verbose_name=_("reply to (message ID)"), null=True, blank=True)
    reply_to_created_at = models.DateTimeField(verbose_name=_("reply to (message time)"), null=True, blank=True)
    # A reply in a thread: (thread_id, thread_created_at) -> its root, a real
    # composite foreign key (migration 0010, ON DELETE CASCADE). A root is
    # never itself a reply (chat_message_post refuses ``thread_reply``).
    # ``also_to_room``: the reply shows in the room's history too.
    thread_id = models.UUIDField(verbose_name=_("thread ID"), null=True, blank=True)
    thread_created_at = models.DateTimeField(verbose_name=_("thread root time"), null=True, blank=True)
    also_to_room = models.BooleanField(verbose_name=_("also sent to the room"), default=False, db_default=False)
    is_edited = models.BooleanField(verbose_name=_("edited"), default=False)
    edited_at = models.DateTimeField(verbose_name=_("edited at"), null=True, blank=True)
    is_deleted = models.BooleanField(verbose_name=_("deleted"), default=False)
    deleted_at = models.DateTimeField(verbose_name=_("deleted at"), null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("deleted by"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    is_pinned = models.BooleanField(verbose_name=_("pinned"), default=False)
    pinned_at = models.DateTimeField(verbose_name=_("pinned at"), null=True, blank=True)
    metadata = models.JSONField(verbose_name=_("metadata"), default=dict, blank=True)
    updated_at = models.DateTimeField(verbose_name=_("updated at"), auto_now=True)

    objects = PostgresManager()

    class PartitioningMeta:
        method = PostgresPartitioningMethod.RANGE
        key = ["created_at"]

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        db_table = "messages"
        constraints = [
            models.CheckConstraint(
                condition=Q(message_type__in=["text", "image", "file", "system", "bot"]), name="messages_type_check"
            ),
            models.CheckConstraint(
                condition=Q(reply_to_id__isnull=True, reply_to_created_at__isnull=True)
                | Q(reply_to_id__isnull=False, reply_to_created_at__isnull=False),
                name="messages_reply_to_pair_check",
            ),
            models.CheckConstraint(
                condition=Q(thread_id__isnull=True, thread_created_at__isnull=True, also_to_room=False)
                | Q(thread_id__isnull=False, thread_created_at__isnull=False),
                name="messages_thread_pair_check",
            ),
        ]
        indexes = [
            # Keyset pages: (room, created_at, id) in both directions.
            models.Index(fields=["room", "created_at", "id"], name="idx_messages_room_created"),
            models.Index(fields=["user", "created_at"], name="idx_messages_user_created"),
            models.Index(fields=["id"], name="idx_messages_id"),
            models.Index(fields=["reply_to_id"], name="idx_messages_reply_to"),
            # A thread's pages and its unread counts: (thread, created_at, id).
            models.Index(fields=["thread_id", "created_at", "id"], condition=Q(thread_id__isnull=False),
                         name="idx_messages_thread"),
            models.Index(fields=["room", "created_at"], condition=Q(is_pinned=True), name="idx_messages_pinned"),
            # The unread counts (chatroom.unread): the messages a room's badge
            # counts, with their author, so counting is an index-only scan.
            models.Index(fields=["room", "created_at", "id"], include=["user"],
                         condition=Q(is_deleted=False) & ~Q(message_type="system")
                         & (Q(thread_id__isnull=True) | Q(also_to_room=True)),
                         name="idx_messages_room_unread"),
            # English full-text search (seed 000); the trigram index for
            # substring search is created by the migration where pg_trgm exists.
            GinIndex(SearchVector("content", config="english"), name="idx_messages_content_search"),
        ]

    def __str__(self) -> str:
        return f"{self.id} ({self.created_at:%Y-%m-%d %H:%M})"

    @property
    def cursor(self) -> str:
        from chatroom.cursors import encode

        return encode(self.created_at, self.id)


# What a room's history holds: its own messages, and thread replies sent with
# also_to_room. The one definition; chatroom.unread renders it as SQL
# (ROOM_VISIBLE_SQL) and a test proves the two agree.
ROOM_VISIBLE = Q(thread_id__isnull=True) | Q(also_to_room=True)
ROOM_VISIBLE_SQL = "({m}.thread_id IS NULL OR {m}.also_to_room)"


class Thread(models.Model):
    """A thread's summary, kept by chat_message_post (migration 0010) under
    the room's posting lock as each reply is stored: the root's room, its
    number of replies, the last reply's time and who replied (in order of
    their first reply). (root_id, root_created_at) -> messages, composite."""

    root = models.OneToOneField(Message, verbose_name=_("thread root"), primary_key=True, on_delete=models.DO_NOTHING, db_constraint=False,
                                related_name="+")
    root_created_at = models.DateTimeField(verbose_name=_("thread root time"))
    room = models.ForeignKey(Room, verbose_name=_("room"), on_delete=models.CASCADE, related_name="+")
    reply_count = models.PositiveIntegerField(verbose_name=_("reply count"), default=0)
    last_reply_at = models.DateTimeField(verbose_name=_("last reply at"), null=True, blank=True)
    participants = ArrayField(models.UUIDField(), verbose_name=_("participants"), default=list, blank=True)

    class Meta:
        verbose_name = _("thread")
        verbose_name_plural = _("threads")
        db_table = "chat_threads"
        indexes = [models.Index(fields=["room", "last_reply_at"], name="idx_chat_threads_room")]


class ThreadFollow(models.Model):
    """A user's state in one thread: whether they follow it (``following``:
    None = never chose, so the root's author is followed automatically; True;
    False = unfollowed, which only their own reply or a mention undoes), and
    their read cursor in it, apart from the room's."""

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="+")
    root = models.ForeignKey(Message, verbose_name=_("thread root"), on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    root_created_at = models.DateTimeField(verbose_name=_("thread root time"))
    room = models.ForeignKey(Room, verbose_name=_("room"), on_delete=models.CASCADE, related_name="+")
    following = models.BooleanField(verbose_name=_("following"), null=True, blank=True)
    last_read_message_id = models.UUIDField(verbose_name=_("last read message ID"), null=True, blank=True)
    last_read_at = models.DateTimeField(verbose_name=_("last read at"), null=True, blank=True)
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("thread follow")
        verbose_name_plural = _("thread follows")
        db_table = "thread_follows"
        constraints = [models.UniqueConstraint(fields=["user", "root"], name="thread_follows_unique")]
        indexes = [models.Index(fields=["root"], name="idx_thread_follows_root")]


class MessageRef(models.Model):
    """A row pointing into the partitioned messages table by its composite key
    (seed 003). The migration adds FOREIGN KEY (message_id,
    message_created_at) REFERENCES messages(id, created_at)."""

    message = models.ForeignKey(
        Message, verbose_name=_("message"), on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    message_created_at = models.DateTimeField(verbose_name=_("message time"))

    class Meta:
        abstract = True


class MessageClientId(MessageRef):
    """Dedupe for client_id: a unique index on the partitioned table would
    have to include created_at, so (user, client_id) lives here."""

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="+")
    client_id = models.CharField(verbose_name=_("client ID"), max_length=64)
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("message client ID")
        verbose_name_plural = _("message client IDs")
        db_table = "message_client_ids"
        constraints = [models.UniqueConstraint(fields=["user", "client_id"], name="message_client_ids_unique")]


class MessageEdit(MessageRef):
    """Each earlier version of an edited message."""

    id = models.BigAutoField(primary_key=True)
    content = models.TextField(verbose_name=_("content"), blank=True)
    edited_at = models.DateTimeField(verbose_name=_("edited at"))
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("edited by"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("message edit")
        verbose_name_plural = _("message edits")
        db_table = "message_edits"
        indexes = [models.Index(fields=["message", "edited_at"], name="idx_message_edits_message")]


class Mention(MessageRef):
    id = models.BigAutoField(primary_key=True)
    room = models.ForeignKey(Room, verbose_name=_("room"), on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="chat_mentions")

    class Meta:
        verbose_name = _("mention")
        verbose_name_plural = _("mentions")
        db_table = "message_mentions"
        constraints = [models.UniqueConstraint(fields=["message", "user"], name="message_mentions_unique")]
        indexes = [models.Index(fields=["user", "room", "message_created_at"], name="idx_mentions_user_room")]


class Reaction(MessageRef):
    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="+")
    emoji = models.CharField(verbose_name=_("emoji"), max_length=32)
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("reaction")
        verbose_name_plural = _("reactions")
        db_table = "message_reactions"
        constraints = [
            models.UniqueConstraint(fields=["message", "user", "emoji"], name="message_reactions_unique"),
        ]


def attachment_path(instance, filename: str) -> str:
    # The stored name never comes from the client: <yyyy>/<mm>/<uuid>.
    now = timezone.now()
    return f"chat/{now:%Y/%m}/{instance.id.hex}"


class AttachmentQuerySet(models.QuerySet):
    def available(self):
        """Attachments whose file still exists for anyone: an upload not yet
        linked, or one linked to a message that is not deleted. The one rule
        the download selector and the message presenter both apply, so a
        deleted message's files are neither listed nor served on any face."""
        live = Message.objects.filter(id=OuterRef("message_id"), created_at=OuterRef("message_created_at"),
                                      is_deleted=False)
        return self.filter(Q(message__isnull=True) | Exists(live))


class Attachment(models.Model):
    """An uploaded file (seed 000 file_uploads, seed 003 attachments): uploaded
    first, then linked to one message by the composite key."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    uploader = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("uploader"), on_delete=models.CASCADE, related_name="chat_uploads")
    file = models.FileField(verbose_name=_("file"), upload_to=attachment_path, max_length=500)
    filename = models.CharField(verbose_name=_("filename"), max_length=255)
    mime_type = models.CharField(verbose_name=_("MIME type"), max_length=100)
    size = models.BigIntegerField(verbose_name=_("size"))
    checksum = models.CharField(verbose_name=_("checksum"), max_length=64)
    width = models.PositiveIntegerField(verbose_name=_("width"), null=True, blank=True)
    height = models.PositiveIntegerField(verbose_name=_("height"), null=True, blank=True)
    room = models.ForeignKey(Room, verbose_name=_("room"), on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    message = models.ForeignKey(
        Message, verbose_name=_("message"), on_delete=models.DO_NOTHING, db_constraint=False, null=True, blank=True, related_name="+"
    )
    message_created_at = models.DateTimeField(verbose_name=_("message time"), null=True, blank=True)
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)

    objects = AttachmentQuerySet.as_manager()

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        db_table = "attachments"
        constraints = [
            models.CheckConstraint(
                condition=Q(message__isnull=True, message_created_at__isnull=True)
                | Q(message__isnull=False, message_created_at__isnull=False),
                name="attachments_message_pair_check",
            ),
        ]
        indexes = [models.Index(fields=["uploader", "created_at"], name="idx_attachments_uploader")]

    @property
    def is_image(self) -> bool:
        return self.mime_type.startswith("image/")


Message._meta.get_field("content").register_lookup(ILike)
Room._meta.get_field("name").register_lookup(ILike)

# Send later: in its own module (this one is at its size limit).
from chatroom.scheduled_models import ScheduledMessage  # noqa: E402,F401
# The missed-message mail's tables live in their own module (issue 18).
from chatroom.missed_mail_models import MissedMailCursor, MissedMessageMail  # noqa: E402,F401
