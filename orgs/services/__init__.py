"""Every write to orgs goes through here (architecture.md, "services"), one
module per use case; this package re-exports them, so callers import
``orgs.services``.

Each service takes keyword-only arguments, runs in one transaction, checks
the actor's permission with orgs.permissions (``base.Who``), writes one
audit entry per change, and drops cached grants (``bump_version``) when the
change can affect them. The audit entry's details say what changed in the
one shape of core.changes, ``{field: {"old": ..., "new": ...}}``: an update
names the fields it changed, a create every field (from None, or from what
a row renewed in place held), a delete every field (to None).

Common arguments:
- `actor`: the user making the change.
- `acting_for`: the principal when the actor acts through a proxy (X-Act-As,
  or the pages' "acting as" switch). Permission is then the intersection of
  the principal's role and the proxy, and the audit entry names both.
- `as_staff`: set only by the Django admin: a staff actor may then manage any
  org without being a member of it.
- Fields of an update default to core.changes.UNSET: leave them alone.

Permission resources used here: org, departments, positions, roles, members,
proxies; actions read, write, delete, plus org.deactivate.
"""

from orgs.services.departments import department_create, department_delete, department_update
from orgs.services.housekeeping import tidy_expired
from orgs.services.memberships import member_add, member_remove, member_update
from orgs.services.organizations import org_create, org_transfer_ownership, org_update
from orgs.services.positions import position_create, position_delete, position_update
from orgs.services.proxies import proxy_create, proxy_delete, proxy_update
from orgs.services.roles import role_create, role_delete, role_update

__all__ = [
    "department_create", "department_delete", "department_update",
    "member_add", "member_remove", "member_update",
    "org_create", "org_transfer_ownership", "org_update",
    "position_create", "position_delete", "position_update",
    "proxy_create", "proxy_delete", "proxy_update",
    "role_create", "role_delete", "role_update",
    "tidy_expired",
]
