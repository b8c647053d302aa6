"""The one permission check: has_permission(user, org, resource, action, acting_for=None, at=None).

Rules
- A user's grants in an org come from their membership's role: the membership
  must be active and unexpired, and the org and the user active.
- Acting for a principal through a proxy allows only what the principal's role
  allows AND what the proxy grants, only inside the proxy's window, and only
  while the agent is still an active member themselves.
- Permissions are JSON {resource: [actions]}; "*" is a wildcard for either.
  Grants add up: {"*": ["read"], "docs": ["write"]} allows docs.read and docs.write.
- Expiry counts at check time: a cached grant carries the interval in which it
  holds and is ignored outside it.

Cache (seed 000's key plan: org:{org_id}:permissions:{user_id}, 15 minutes)
- One entry per (org, user, acting_for) holds the permission dicts, `via`,
  the validity interval and the org's permission version.
- Every change that can affect a grant (membership, role, proxy, org) bumps
  the org's version (bump_version), so older entries are never used again.
  The version key and the entry are read with one GET_MANY round trip.
- While Redis is down (config.faults policies): checks are computed from the
  database (permission_cache fails open), and a change that cannot bump the
  version answers 503 (permission_invalidation fails closed), since Redis may
  come back with the entries cached before it.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime

from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from config.faults import CLOSED, OPEN, redis_policy
from core.errors import NotFound, PermissionDenied
from core.replicas import primary_only
from orgs.models import Membership, Proxy

PERMISSIONS_TTL = 15 * 60  # seconds; seed 000: "permissions 15 min"
WILDCARD = "*"
# Resource and action names: lowercase words with _ . : -, or the wildcard.
NAME_PATTERN = re.compile(r"^(\*|[a-z][a-z0-9_.:-]{0,49})$")
FOREVER = float("inf")


# --------------------------------------------------------------------------- permission dicts


def allows(permissions: dict, resource: str, action: str) -> bool:
    """Whether one {resource: [actions]} dict allows resource.action."""
    for key in (resource, WILDCARD):
        actions = permissions.get(key)
        if actions and (action in actions or WILDCARD in actions):
            return True
    return False


def covers(granter: dict, granted: dict) -> bool:
    """Whether everything `granted` allows is also allowed by `granter`.
    Used so nobody hands out more than they hold themselves."""
    for resource, actions in granted.items():
        for action in actions:
            # A wildcard in `granted` is covered only by a wildcard in `granter`.
            if not allows(granter, resource, action):
                return False
    return True


def permissions_errors(value) -> list[str]:
    """Validation messages for a permissions dict; empty when it is valid."""
    if not isinstance(value, dict):
        return [_('Permissions must be an object like {"resource": ["action", ...]}.')]
    errors = []
    for resource, actions in value.items():
        if not isinstance(resource, str) or not NAME_PATTERN.match(resource):
            errors.append(_("%(resource)r is not a valid resource name.") % {"resource": resource})
        if not isinstance(actions, list) or not actions:
            errors.append(_("The actions for %(resource)r must be a non-empty list.") % {"resource": resource})
            continue
        for action in actions:
            if not isinstance(action, str) or not NAME_PATTERN.match(action):
                errors.append(_("%(action)r is not a valid action name.") % {"action": action})
    return errors


# --------------------------------------------------------------------------- versions


def _version_key(org_id) -> str:
    return f"org:{org_id}:permissions:version"


def _entry_key(org_id, user_id, acting_for_id) -> str:
    key = f"org:{org_id}:permissions:{user_id}"
    return f"{key}:as:{acting_for_id}" if acting_for_id else key


def _current_version(org_id, raw) -> int:
    if raw is not None:
        return raw
    # A missing version (first use, eviction, cache flush) starts from the
    # clock, never from 0, so an entry written under an older counter can
    # never match again.
    fresh = time.time_ns()
    if cache.add(_version_key(org_id), fresh, timeout=None):
        return fresh
    return cache.get(_version_key(org_id)) or fresh


def _incr_version(org_id) -> None:
    try:
        cache.incr(_version_key(org_id))
    except ValueError:  # no version yet: any start value invalidates old entries
        cache.add(_version_key(org_id), time.time_ns(), timeout=None)


_bump_now = redis_policy(
    "permission_invalidation", fails=CLOSED,
    means="a change to memberships, roles, proxies or an org answers 503: its entries could not be invalidated",
)(_incr_version)
# The change has committed by then and the first bump already keeps older
# entries from being used; the second one only narrows a race (see below).
_bump_after_commit = redis_policy(
    "permission_invalidation_after_commit", fails=OPEN, fallback=None,
    means="skipped; the bump made inside the transaction stands",
)(_incr_version)


def bump_version(org_id) -> None:
    """Invalidate every cached grant in the org.

    Bumped right away *and* again on commit: the first stops readers from
    using entries cached before the change, the second throws away entries a
    reader cached from the pre-commit state in between. (Outside a
    transaction both happen at once; inside the test's transaction the first
    one keeps the tests honest.)"""
    _bump_now(org_id)
    transaction.on_commit(lambda: _bump_after_commit(org_id))


# --------------------------------------------------------------------------- computing grants


@dataclass(frozen=True)
class Grant:
    """What a user may do in an org between valid_from and valid_until
    (epoch seconds). `permissions` is a list of dicts that must all allow an
    action (one for a role, two for a proxy: the principal's role and the
    proxy's own grant); None means no access."""

    permissions: list[dict] | None
    via: str | None
    valid_from: float
    valid_until: float

    def check(self, resource: str, action: str) -> bool:
        return self.permissions is not None and all(allows(p, resource, action) for p in self.permissions)

    def holds_at(self, ts: float) -> bool:
        return self.valid_from <= ts < self.valid_until


def _ts(value: datetime | None, default: float) -> float:
    return value.timestamp() if value is not None else default


def _role_grant(row, at: float) -> Grant:
    """The Grant from one membership row (or None: no membership)."""
    if row is None:
        return Grant(None, None, -FOREVER, FOREVER)
    expires = _ts(row["expires_at"], FOREVER)
    if at >= expires:
        return Grant(None, None, expires, FOREVER)
    return Grant([row["role__permissions"] or {}], "role", -FOREVER, expires)


def _membership_rows(org_id, user_ids) -> dict:
    rows = Membership.objects.filter(user_id__in=user_ids, org_id=org_id, is_active=True, org__is_active=True)
    return {r["user_id"]: r for r in rows.values("user_id", "expires_at", "role__permissions")}


def _membership_grant(user_id, org_id, at: float) -> Grant:
    return _role_grant(_membership_rows(org_id, [user_id]).get(user_id), at)


def _proxy_grant(agent_id, principal_id, org_id, at: float) -> Grant:
    rows = _membership_rows(org_id, [principal_id, agent_id])  # both in one query
    principal = _role_grant(rows.get(principal_id), at)
    agent = _role_grant(rows.get(agent_id), at)
    row = (
        Proxy.objects.filter(principal_id=principal_id, agent_id=agent_id, org_id=org_id, is_active=True)
        .values("permissions", "starts_at", "expires_at")
        .first()
    )
    if row is None:
        start, end = -FOREVER, FOREVER
        inside = False
    else:
        start, end = _ts(row["starts_at"], -FOREVER), _ts(row["expires_at"], FOREVER)
        inside = start <= at < end
    # The interval in which this answer stays the same: where all three parts hold.
    if row is not None and not inside:
        start, end = (-FOREVER, start) if at < start else (end, FOREVER)
    valid_from = max(principal.valid_from, agent.valid_from, start)
    valid_until = min(principal.valid_until, agent.valid_until, end)
    if not inside or principal.permissions is None or agent.permissions is None:
        return Grant(None, None, valid_from, valid_until)
    return Grant(principal.permissions + [row["permissions"] or {}], "proxy", valid_from, valid_until)


def _compute(user_id, org_id, acting_for_id, at: float) -> Grant:
    if acting_for_id is None:
        return _membership_grant(user_id, org_id, at)
    if acting_for_id == user_id:  # acting for yourself is just being yourself
        return _membership_grant(user_id, org_id, at)
    return _proxy_grant(user_id, acting_for_id, org_id, at)


# Grants are cached: computed from a replica, a stale one would outlive its lag.
@primary_only
def effective_grant(user, org, *, acting_for=None, at: datetime | None = None) -> Grant:
    """The cached Grant for user in org (as acting_for) at `at` (default now)."""
    now = time.time()
    ts = at.timestamp() if at is not None else now
    if not getattr(user, "is_active", False) or not org.is_active:
        return Grant(None, None, -FOREVER, FOREVER)
    if acting_for is not None and not acting_for.is_active:
        return Grant(None, None, -FOREVER, FOREVER)
    acting_for_id = acting_for.pk if acting_for is not None and acting_for.pk != user.pk else None
    key = _entry_key(org.pk, user.pk, acting_for_id)
    version, entry = _cached(org.pk, key)
    if entry is not None and entry[0] == version:
        grant = Grant(*entry[1:])
        if grant.holds_at(ts):
            return grant
    grant = _compute(user.pk, org.pk, acting_for_id, ts)
    if version is not None and grant.holds_at(now):
        # Never keep an entry past the moment it stops being true.
        ttl = min(PERMISSIONS_TTL, grant.valid_until - now)
        if ttl >= 1:
            _store(key, (version, grant.permissions, grant.via, grant.valid_from, grant.valid_until), int(ttl))
    return grant


_PERMISSION_CACHE = redis_policy(
    "permission_cache", fails=OPEN, fallback=(None, None),
    means="each check is computed from the database, and nothing is cached",
)


@_PERMISSION_CACHE
def _cached(org_id, key) -> tuple:
    """(the org's version, the cached entry or None) in one round trip."""
    vkey = _version_key(org_id)
    found = cache.get_many([vkey, key])
    return _current_version(org_id, found.get(vkey)), found.get(key)


@_PERMISSION_CACHE
def _store(key, entry, ttl: int) -> None:
    cache.set(key, entry, ttl)


def has_permission(user, org, resource: str, action: str, acting_for=None, at: datetime | None = None) -> bool:
    """Whether `user` may do `action` on `resource` in `org` (as `acting_for`
    through a proxy when given) at time `at` (default: now)."""
    return effective_grant(user, org, acting_for=acting_for, at=at).check(resource, action)


# Asking what another user may do (permissions/check?as_user=) reveals that
# user's grants, so it takes a manager's power, not just membership.
CHECK_OTHERS = ("members", "write")


def check_permission(user, org, resource: str, action: str, acting_for=None, *, about=None) -> dict:
    """The permissions/check answer: {allowed, via}.

    About the caller themselves (any active member may ask, whatever their
    role holds), or, with ``acting_for``, about what the caller may do for
    that principal through their proxy (via "proxy"). With ``about`` another
    user, about that user's own grant: the caller (as acting_for, when
    given) needs CHECK_OTHERS, or gets PermissionDenied."""
    if about is not None and about.pk != user.pk:
        authorize(user, org, *CHECK_OTHERS, acting_for=acting_for)
        grant = effective_grant(about, org)
    else:
        grant = effective_grant(user, org, acting_for=acting_for)
    allowed = grant.check(resource, action)
    return {"allowed": allowed, "via": grant.via if allowed else None}


# The words of a refusal: the built-in resources and actions in the reader's
# language, an org's own ones as they are named.
RESOURCE_WORDS = {"org": gettext_lazy("the organization"), "departments": gettext_lazy("departments"),
                  "positions": gettext_lazy("positions"), "roles": gettext_lazy("roles"),
                  "members": gettext_lazy("members"), "proxies": gettext_lazy("proxies")}
ACTION_WORDS = {"read": gettext_lazy("read"), "write": gettext_lazy("write"), "delete": gettext_lazy("delete")}


def _word(words: dict, name: str) -> str:
    return str(words.get(name, name))


def authorize(actor, org, resource: str, action: str, *, acting_for=None, as_staff: bool = False) -> None:
    """Allow the actor, or raise. Someone with no access to the org at all
    learns nothing about it (NotFound); a member lacking this right gets
    PermissionDenied. `as_staff` is passed only by the Django admin."""
    if as_staff and actor.is_staff and actor.is_active:
        return
    grant = effective_grant(actor, org, acting_for=acting_for)
    if grant.check(resource, action):
        return
    if grant.permissions is None:
        if acting_for is not None and effective_grant(actor, org).permissions is not None:
            raise PermissionDenied(_("You have no active proxy for %(user)s in this organization.")
                                   % {"user": acting_for.username})
        raise NotFound(_("Organization not found."))
    raise PermissionDenied(_("You may not %(action)s %(resource)s in this organization.")
                           % {"action": _word(ACTION_WORDS, action), "resource": _word(RESOURCE_WORDS, resource)})


def acting_for_principal(agent, org, principal_id):
    """Whom ``agent`` acts for in ``org`` when they name ``principal_id``
    (the API's X-Act-As, the pages' "acting as" switch): None for
    themselves, the principal while a proxy for them works (active, inside
    its window, both still members), else PermissionDenied."""
    if principal_id is None or str(principal_id) == str(agent.pk):
        return None
    principal = User.objects.filter(pk=principal_id).first()
    if principal is None or effective_grant(agent, org, acting_for=principal).permissions is None:
        raise PermissionDenied(_("You have no active proxy for that user in this organization."))
    return principal


def active_membership_q(at: datetime | None = None) -> Q:
    """Memberships that count right now (for selectors and max_members)."""
    at = at or timezone.now()
    return Q(is_active=True) & (Q(expires_at__isnull=True) | Q(expires_at__gt=at))
