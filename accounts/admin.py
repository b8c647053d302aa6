from django.contrib import admin

from accounts.models import User


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = ["username", "email", "status", "role", "is_staff", "created_at", "last_active_at"]
    list_filter = ["status", "role", "is_staff", "created_at"]
    search_fields = ["username", "email"]
    ordering = ["username"]
    readonly_fields = ["id", "password", "is_active", "last_login", "last_active_at", "created_at", "updated_at"]
    fields = [
        "id", "username", "email", "status", "role", "avatar_url",
        "is_staff", "is_superuser", "groups", "user_permissions",
        "password", "is_active", "last_login", "last_active_at", "created_at", "updated_at",
    ]
    filter_horizontal = ["groups", "user_permissions"]
