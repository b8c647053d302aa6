"""Organizations (seed 000): organizations, departments, positions, roles,
memberships (the seed's user_roles) and proxies (user_proxies).

Tables, constraints and indexes follow the seed. Rules that need more than one
row (tree cycles, max_members, "never zero owners") live in orgs.services;
the single permission check lives in orgs/permissions.py.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext, pgettext_lazy
from django.db.models import F, Q

ORG_NAME_PATTERN = r"^[a-zA-Z0-9_-]{3,50}$"

# The seed's system roles with the seed's permissions. The data migration
# 0003 inserts exactly these; Role.objects.system() reads (and, after a test
# flush, re-creates) them from here.
SYSTEM_ROLES: dict[str, dict] = {
    "owner": {"description": "Organization owner with full permissions", "permissions": {"*": ["*"]}},
    "admin": {
        "description": "Administrator with most permissions",
        "permissions": {"*": ["read", "write", "delete"]},
    },
    "member": {"description": "Regular member with basic permissions", "permissions": {"*": ["read"]}},
}
OWNER, ADMIN, MEMBER = "owner", "admin", "member"
# The system roles as people read them (the names above are the codes the
# API and the permission check use); a role an org made is shown by its name.
SYSTEM_ROLE_TEXTS = {
    OWNER: (pgettext_lazy("role", "Owner"), _("Organization owner with full permissions")),
    ADMIN: (pgettext_lazy("role", "Admin"), _("Administrator with most permissions")),
    MEMBER: (pgettext_lazy("role", "Member"), _("Regular member with basic permissions")),
}


class Organization(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # The handle, per the seed rule; display_name carries names in any script.
    name = models.CharField(verbose_name=_("name"),
        max_length=50,
        unique=True,
        validators=[RegexValidator(ORG_NAME_PATTERN, _("Use 3 to 50 letters, digits, _ or -."))],
    )
    display_name = models.CharField(verbose_name=_("display name"), max_length=200, blank=True)
    description = models.TextField(verbose_name=_("description"), blank=True)
    # The primary owner. Their membership always carries the owner role
    # (services enforce it), so an org never has zero owners.
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("owner"), on_delete=models.PROTECT, related_name="owned_orgs")
    settings = models.JSONField(verbose_name=_("settings"), default=dict, blank=True)
    max_members = models.PositiveIntegerField(verbose_name=_("max members"), default=1000, validators=[MinValueValidator(1)])
    is_active = models.BooleanField(verbose_name=_("active"), default=True)
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(verbose_name=_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("organization")
        verbose_name_plural = _("organizations")
        db_table = "organizations"
        constraints = [
            models.CheckConstraint(condition=Q(name__regex=ORG_NAME_PATTERN), name="organizations_name_check"),
        ]
        indexes = [
            models.Index(fields=["owner"], name="idx_organizations_owner"),
            models.Index(fields=["is_active"], name="idx_organizations_active"),
        ]

    def __str__(self) -> str:
        return self.display_name or self.name


class Department(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey(
        Organization, verbose_name=_("organization"), on_delete=models.CASCADE, related_name="departments", db_column="organization_id"
    )
    name = models.CharField(verbose_name=_("name"), max_length=100)
    # The @handle that mentions the department's people in chat (issue 18):
    # a slug, unique within its organization; NULL when it has none.
    handle = models.SlugField(verbose_name=_("handle"), max_length=50, null=True, blank=True)
    description = models.TextField(verbose_name=_("description"), blank=True)
    # PROTECT rather than the seed's SET NULL: orphaned children could collide
    # with a root of the same name; the service refuses to delete a parent.
    parent = models.ForeignKey("self", verbose_name=_("parent"), on_delete=models.PROTECT, null=True, blank=True, related_name="children")
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("manager"), on_delete=models.SET_NULL, null=True, blank=True, related_name="managed_departments"
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(verbose_name=_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        db_table = "departments"
        ordering = ["name"]
        constraints = [
            # The seed's UNIQUE (organization_id, name, parent_id). Plain UNIQUE
            # treats NULLs as distinct, so roots get their own partial index.
            models.UniqueConstraint(
                fields=["org", "name", "parent"],
                condition=Q(parent__isnull=False),
                name="departments_name_unique_in_org",
            ),
            models.UniqueConstraint(
                fields=["org", "name"], condition=Q(parent__isnull=True), name="departments_root_name_unique_in_org"
            ),
            models.CheckConstraint(condition=~Q(parent=F("id")), name="departments_not_own_parent"),
            models.UniqueConstraint(fields=["org", "handle"], condition=Q(handle__isnull=False),
                                    name="departments_handle_unique_in_org"),
        ]
        indexes = [
            models.Index(fields=["org"], name="idx_departments_organization"),
            models.Index(fields=["parent"], name="idx_departments_parent"),
            models.Index(fields=["manager"], name="idx_departments_manager"),
        ]

    def __str__(self) -> str:
        return self.name


class Position(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey(
        Organization, verbose_name=_("organization"), on_delete=models.CASCADE, related_name="positions", db_column="organization_id"
    )
    title = models.CharField(verbose_name=_("title"), max_length=100)
    description = models.TextField(verbose_name=_("description"), blank=True)
    level = models.IntegerField(verbose_name=_("level"), default=1, validators=[MinValueValidator(1)])
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(verbose_name=_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("position")
        verbose_name_plural = _("positions")
        db_table = "positions"
        ordering = ["level", "title"]
        constraints = [
            models.UniqueConstraint(fields=["org", "title"], name="positions_title_unique_in_org"),
            models.CheckConstraint(condition=Q(level__gte=1), name="positions_level_check"),
        ]
        indexes = [
            models.Index(fields=["org"], name="idx_positions_organization"),
            models.Index(fields=["level"], name="idx_positions_level"),
        ]

    def __str__(self) -> str:
        return self.title


class RoleQuerySet(models.QuerySet):
    def system(self, name: str) -> "Role":
        """A system role by name. The data migration seeds them; a test-database
        flush removes them, so they are re-created from SYSTEM_ROLES if missing."""
        spec = SYSTEM_ROLES[name]
        role, _ = self.get_or_create(
            org=None,
            name=name,
            defaults={"is_system_role": True, "description": spec["description"], "permissions": spec["permissions"]},
        )
        return role

    def available_to(self, org: Organization) -> "RoleQuerySet":
        return self.filter(Q(org__isnull=True) | Q(org=org))


class Role(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # NULL for the system roles, which every org shares.
    org = models.ForeignKey(
        Organization, verbose_name=_("organization"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="roles",
        db_column="organization_id",
    )
    name = models.CharField(verbose_name=_("name"), max_length=50)
    description = models.TextField(verbose_name=_("description"), blank=True)
    # {resource: [actions]}, "*" a wildcard in either place (orgs/permissions.py).
    permissions = models.JSONField(verbose_name=_("permissions"), default=dict, blank=True)
    is_system_role = models.BooleanField(verbose_name=_("system role"), default=False)
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(verbose_name=_("updated at"), auto_now=True)

    objects = RoleQuerySet.as_manager()

    class Meta:
        verbose_name = _("role")
        verbose_name_plural = _("roles")
        db_table = "roles"
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["org", "name"], condition=Q(org__isnull=False), name="roles_name_unique_in_org"
            ),
            # UNIQUE (organization_id, name) lets NULL orgs repeat; system names must not.
            models.UniqueConstraint(fields=["name"], condition=Q(org__isnull=True), name="roles_system_name_unique"),
            models.CheckConstraint(
                condition=(Q(org__isnull=True) & Q(is_system_role=True))
                | (Q(org__isnull=False) & Q(is_system_role=False)),
                name="roles_system_role_check",
            ),
        ]
        indexes = [
            models.Index(fields=["org"], name="idx_roles_organization"),
            models.Index(fields=["is_system_role"], name="idx_roles_system"),
        ]

    def __str__(self) -> str:
        return str(SYSTEM_ROLE_TEXTS[self.name][0]) if self.is_system_role and self.name in SYSTEM_ROLE_TEXTS \
            else self.name

    @property
    def description_text(self) -> str:
        """The description as people read it: a system role's in their language."""
        if self.is_system_role and self.name in SYSTEM_ROLE_TEXTS:
            return str(SYSTEM_ROLE_TEXTS[self.name][1])
        return self.description


class Membership(models.Model):
    """The seed's user_roles: one row per (user, org)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="memberships")
    org = models.ForeignKey(
        Organization, verbose_name=_("organization"), on_delete=models.CASCADE, related_name="memberships", db_column="organization_id"
    )
    # PROTECT rather than the seed's CASCADE: deleting a role must not silently
    # remove people from the org; the service refuses while it is in use.
    role = models.ForeignKey(Role, verbose_name=_("role"), on_delete=models.PROTECT, related_name="memberships")
    department = models.ForeignKey(
        Department, verbose_name=_("department"), on_delete=models.SET_NULL, null=True, blank=True, related_name="memberships"
    )
    position = models.ForeignKey(Position, verbose_name=_("position"), on_delete=models.SET_NULL, null=True, blank=True, related_name="memberships")
    # Nullable (seed: NOT NULL) so a membership survives its assigner's deletion.
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("assigned by"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    assigned_at = models.DateTimeField(verbose_name=_("assigned at"), auto_now_add=True)
    # The seed's CHECK (expires_at > NOW()) is not a valid constraint (it would
    # fail on every dump/restore once the time passes); the service checks it
    # on assignment and the permission check at every use.
    expires_at = models.DateTimeField(verbose_name=_("expires at"), null=True, blank=True)
    is_active = models.BooleanField(verbose_name=_("active"), default=True)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        db_table = "user_roles"
        ordering = ["assigned_at"]
        constraints = [
            models.UniqueConstraint(fields=["user", "org"], name="user_roles_unique"),
        ]
        indexes = [
            models.Index(fields=["user"], name="idx_user_roles_user"),
            models.Index(fields=["org"], name="idx_user_roles_organization"),
            models.Index(fields=["role"], name="idx_user_roles_role"),
            models.Index(fields=["department"], name="idx_user_roles_department"),
            models.Index(fields=["position"], name="idx_user_roles_position"),
            models.Index(
                fields=["org", "user", "is_active"], condition=Q(is_active=True), name="idx_user_roles_org_user"
            ),
        ]

    def __str__(self) -> str:
        return gettext("%(user)s in %(org)s as %(role)s") % {"user": self.user_id, "org": self.org_id, "role": self.role_id}


class Proxy(models.Model):
    """The seed's user_proxies: `agent` may act for `principal` in `org`,
    within `permissions`, from `starts_at` until `expires_at` (open-ended when NULL)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    principal = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("principal"), on_delete=models.CASCADE, related_name="proxies_given")
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("agent"), on_delete=models.CASCADE, related_name="proxies_held")
    org = models.ForeignKey(Organization, verbose_name=_("organization"), on_delete=models.CASCADE, related_name="proxies", db_column="organization_id")
    permissions = models.JSONField(verbose_name=_("permissions"), default=dict, blank=True)
    starts_at = models.DateTimeField(verbose_name=_("starts at"))
    expires_at = models.DateTimeField(verbose_name=_("expires at"), null=True, blank=True)
    is_active = models.BooleanField(verbose_name=_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(verbose_name=_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("proxy")
        verbose_name_plural = _("proxies")
        db_table = "user_proxies"
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=~Q(principal=F("agent")), name="user_proxies_principal_agent_different"),
            models.CheckConstraint(
                condition=Q(expires_at__isnull=True) | Q(starts_at__lt=F("expires_at")),
                name="user_proxies_time_check",
            ),
            models.UniqueConstraint(fields=["principal", "agent", "org"], name="user_proxies_unique"),
        ]
        indexes = [
            models.Index(fields=["principal"], name="idx_user_proxies_principal"),
            models.Index(fields=["agent"], name="idx_user_proxies_agent"),
            models.Index(fields=["org"], name="idx_user_proxies_organization"),
            models.Index(fields=["is_active", "expires_at"], name="idx_user_proxies_active"),
        ]

    def __str__(self) -> str:
        return gettext("%(agent)s for %(principal)s in %(org)s") % {
            "agent": self.agent_id, "principal": self.principal_id, "org": self.org_id}
