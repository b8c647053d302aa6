from django.contrib import admin

from orgs.models import Organization


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "display_name", "owner", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "display_name"]
    raw_id_fields = ["owner"]
