"""Path safety and remote permissions: the one place these rules live.

Paths inside a remote are canonical: ``/`` or ``/a/b`` (leading slash, no
trailing slash, no empty, ``.`` or ``..`` segments). ``..``, backslashes, NUL
and other control characters are refused outright rather than normalised, so
nothing can walk out of a remote. The only remote string ever built is
``<validated name>:<relative path>`` (``remote_string``).

Grants (``RemotePermission``) give ``read``/``write``/``delete``/``admin``
on a remote; path rules ``{"path": glob, "allow": [...], "deny": [...]}``
refine them. A rule applies to a path when its glob matches the path or one
of its ancestors (``/private/*`` covers everything under ``/private/x``). A
path has an action when the grants (or an applying rule's ``allow``) give it
and no applying rule denies it: **deny wins**, across every grant the user
holds (their own, their org roles', their departments'). ``admin`` implies
every action. Staff and users with role ``admin`` have every action on every
remote.

For a job, the root path of each side is checked here (at submit and again at
run). Deny rules that apply *below* a root become rclone filter rules
(``filter_lines``), so a file deep inside a copied tree is skipped too.
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import NotFound, PermissionDenied, ValidationFailed
from jobs.models import PERMISSIONS, REMOTE_NAME_RE, Remote, RemotePermission
from orgs.models import Membership

_NAME_RE = re.compile(REMOTE_NAME_RE)
_BAD_CHARS_RE = re.compile(r"[\x00-\x1f\x7f\\]")
MAX_PATH_LENGTH = 4096
ACTIONS = ("read", "write", "delete")


# --------------------------------------------------------------------------- paths


def validate_remote_name(name, *, field_name: str = "remote") -> str:
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise ValidationFailed(fields={field_name: [_("Use 1-64 letters, digits or underscores.")]})
    return name


def canonical_path(path, *, field_name: str = "path") -> str:
    """``"a/b/"`` -> ``"/a/b"``; ``""`` -> ``"/"``. Refuses ``..``,
    backslashes, NUL and control characters."""
    if path is None:
        path = ""
    if not isinstance(path, str):
        raise ValidationFailed(fields={field_name: [_("Must be a string.")]})
    if len(path) > MAX_PATH_LENGTH:
        raise ValidationFailed(fields={field_name: [_("Too long.")]})
    if _BAD_CHARS_RE.search(path):
        raise ValidationFailed(fields={field_name: [_("Backslashes and control characters are not allowed.")]})
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise ValidationFailed(fields={field_name: [_("'..' is not allowed.")]})
    return "/" + "/".join(parts)


def join_path(base: str, name: str) -> str:
    return canonical_path(f"{base.rstrip('/')}/{name}")


def remote_string(remote: Remote, path: str) -> str:
    """The only way a remote string is built: ``<validated name>:<path>``."""
    name = validate_remote_name(remote.name)
    return f"{name}:{canonical_path(path).lstrip('/')}"


def validate_local_root(root) -> str:
    """A local remote's root must be an absolute directory inside one of
    RCLONE_LOCAL_ROOTS (after resolving symlinks)."""
    if not isinstance(root, str) or not root or _BAD_CHARS_RE.search(root) or not os.path.isabs(root):
        raise ValidationFailed(fields={"options.root": [_("Must be an absolute directory path.")]})
    resolved = os.path.realpath(root)
    for allowed in settings.RCLONE_LOCAL_ROOTS:
        allowed = os.path.realpath(allowed)
        if os.path.commonpath([resolved, allowed]) == allowed:
            return resolved
    raise ValidationFailed(fields={"options.root": [_("Must lie inside one of the directories in RCLONE_LOCAL_ROOTS.")]})


# --------------------------------------------------------------------------- rules


def validate_permissions(values) -> list[str]:
    if not isinstance(values, list) or any(v not in PERMISSIONS for v in values):
        raise ValidationFailed(fields={"permissions": [_("A list from %(names)s.") % {"names": ", ".join(PERMISSIONS)}]})
    return sorted(set(values), key=PERMISSIONS.index)


def validate_path_rules(rules) -> list[dict]:
    if rules is None:
        return []
    if not isinstance(rules, list) or len(rules) > 200:
        raise ValidationFailed(fields={"path_rules": [_("A list of %(shape)s (at most 200).") % {"shape": "{path, allow, deny}"}]})
    cleaned = []
    for i, rule in enumerate(rules):
        if not isinstance(rule, dict) or set(rule) - {"path", "allow", "deny"} or "path" not in rule:
            raise ValidationFailed(fields={f"path_rules.{i}": [_("Must be %(shape)s.") % {"shape": "{path, allow, deny}"}]})
        glob = canonical_path(rule["path"], field_name=f"path_rules.{i}.path")
        if "[" in glob or "]" in glob:
            raise ValidationFailed(fields={f"path_rules.{i}.path": [_("Only * and ? wildcards are supported.")]})
        allow = rule.get("allow") or []
        deny = rule.get("deny") or []
        for key, values in (("allow", allow), ("deny", deny)):
            if not isinstance(values, list) or any(v not in PERMISSIONS for v in values):
                raise ValidationFailed(fields={f"path_rules.{i}.{key}": [_("A list from %(names)s.") % {"names": ", ".join(PERMISSIONS)}]})
        cleaned.append({"path": glob, "allow": sorted(set(allow)), "deny": sorted(set(deny))})
    return cleaned


def _segments(path: str) -> list[str]:
    return [p for p in path.split("/") if p]


def _segment_match(name: str, pattern: str) -> bool:
    # fnmatchcase on one segment: '*' and '?' never cross '/', as in rclone globs.
    return fnmatch.fnmatchcase(name, pattern)


def rule_applies(glob: str, path: str) -> bool:
    """The glob matches the path or one of its ancestors."""
    g, p = _segments(glob), _segments(path)
    if len(g) > len(p):
        return False
    return all(_segment_match(name, pat) for name, pat in zip(p, g))


def within(path: str, root: str) -> bool:
    """``path`` is ``root`` or lies below it (plain segments, no globbing)."""
    p, r = _segments(path), _segments(root)
    return p[: len(r)] == r


def _implies(perms, action: str) -> bool:
    return action in perms or "admin" in perms


@dataclass
class Access:
    """One user's effective access to one remote."""

    superuser: bool = False
    permissions: set[str] = field(default_factory=set)
    rules: list[dict] = field(default_factory=list)

    def allows(self, action: str, path: str) -> bool:
        if self.superuser:
            return True
        applying = [r for r in self.rules if rule_applies(r["path"], path)]
        if any(_implies(r["deny"], action) for r in applying):
            return False
        return _implies(self.permissions, action) or any(_implies(r["allow"], action) for r in applying)

    @property
    def is_admin(self) -> bool:
        return self.superuser or "admin" in self.permissions

    @property
    def any(self) -> bool:
        return self.superuser or bool(self.permissions) or any(r["allow"] for r in self.rules)

    def deny_globs_below(self, action: str, root: str) -> list[str]:
        """Deny globs for ``action`` that apply somewhere strictly below
        ``root``, rewritten relative to it (rclone filter syntax)."""
        if self.superuser:
            return []
        root_parts = _segments(root)
        out = []
        for rule in self.rules:
            if not _implies(rule["deny"], action):
                continue
            g = _segments(rule["path"])
            if len(g) <= len(root_parts):
                continue  # applies to the root itself or above: checked by allows()
            if all(_segment_match(name, pat) for name, pat in zip(root_parts, g)):
                out.append("/" + "/".join(g[len(root_parts):]))
        return out


def is_superuser(user) -> bool:
    return bool(user.is_staff or getattr(user, "role", "") == "admin")


def can_create_remotes(user) -> bool:
    return bool(user.is_staff or getattr(user, "role", "") in ("admin", "power_user"))


def can_edit_remote(user, access: "Access") -> bool:
    """Changing a remote's options decides what it reaches, so it takes what
    creating one takes, and administering this remote."""
    return can_create_remotes(user) and access.is_admin


def grants_for(user, remote: Remote):
    """Every active grant that reaches ``user`` on ``remote``: direct, through
    an active org membership's role, or through its department."""
    now = timezone.now()
    memberships = Membership.objects.filter(user=user, is_active=True).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    )
    grantee = (
        Q(user=user) | Q(role__in=memberships.values("role")) | Q(department__in=memberships.values("department"))
    )
    return RemotePermission.objects.filter(grantee, remote=remote, is_active=True)


def access_for(user, remote: Remote) -> Access:
    if is_superuser(user):
        return Access(superuser=True)
    access = Access()
    for grant in grants_for(user, remote):
        access.permissions |= set(grant.permissions or [])
        access.rules.extend(grant.path_rules or [])
    return access


def get_remote(user, name) -> tuple[Remote, Access]:
    """The named active remote and the user's access; 404 when the user has
    no access at all (existence is not revealed)."""
    validate_remote_name(name)
    remote = Remote.objects.filter(name=name, is_active=True).first()
    if remote is None:
        raise NotFound(_("No such remote."))
    access = access_for(user, remote)
    if not access.any:
        raise NotFound(_("No such remote."))
    return remote, access


def require(access: Access, action: str, path: str, *, side: str = "source") -> None:
    if not access.allows(action, path):
        # One whole sentence per side and action, so each language words it its own way.
        sentences = {
            ("source", "read"): _("You may not read %(path)s on the source remote."),
            ("source", "write"): _("You may not write %(path)s on the source remote."),
            ("source", "delete"): _("You may not delete %(path)s on the source remote."),
            ("destination", "read"): _("You may not read %(path)s on the destination remote."),
            ("destination", "write"): _("You may not write %(path)s on the destination remote."),
            ("destination", "delete"): _("You may not delete %(path)s on the destination remote."),
        }
        sentence = sentences.get((side, action)) or _("You may not %(action)s %(path)s on the %(side)s remote.")
        raise PermissionDenied(sentence % {"action": action, "path": path, "side": side})


# --------------------------------------------------------------------------- jobs

# What each job type needs on each side.
NEEDS = {
    "copy": ({"read"}, {"write"}),
    "backup": ({"read"}, {"write"}),
    "move": ({"read", "delete"}, {"write"}),
    "sync": ({"read"}, {"write", "delete"}),
    "delete": ({"read", "delete"}, set()),
}


@dataclass
class Side:
    remote: Remote
    access: Access
    path: str

    @property
    def string(self) -> str:
        return remote_string(self.remote, self.path)


def check_job(user, job_type: str, source: dict, destination: dict | None) -> tuple[Side, Side | None]:
    """Resolve and authorise both sides of a job. Raises on any refusal."""
    if job_type not in NEEDS:
        raise ValidationFailed(fields={"type": [_("Must be one of %(names)s.") % {"names": ", ".join(NEEDS)}]})
    src_needs, dst_needs = NEEDS[job_type]
    if not isinstance(source, dict):
        raise ValidationFailed(fields={"source": [_("Must be %(shape)s.") % {"shape": "{remote, path}"}]})
    remote, access = get_remote(user, source.get("remote"))
    src = Side(remote, access, canonical_path(source.get("path"), field_name="source.path"))
    for action in sorted(src_needs):
        require(access, action, src.path, side="source")
    dst = None
    if dst_needs:
        if not isinstance(destination, dict):
            raise ValidationFailed(fields={"destination": [_("Required for this job type: %(shape)s.") % {"shape": "{remote, path}"}]})
        d_remote, d_access = get_remote(user, destination.get("remote"))
        dst = Side(d_remote, d_access, canonical_path(destination.get("path"), field_name="destination.path"))
        for action in sorted(dst_needs):
            require(d_access, action, dst.path, side="destination")
        if dst.remote.pk == src.remote.pk and (within(src.path, dst.path) or within(dst.path, src.path)):
            raise ValidationFailed(fields={"destination": [_("Source and destination must not overlap.")]})
    elif destination:
        raise ValidationFailed(fields={"destination": [_("Not used by a delete job.")]})
    return src, dst


def job_deny_globs(job_type: str, src: Side, dst: Side | None) -> list[str]:
    """Relative globs to exclude so deny rules hold inside the trees. rclone
    matches one filter set against both sides' relative paths."""
    src_needs, dst_needs = NEEDS[job_type]
    globs: list[str] = []
    for action in sorted(src_needs):
        globs += src.access.deny_globs_below(action, src.path)
    if dst is not None:
        for action in sorted(dst_needs):
            globs += dst.access.deny_globs_below(action, dst.path)
    return list(dict.fromkeys(globs))
