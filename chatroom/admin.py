from django.contrib import admin

from chatroom.models import Room


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "org", "is_private", "archived", "created_at"]
    list_filter = ["is_private", "archived"]
    search_fields = ["name", "description"]
    raw_id_fields = ["owner", "org"]
    exclude = ["password_hash"]
