"""Staff tools. Every change goes through the services (audit, session
ending); no secret (password hash, token hash, key hash) is ever shown."""

from django.contrib import admin
from django.db.models import Count
from django.utils.translation import gettext_lazy as _

from accounts import services
from accounts.forms import StaffLoginForm
from accounts.models import ApiKey, DeviceSession, Notification, Profile, User
from config.admin_actions import ReadOnly, run_service_action

# The admin's login goes through the same lockout, status checks and audit.
admin.site.login_form = StaffLoginForm


class ProfileInline(admin.StackedInline):
    model = Profile
    can_delete = False
    fields = ["bio", "location", "website", "timezone", "language", "theme", "preferences", "notifications"]
    readonly_fields = fields  # edited by the user on their profile page

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = ["username", "email", "status", "role", "is_staff", "created_at", "last_active_at", "sessions"]
    list_filter = ["status", "role", "is_staff", ("created_at", admin.DateFieldListFilter), ("last_active_at", admin.DateFieldListFilter)]
    search_fields = ["username", "email"]
    ordering = ["username"]
    date_hierarchy = "created_at"
    # status changes only through the actions, so banning always ends sessions.
    readonly_fields = ["id", "status", "active", "last_login", "last_active_at", "created_at", "updated_at"]
    fields = [
        "id", "username", "email", "status", "role", "avatar_url",
        "is_staff", "is_superuser", "groups", "user_permissions",
        "active", "last_login", "last_active_at", "created_at", "updated_at",
    ]
    filter_horizontal = ["groups", "user_permissions"]
    inlines = [ProfileInline]
    actions = ["ban", "unban", "revoke_sessions"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(session_count=Count("auth_token_set"))

    # is_active is generated from status: shown as the yes/no icon (Django prints a generated field's "True").
    @admin.display(description=_("active"), boolean=True, ordering="is_active")
    def active(self, obj):
        return obj.is_active

    @admin.display(description=_("Sessions"), ordering="session_count")
    def sessions(self, obj):
        return obj.session_count

    def has_add_permission(self, request):
        # Accounts are made by sign-up or `manage.py createsuperuser`, so each
        # gets its profile, password rules and audit entry.
        return False

    @admin.action(description=_("Ban the selected users (ends their sessions)"))
    def ban(self, request, queryset):
        run_service_action(self, request, queryset, lambda u: services.user_ban(actor=request.user, user=u), _("Banned"))

    @admin.action(description=_("Unban the selected users"))
    def unban(self, request, queryset):
        run_service_action(self, request, queryset, lambda u: services.user_unban(actor=request.user, user=u),
                           _("Unbanned"))

    @admin.action(description=_("Revoke all sessions of the selected users"))
    def revoke_sessions(self, request, queryset):
        run_service_action(self, request, queryset, lambda u: services.sessions_revoke_all(actor=request.user, user=u),
                           _("Sessions revoked for"))


class _ReadOnlyAdmin(ReadOnly, admin.ModelAdmin):
    """Revoked through the actions, which audit."""


@admin.register(DeviceSession)
class DeviceSessionAdmin(_ReadOnlyAdmin):
    list_display = ["user", "kind", "device_name", "ip", "created", "last_used_at", "expiry"]
    list_filter = ["kind", ("created", admin.DateFieldListFilter)]
    search_fields = ["user__username", "user__email", "device_name", "ip"]
    list_select_related = ["user"]
    # Never digest, token_key or session_key: they identify a live credential.
    fields = ["id", "user", "kind", "device_name", "ip", "user_agent", "created", "last_used_at", "expiry"]
    readonly_fields = fields
    actions = ["revoke"]

    @admin.action(description=_("Revoke the selected sessions"))
    def revoke(self, request, queryset):
        run_service_action(self, request, queryset.select_related("user"),
                           lambda s: services.session_revoke(actor=request.user, session=s), _("Revoked"))


@admin.register(ApiKey)
class ApiKeyAdmin(_ReadOnlyAdmin):
    list_display = ["name", "prefix", "user", "scopes", "is_active", "expires_at", "last_used_at", "usage_count", "created_at"]
    list_filter = ["is_active", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["name", "prefix", "user__username", "user__email"]
    list_select_related = ["user"]
    # Never key_hash.
    fields = ["id", "name", "prefix", "user", "scopes", "rate_limit_per_minute", "is_active", "expires_at", "last_used_at", "usage_count", "created_at", "revoked_at"]
    readonly_fields = fields
    actions = ["revoke"]

    @admin.action(description=_("Revoke the selected API keys"))
    def revoke(self, request, queryset):
        run_service_action(self, request, queryset.select_related("user"),
                           lambda k: services.api_key_revoke(actor=request.user, api_key=k), _("Revoked"))


@admin.register(Notification)
class NotificationAdmin(_ReadOnlyAdmin):
    """Read-only for staff: notifications are created by the changes they
    report (accounts.notifications) and read or archived by their owner."""

    list_display = ["title", "user", "type", "priority", "is_read", "is_archived", "created_at", "expires_at"]
    list_filter = ["type", "priority", "is_read", "is_archived", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["title", "user__username", "user__email"]
    list_select_related = ["user"]
    date_hierarchy = "created_at"
    fields = ["id", "user", "type", "priority", "title", "message", "data", "is_read", "read_at", "is_archived",
              "created_at", "expires_at"]
    readonly_fields = fields
