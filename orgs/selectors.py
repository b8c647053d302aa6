"""Reads scoped to the actor (architecture.md, "selectors").

Every function takes the actor (and the principal when acting through a
proxy) and checks read permission on the resource first, through the same
`_authorize` the services use: someone with no access to the org gets
NotFound, a member without the right gets PermissionDenied.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from core.errors import NotFound, ValidationFailed, parse_uuid
from orgs.models import Department, Membership, Organization, Position, Proxy, Role
from orgs.permissions import active_membership_q, effective_grant
from orgs.permissions import authorize as _authorize


def orgs_for_user(*, user: User) -> QuerySet[Organization]:
    """The active orgs where the user holds an active, unexpired membership."""
    member_of = Membership.objects.filter(active_membership_q(), user=user).values("org_id")
    return Organization.objects.filter(is_active=True, id__in=member_of).select_related("owner")


def _org(org_id) -> Organization:
    try:
        return Organization.objects.select_related("owner").get(pk=parse_uuid(org_id, "org_id"))
    except (Organization.DoesNotExist, ValidationFailed):
        raise NotFound(_("Organization not found.")) from None


def org_get(*, actor: User, org_id, acting_for: User | None = None) -> Organization:
    """The org if the actor (as acting_for) may read it; NotFound otherwise,
    so non-members cannot tell a hidden org from a missing one."""
    org = _org(org_id)
    _authorize(actor, org, "org", "read", acting_for=acting_for)
    return org


def org_for_member(*, actor: User, org_id) -> Organization:
    """The org if the actor is an active member of it, whatever their role
    holds (the permission check answers any member about themselves);
    NotFound otherwise, the same answer org_get gives a non-member."""
    org = _org(org_id)
    if effective_grant(actor, org).permissions is None:
        raise NotFound(_("Organization not found."))
    return org


def principals_for(*, agent: User, org: Organization) -> list[User]:
    """Users the agent may act for in this org right now (for the pages' switch)."""
    now = timezone.now()
    proxies = Proxy.objects.filter(agent=agent, org=org, is_active=True, starts_at__lte=now).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    )
    users = User.objects.filter(id__in=proxies.values("principal_id")).order_by("username")
    return [u for u in users if effective_grant(agent, org, acting_for=u).permissions is not None]


def departments_for(*, actor: User, org: Organization, acting_for: User | None = None) -> QuerySet[Department]:
    _authorize(actor, org, "departments", "read", acting_for=acting_for)
    return org.departments.select_related("manager", "parent")


def department_get(*, actor: User, org: Organization, department_id, acting_for: User | None = None) -> Department:
    qs = departments_for(actor=actor, org=org, acting_for=acting_for)
    try:
        return qs.get(pk=parse_uuid(department_id, "id"))
    except Department.DoesNotExist:
        raise NotFound(_("Department not found.")) from None


def department_tree(
    *, actor: User, org: Organization, acting_for: User | None = None, with_members: bool = False
) -> list[dict]:
    """The department forest as nested dicts {department, children[, members]},
    siblings by name. Built in memory from one query per table."""
    departments = list(departments_for(actor=actor, org=org, acting_for=acting_for).order_by("name"))
    members: dict = {}
    if with_members:
        for m in members_for(actor=actor, org=org, acting_for=acting_for).filter(department__isnull=False):
            members.setdefault(m.department_id, []).append(m)
    nodes = {d.pk: {"department": d, "children": [], "members": members.get(d.pk, [])} for d in departments}
    roots = []
    for d in departments:
        parent = nodes.get(d.parent_id)
        (parent["children"] if parent else roots).append(nodes[d.pk])
    return roots


def positions_for(*, actor: User, org: Organization, acting_for: User | None = None) -> QuerySet[Position]:
    _authorize(actor, org, "positions", "read", acting_for=acting_for)
    return org.positions.all()


def position_get(*, actor: User, org: Organization, position_id, acting_for: User | None = None) -> Position:
    try:
        return positions_for(actor=actor, org=org, acting_for=acting_for).get(pk=parse_uuid(position_id, "id"))
    except Position.DoesNotExist:
        raise NotFound(_("Position not found.")) from None


def roles_for(*, actor: User, org: Organization, acting_for: User | None = None) -> QuerySet[Role]:
    """The system roles and the org's own."""
    _authorize(actor, org, "roles", "read", acting_for=acting_for)
    return Role.objects.available_to(org)


def role_get(*, actor: User, org: Organization, role_id, acting_for: User | None = None) -> Role:
    try:
        return roles_for(actor=actor, org=org, acting_for=acting_for).get(pk=parse_uuid(role_id, "id"))
    except Role.DoesNotExist:
        raise NotFound(_("Role not found.")) from None


def members_for(
    *, actor: User, org: Organization, acting_for: User | None = None, q: str = "", include_inactive=False
) -> QuerySet[Membership]:
    """Members, searchable by name (username or email), department and position.
    Lapsed memberships are listed only when include_inactive is set."""
    _authorize(actor, org, "members", "read", acting_for=acting_for)
    qs = org.memberships.select_related("user", "role", "department", "position", "assigned_by")
    if not include_inactive:
        qs = qs.filter(active_membership_q())
    q = (q or "").strip()
    if q:
        qs = qs.filter(
            Q(user__username__icontains=q)
            | Q(user__email__istartswith=q)
            | Q(department__name__icontains=q)
            | Q(position__title__icontains=q)
        )
    return qs


def member_get(*, actor: User, org: Organization, user_id, acting_for: User | None = None) -> Membership:
    qs = members_for(actor=actor, org=org, acting_for=acting_for, include_inactive=True)
    try:
        return qs.get(user_id=parse_uuid(user_id, "user_id"))
    except Membership.DoesNotExist:
        raise NotFound(_("Member not found.")) from None


def proxies_for(*, actor: User, org: Organization, acting_for: User | None = None) -> QuerySet[Proxy]:
    """All proxies for those who may read them; otherwise only the actor's own."""
    qs = org.proxies.select_related("principal", "agent")
    grant = effective_grant(actor, org, acting_for=acting_for)
    if grant.check("proxies", "read"):
        return qs
    _authorize(actor, org, "org", "read", acting_for=acting_for)
    me = acting_for or actor
    return qs.filter(Q(principal=me) | Q(agent=me))


def proxy_get(*, actor: User, org: Organization, proxy_id, acting_for: User | None = None) -> Proxy:
    try:
        return proxies_for(actor=actor, org=org, acting_for=acting_for).get(pk=parse_uuid(proxy_id, "id"))
    except Proxy.DoesNotExist:
        raise NotFound(_("Proxy not found.")) from None


def org_chart(*, actor: User, org: Organization, acting_for: User | None = None) -> dict:
    """The tree with managers and members, plus members in no department.
    Shows only the parts the actor may read (a narrow proxy may cover one)."""
    _authorize(actor, org, "org", "read", acting_for=acting_for)
    grant = effective_grant(actor, org, acting_for=acting_for)
    see_members = grant.check("members", "read")
    tree, unassigned = [], []
    if grant.check("departments", "read"):
        tree = department_tree(actor=actor, org=org, acting_for=acting_for, with_members=see_members)
    if see_members:
        unassigned = list(
            members_for(actor=actor, org=org, acting_for=acting_for)
            .filter(department__isnull=True)
            .order_by("user__username")
        )
    return {"tree": tree, "unassigned": unassigned, "members_visible": see_members}
