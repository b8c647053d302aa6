"""Staff views of chat. Changes go through the services (the audited admin
site records each admin action too); messages are read-only here apart from
the soft-delete action."""

from django.contrib import admin, messages

from chatroom import services
from chatroom.models import Attachment, Invite, JoinRequest, Message, Room, RoomMember
from config.errors import ApplicationError


class RoomMemberInline(admin.TabularInline):
    model = RoomMember
    extra = 0
    raw_id_fields = ["user"]
    fields = ["user", "role", "is_muted", "notifications_enabled", "permissions", "joined_at"]
    readonly_fields = ["joined_at"]


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "org", "is_private", "require_approval", "archived", "created_at"]
    list_filter = ["is_private", "require_approval", "archived"]
    search_fields = ["name", "description", "owner__username"]
    raw_id_fields = ["owner", "org"]
    exclude = ["password_hash"]
    inlines = [RoomMemberInline]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["created_at", "room", "user", "message_type", "short_content", "is_edited", "is_deleted", "is_pinned"]
    list_filter = ["message_type", "is_deleted", "is_pinned", ("room", admin.RelatedFieldListFilter),
                   ("user", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["content", "room__name", "user__username"]
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-id"]
    list_select_related = ["room", "user"]
    show_full_result_count = False  # no count(*) over the whole partitioned table
    actions = ["soft_delete"]
    readonly_fields = [f.name for f in Message._meta.fields]

    @admin.display(description="content")
    def short_content(self, obj):
        return obj.content[:80]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # soft delete only, through the action

    @admin.action(description="Soft-delete the selected messages")
    def soft_delete(self, request, queryset):
        done = 0
        for message in queryset:
            try:
                services.message_delete(actor=request.user, message_id=message.id, staff_override=True)
                done += 1
            except ApplicationError as exc:
                self.message_user(request, f"{message.id}: {exc.message}", messages.ERROR)
        self.message_user(request, f"Soft-deleted {done} message(s).", messages.SUCCESS)


@admin.register(Invite)
class InviteAdmin(admin.ModelAdmin):
    list_display = ["code", "room", "inviter", "uses", "max_uses", "expires_at", "revoked_at", "created_at"]
    list_filter = ["revoked_at"]
    search_fields = ["code", "room__name", "inviter__username"]
    raw_id_fields = ["room", "inviter"]


@admin.register(JoinRequest)
class JoinRequestAdmin(admin.ModelAdmin):
    list_display = ["room", "user", "status", "created_at", "decided_by", "decided_at"]
    list_filter = ["status"]
    raw_id_fields = ["room", "user", "decided_by"]


@admin.register(Attachment)
class AttachmentAdmin(admin.ModelAdmin):
    list_display = ["filename", "mime_type", "size", "uploader", "room", "created_at"]
    search_fields = ["filename", "checksum", "uploader__username"]
    raw_id_fields = ["uploader", "room"]
    readonly_fields = ["message_id", "message_created_at", "checksum", "size", "mime_type", "width", "height"]
