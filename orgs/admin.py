"""Staff admin for orgs. Writes go through orgs.services (as_staff=True), so
the same rules (tree cycles, max_members, owners, proxy windows) and the same
audit entries apply as on the pages and the API. A service refusal comes back
as an error message on the form page, with nothing saved."""

from __future__ import annotations

import json

from django.contrib import admin
from django.db.models import Q
from django.utils.html import format_html
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config.admin_actions import ReadOnly, ServiceErrorsAsMessages
from orgs import services
from orgs.models import Department, Membership, Organization, Position, Proxy, Role


def _changed(form, fields) -> dict:
    return {f: form.cleaned_data[f] for f in fields if f in form.changed_data}


class DepartmentInline(admin.TabularInline):
    model = Department
    fk_name = "org"
    extra = 0
    fields = ["name", "handle", "parent", "manager", "description"]
    raw_id_fields = ["parent", "manager"]


class PositionInline(admin.TabularInline):
    model = Position
    extra = 0
    fields = ["title", "level", "description"]


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ["user", "role", "department", "position", "expires_at", "is_active"]
    raw_id_fields = ["user", "department", "position"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "role":
            kwargs["queryset"] = Role.objects.order_by("org", "name")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Organization)
class OrganizationAdmin(ServiceErrorsAsMessages, admin.ModelAdmin):
    list_display = ["name", "display_name", "owner", "max_members", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "display_name"]
    raw_id_fields = ["owner"]
    inlines = [DepartmentInline, PositionInline, MembershipInline]
    readonly_fields = ["created_at", "updated_at"]

    def has_delete_permission(self, request, obj=None):
        # Orgs are switched off (is_active), not deleted: the audit trail and
        # the memberships' history keep referring to them.
        return False

    def save_model(self, request, obj, form, change):
        if not change:
            created = services.org_create(
                owner=obj.owner,
                actor=request.user,
                name=obj.name,
                display_name=obj.display_name,
                description=obj.description,
                max_members=obj.max_members,
                settings=obj.settings,
            )
            obj.pk, obj.created_at, obj.updated_at = created.pk, created.created_at, created.updated_at
            obj._state.adding = False
            return
        current = Organization.objects.get(pk=obj.pk)
        fields = _changed(form, ["name", "display_name", "description", "settings", "max_members", "is_active"])
        if fields:
            services.org_update(actor=request.user, org=current, as_staff=True, **fields)
        if "owner" in form.changed_data:
            services.org_transfer_ownership(actor=request.user, org=current, new_owner=obj.owner, as_staff=True)

    def save_formset(self, request, form, formset, change):
        org = form.instance
        staff = {"actor": request.user, "as_staff": True}
        formset.save(commit=False)
        for obj in formset.deleted_objects:
            if isinstance(obj, Department):
                services.department_delete(department=obj, **staff)
            elif isinstance(obj, Position):
                services.position_delete(position=obj, **staff)
            elif isinstance(obj, Membership):
                services.member_remove(membership=Membership.objects.get(pk=obj.pk), **staff)
        for inline_form in formset.forms:
            if inline_form in formset.deleted_forms or not inline_form.has_changed():
                continue
            obj, data = inline_form.instance, inline_form.cleaned_data
            is_new = obj._state.adding
            if isinstance(obj, Department):
                if is_new:
                    services.department_create(
                        org=org, name=data["name"], parent=data.get("parent"), manager=data.get("manager"),
                        description=data.get("description", ""), handle=data.get("handle"), **staff,
                    )
                else:
                    services.department_update(
                        department=Department.objects.get(pk=obj.pk),
                        **_changed(inline_form, ["name", "handle", "parent", "manager", "description"]), **staff,
                    )
            elif isinstance(obj, Position):
                if is_new:
                    services.position_create(
                        org=org, title=data["title"], level=data.get("level") or 1,
                        description=data.get("description", ""), **staff,
                    )
                else:
                    services.position_update(
                        position=Position.objects.get(pk=obj.pk),
                        **_changed(inline_form, ["title", "level", "description"]), **staff,
                    )
            elif isinstance(obj, Membership):
                if is_new:
                    services.member_add(
                        org=org, user=data["user"], role=data["role"], department=data.get("department"),
                        position=data.get("position"), expires_at=data.get("expires_at"), **staff,
                    )
                else:
                    services.member_update(
                        membership=Membership.objects.get(pk=obj.pk),
                        **_changed(inline_form, ["role", "department", "position", "expires_at", "is_active"]),
                        **staff,
                    )


class ExpiredFilter(admin.SimpleListFilter):
    title = _("expired")
    parameter_name = "expired"

    def lookups(self, request, model_admin):
        return [("yes", _("Expired")), ("no", _("Not expired"))]

    def queryset(self, request, queryset):
        lapsed = Q(expires_at__isnull=False, expires_at__lte=timezone.now())
        if self.value() == "yes":
            return queryset.filter(lapsed)
        if self.value() == "no":
            return queryset.exclude(lapsed)
        return queryset


@admin.register(Proxy)
class ProxyAdmin(ServiceErrorsAsMessages, admin.ModelAdmin):
    list_display = ["org", "principal", "agent", "starts_at", "expires_at", "is_active"]
    list_filter = ["is_active", ExpiredFilter, "org"]
    search_fields = ["principal__username", "agent__username", "org__name"]
    raw_id_fields = ["principal", "agent", "org"]
    readonly_fields = ["created_by", "created_at", "updated_at"]

    def get_readonly_fields(self, request, obj=None):
        # Who, where and from when are fixed once created; end it and make a new one instead.
        fixed = ["principal", "agent", "org", "starts_at"] if obj else []
        return [*fixed, *self.readonly_fields]

    def save_model(self, request, obj, form, change):
        if not change:
            created = services.proxy_create(
                actor=request.user, as_staff=True, org=obj.org, principal=obj.principal, agent=obj.agent,
                permissions=obj.permissions, starts_at=obj.starts_at, expires_at=obj.expires_at,
            )
            obj.pk, obj.created_at, obj.updated_at = created.pk, created.created_at, created.updated_at
            obj._state.adding = False
            return
        services.proxy_update(
            actor=request.user, as_staff=True, proxy=Proxy.objects.get(pk=obj.pk),
            **_changed(form, ["permissions", "expires_at", "is_active"]),
        )

    def delete_model(self, request, obj):
        services.proxy_delete(actor=request.user, as_staff=True, proxy=obj)

    def delete_queryset(self, request, queryset):
        for proxy in queryset:
            services.proxy_delete(actor=request.user, as_staff=True, proxy=proxy)


@admin.register(Membership)
class MembershipAdmin(ReadOnly, ServiceErrorsAsMessages, admin.ModelAdmin):
    """Read and filter memberships across orgs; edits happen on the org page."""

    list_display = ["user", "org", "role", "department", "position", "expires_at", "is_active"]
    list_filter = ["is_active", ExpiredFilter, "role"]
    search_fields = ["user__username", "org__name"]
    list_select_related = ["user", "org", "role", "department", "position"]



@admin.register(Role)
class RoleAdmin(ReadOnly, admin.ModelAdmin):
    """Read-only: system roles are fixed, and org roles are managed on the org
    pages or the API, where the no-escalation rule applies."""

    list_display = ["role_name", "org", "is_system_role", "description_text", "permission_codes", "updated_at"]
    fields = ["role_name", "org", "is_system_role", "description_text", "permission_codes", "created_at", "updated_at"]
    readonly_fields = fields
    list_filter = ["is_system_role"]
    search_fields = ["name", "org__name"]

    @admin.display(description=_("name"), ordering="name")
    def role_name(self, obj):
        return str(obj)  # a system role's in the reader's language

    @admin.display(description=_("description"))
    def description_text(self, obj):
        return obj.description_text

    @admin.display(description=_("permissions"))
    def permission_codes(self, obj):
        # {resource: [actions]}: codes, as the permission check reads them.
        return format_html('<span translate="no">{}</span>', json.dumps(obj.permissions, ensure_ascii=False))

