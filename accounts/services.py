"""Every write to accounts goes through here (architecture.md, "services").

Services take keyword-only arguments, run in one transaction, check the
actor's permission, and write their audit entry in that same transaction.
Secrets (passwords, tokens, keys) never reach an audit entry.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from knox.settings import knox_settings

from accounts import ratelimit, selectors
from accounts.errors import RegistrationClosed
from accounts.models import SCOPES, ApiKey, DeviceSession, Profile, User
from core import auditing
from core.changes import UNSET, apply_changes, given
from core.errors import (
    AccountBanned,
    AccountInactive,
    InvalidCredentials,
    PermissionDenied,
    Throttled,
    ValidationFailed,
    validate_model,
)
from realtime import broadcast

API_KEY_PREFIX = "thk_"


def _user_ref(user: User) -> dict:
    return {"resource_type": "user", "resource_id": str(user.pk)}


def _require_self_or_staff(actor: User | None, owner: User) -> None:
    if actor is None or not (actor.pk == owner.pk or actor.is_staff):
        raise PermissionDenied()


# --------------------------------------------------------------------------- users


def _check_password_rules(password: str, user: User) -> None:
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise ValidationFailed(fields={"password": list(exc.messages)}) from exc


@transaction.atomic
def user_create(
    *,
    username: str,
    email: str,
    password: str | None,
    role: str = User.Role.USER,
    is_staff: bool = False,
    is_superuser: bool = False,
    actor: User | None = None,
    audit_action: str = "user.created",
) -> User:
    user = User(
        username=username,
        email=User.objects.normalize_email(email),
        role=role,
        is_staff=is_staff,
        is_superuser=is_superuser,
    )
    user.set_password(password)
    # Named on its field (the database's functional unique index alone would
    # report it as a form-wide error).
    if user.email and User.objects.filter(email__iexact=user.email).exists():
        raise ValidationFailed(fields={"email": [_("An account with this email address already exists.")]})
    if User.objects.filter(username=user.username).exists():
        raise ValidationFailed(fields={"username": [_("An account with this username already exists.")]})
    # Model validation (username pattern and uniqueness, email format) runs
    # here so every face gets the same errors.
    validate_model(user, exclude=["password"])
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:
        # A concurrent sign-up took the name or address between check and insert.
        raise ValidationFailed(fields={"username": [_("This username or email address is already taken.")]}) from exc
    Profile.objects.create(user=user)
    auditing.record(
        action=audit_action,
        actor=actor or user,
        details={"username": user.username, "role": user.role, "is_staff": user.is_staff},
        **_user_ref(user),
    )
    return user


def user_register(*, username: str, email: str, password: str) -> User:
    """Self sign-up (page and API). Closed when REGISTRATION_OPEN is off."""
    if not settings.REGISTRATION_OPEN:
        raise RegistrationClosed()
    _check_password_rules(password, User(username=username, email=email))
    return user_create(username=username, email=email, password=password, audit_action="user.registered")


@transaction.atomic
def user_set_status(*, actor: User | None, user: User, status: str) -> User:
    """Ban, unban or deactivate. Leaving 'active' ends every session at once
    (API keys stop working too, since each use checks the owner's status)."""
    if actor is None or not actor.is_staff:
        raise PermissionDenied()
    if status not in User.Status.values:
        raise ValidationFailed(fields={"status": [_("Use one of %(names)s.") % {"names": ", ".join(User.Status.values)}]})
    if actor.pk == user.pk and status != User.Status.ACTIVE:
        raise PermissionDenied(_("You cannot ban or deactivate yourself."))
    user = User.objects.select_for_update().get(pk=user.pk)
    old = user.status
    if old == status:
        return user
    User.objects.filter(pk=user.pk).update(status=status, updated_at=timezone.now())
    user.refresh_from_db()
    ended = 0
    if status != User.Status.ACTIVE:
        ended = _end_sessions(user=user)
        # Open sockets were authenticated once, at connect: close them too.
        broadcast.end_user_sockets(user.id)
    if status == User.Status.BANNED:
        action = "user.banned"
    elif old == User.Status.BANNED:
        action = "user.unbanned"
    else:
        action = "user.status.changed"
    auditing.record(action=action, actor=actor, details={"old": {"status": old}, "new": {"status": status}, "sessions_ended": ended}, **_user_ref(user))
    return user


def user_ban(*, actor: User | None, user: User) -> User:
    return user_set_status(actor=actor, user=user, status=User.Status.BANNED)


def user_unban(*, actor: User | None, user: User) -> User:
    return user_set_status(actor=actor, user=user, status=User.Status.ACTIVE)


def user_touch_activity(*, user: User) -> None:
    """Keep last_active_at current with at most one write per interval
    (a Redis SET NX gate), not one per request."""
    if ratelimit.gate(f"active:{user.pk}", seconds=settings.LAST_ACTIVE_INTERVAL_SECONDS):
        now = timezone.now()
        User.objects.filter(pk=user.pk).update(last_active_at=now)
        user.last_active_at = now


# --------------------------------------------------------------------------- profiles


@transaction.atomic
def profile_update(
    *,
    actor: User,
    user: User,
    bio: str = UNSET,
    location: str = UNSET,
    website: str = UNSET,
    timezone: str = UNSET,
    language: str = UNSET,
    theme: str = UNSET,
    preferences: dict = UNSET,
    notifications: dict = UNSET,
    avatar_url: str = UNSET,
) -> Profile:
    """Change a profile, and the user's avatar (core.changes: UNSET leaves a field alone)."""
    _require_self_or_staff(actor, user)
    for name, value in (("preferences", preferences), ("notifications", notifications)):
        if value is not UNSET and not isinstance(value, dict):
            raise ValidationFailed(fields={name: [_("Must be a JSON object.")]})
    profile, _created = Profile.objects.select_for_update().get_or_create(user=user)
    changed = apply_changes(profile, given(
        bio=bio, location=location, website=website, timezone=timezone, language=language, theme=theme,
        preferences=preferences, notifications=notifications,
    ))
    avatar = apply_changes(user, given(avatar_url=avatar_url))
    if avatar:
        validate_model(user, exclude=["password"])
        user.save(update_fields=["avatar_url", "updated_at"])
    validate_model(profile)
    if changed or avatar:
        profile.save()
        auditing.record(action="user.profile.updated", actor=actor, details={**changed, **avatar}, **_user_ref(user))
    return profile


# --------------------------------------------------------------------------- login


def authenticate_login(*, login: str, password: str, ip: str | None) -> User:
    """Check a login (username or email) and password, with lockout.

    Unknown logins and wrong passwords fail the same way, count against the
    same limits and take the same time (the hasher runs either way). A right
    password on an inactive or banned account is refused with 403. Failures
    are audited in their own committed transaction, so raising afterwards
    cannot roll the entry back.
    """
    login = (login or "").strip()
    retry_after = ratelimit.login_locked_for(ip=ip, login=login)
    if retry_after:
        raise Throttled(
            _("Too many failed logins. Try again in %(time)s.") % {"time": _in_words(retry_after)},
            retry_after=retry_after
        )
    user = selectors.user_for_login(login)
    if user is None:
        User().set_password(password)  # same work as a real check: no timing oracle
        ok = False
    else:
        ok = user.check_password(password)
    if not ok:
        ratelimit.login_failure_record(ip=ip, login=login)
        with transaction.atomic():
            auditing.record(
                action="auth.login.failed",
                actor=None,
                result="failure",
                level="warning",
                details={"login": login[:150]},
                **(_user_ref(user) if user else {"resource_type": "user"}),
            )
        raise InvalidCredentials()
    ratelimit.login_success_record(login=login)
    if user.status == User.Status.BANNED:
        _audit_refused(user, "banned")
        raise AccountBanned()
    if user.status != User.Status.ACTIVE:
        _audit_refused(user, user.status)
        raise AccountInactive()
    return user


def _audit_refused(user: User, reason: str) -> None:
    with transaction.atomic():
        auditing.record(action="auth.login.failed", actor=user, result="failure", level="warning", details={"reason": reason}, **_user_ref(user))


def _in_words(seconds: int) -> str:
    minutes = -(-int(seconds) // 60)
    minutes = max(minutes, 1)
    return ngettext("%(count)s minute", "%(count)s minutes", minutes) % {"count": minutes}


def _session_ref(session: DeviceSession) -> dict:
    return {"resource_type": "session", "resource_id": str(session.pk)}


@transaction.atomic
def api_login(*, user: User, device_name: str = "", ip: str | None = None, user_agent: str = "") -> tuple[DeviceSession, str]:
    """A new device session for an already authenticated user. Returns the
    session and its token; the token is not stored, only knox's hash of it."""
    session, token = DeviceSession.objects.create(
        user=user,
        kind=DeviceSession.Kind.API,
        device_name=(device_name or "")[:100],
        ip=ip or None,
        user_agent=(user_agent or "")[:500],
    )
    User.objects.filter(pk=user.pk).update(last_login=session.created, last_active_at=session.created)
    auditing.record(action="auth.login", actor=user, details={"method": "token", "session_id": str(session.pk), "device_name": session.device_name}, **_session_ref(session))
    return session, token


@transaction.atomic
def web_session_start(
    *, user: User, session_key: str, expires_at: datetime, ip: str | None = None, user_agent: str = "", audit: bool = True
) -> DeviceSession:
    """Track a browser's Django session as a device (called on every
    django.contrib.auth login: pages, admin, tests)."""
    DeviceSession.objects.filter(session_key=session_key).delete()
    session = DeviceSession(
        user=user,
        kind=DeviceSession.Kind.WEB,
        session_key=session_key,
        token_key="",  # no API token can match a browser's row
        digest=f"web:{secrets.token_hex(32)}",
        ip=ip or None,
        user_agent=(user_agent or "")[:500],
        expiry=expires_at,
    )
    session.save()
    if audit:
        auditing.record(action="auth.login", actor=user, details={"method": "web", "session_id": str(session.pk)}, **_session_ref(session))
    return session


def device_session_touch(*, session: DeviceSession, session_key: str | None = None, ip: str | None = None) -> None:
    """Slide an API session's expiry forward (within the max lifetime) and
    note its last use: one write per MIN_REFRESH_INTERVAL, not per request.
    For a browser, follow its Django session key when it was rotated."""
    now = timezone.now()
    fields: dict = {}
    if session.kind == DeviceSession.Kind.WEB and session_key and session.session_key != session_key:
        fields["session_key"] = session_key
    if (now - session.last_used_at).total_seconds() >= knox_settings.MIN_REFRESH_INTERVAL:
        fields["last_used_at"] = now
        if ip:
            fields["ip"] = ip
        if session.kind == DeviceSession.Kind.API:
            new_expiry = now + knox_settings.TOKEN_TTL
            max_expiry = session.created + knox_settings.AUTO_REFRESH_MAX_TTL
            fields["expiry"] = min(new_expiry, max_expiry)
    if fields:
        DeviceSession.objects.filter(pk=session.pk).update(**fields)
        for name, value in fields.items():
            setattr(session, name, value)


def _delete_sessions(sessions) -> int:
    """Delete device sessions; browsers lose their Django session too, so the
    cookie stops working on its very next request."""
    store = selectors.session_store()
    keys = [s.session_key for s in sessions if s.session_key]
    count = DeviceSession.objects.filter(pk__in=[s.pk for s in sessions]).delete()[0]
    for key in keys:
        store(session_key=key).delete()
    # Sockets opened with these logins end too, not only the next request.
    broadcast.end_login_sockets([broadcast.login_group(device_session_id=s.pk) for s in sessions]
                                + [broadcast.login_group(session_key=key) for key in keys])
    return count


def _end_sessions(*, user: User, keep: DeviceSession | None = None) -> int:
    # A browser session without a row (none is left once it makes a request)
    # still dies: the auth backend refuses users who are not active, and a
    # password change invalidates Django's session hash.
    sessions = DeviceSession.objects.filter(user=user)
    if keep is not None:
        sessions = sessions.exclude(pk=keep.pk)
    return _delete_sessions(list(sessions))


@transaction.atomic
def session_revoke(*, actor: User, session: DeviceSession) -> None:
    _require_self_or_staff(actor, session.user)
    _delete_sessions([session])
    auditing.record(action="auth.session.revoked", actor=actor, details={"kind": session.kind, "device_name": session.device_name, "owner_id": str(session.user_id)}, **_session_ref(session))


@transaction.atomic
def sessions_revoke_others(*, actor: User, current: DeviceSession) -> int:
    """End every session of the user except ``current`` ("sign out elsewhere")."""
    _require_self_or_staff(actor, current.user)
    count = _end_sessions(user=current.user, keep=current)
    auditing.record(action="auth.session.revoked", actor=actor, details={"scope": "others", "count": count}, **_user_ref(current.user))
    return count


@transaction.atomic
def sessions_revoke_all(*, actor: User, user: User) -> int:
    """End every session of ``user`` (logout-all, or staff from the admin)."""
    _require_self_or_staff(actor, user)
    count = _end_sessions(user=user)
    action = "auth.logout.all" if actor.pk == user.pk else "auth.session.revoked"
    auditing.record(action=action, actor=actor, details={"scope": "all", "count": count}, **_user_ref(user))
    return count


@transaction.atomic
def logout(*, session: DeviceSession) -> None:
    """End one's own device session (API logout, or the page's log out)."""
    _delete_sessions([session])
    auditing.record(action="auth.logout", actor=session.user, details={"kind": session.kind}, **_session_ref(session))


# --------------------------------------------------------------------------- passwords


@transaction.atomic
def password_change(*, user: User, old_password: str, new_password: str, current: DeviceSession | None = None) -> User:
    """Change one's password; every other session is ended."""
    if not user.check_password(old_password):
        raise ValidationFailed(fields={"old_password": [_("The current password is wrong.")]})
    _check_password_rules(new_password, user)
    user.set_password(new_password)
    user.save(update_fields=["password", "updated_at"])
    count = _end_sessions(user=user, keep=current) if current else _end_sessions(user=user)
    auditing.record(action="auth.password.changed", actor=user, details={"sessions_ended": count}, **_user_ref(user))
    return user


def password_reset_request(*, email: str, ip: str | None) -> bool:
    """Count one request for a reset mail to ``email`` from ``ip``: False
    once either is over its limit an hour (PASSWORD_RESET_MAILS_PER_EMAIL,
    PASSWORD_RESET_MAILS_PER_IP; against mail bombing). The caller then
    sends nothing and answers as if it had, so the answer reveals nothing."""
    return ratelimit.password_reset_allowed(
        ip=ip, email=email.strip().lower(), window=3600,
        per_ip=settings.PASSWORD_RESET_MAILS_PER_IP, per_email=settings.PASSWORD_RESET_MAILS_PER_EMAIL,
    )


@transaction.atomic
def password_reset_complete(*, user: User, new_password: str) -> User:
    """Set a new password through an emailed reset link; ends all sessions."""
    _check_password_rules(new_password, user)
    user.set_password(new_password)
    user.save(update_fields=["password", "updated_at"])
    count = _end_sessions(user=user)
    auditing.record(action="auth.password.reset", actor=user, details={"sessions_ended": count}, **_user_ref(user))
    return user


# --------------------------------------------------------------------------- API keys


def _key_ref(api_key: ApiKey) -> dict:
    return {"resource_type": "api_key", "resource_id": str(api_key.pk)}


@transaction.atomic
def api_key_create(
    *,
    user: User,
    name: str,
    scopes: list[str],
    expires_at: datetime | None = None,
    rate_limit_per_minute: int | None = None,
) -> tuple[ApiKey, str]:
    """A new key. Returns the key and its secret, which is never stored."""
    fields = {}
    name = (name or "").strip()
    if not name:
        fields["name"] = [_("A name is required.")]
    if not isinstance(scopes, (list, tuple)) or not scopes:
        fields["scopes"] = [_("Give at least one of %(names)s.") % {"names": ", ".join(SCOPES)}]
    else:
        bad = [s for s in scopes if s not in SCOPES]
        if bad:
            fields["scopes"] = [_("Unknown scope %(scope)r.") % {"scope": s} for s in bad]
    if expires_at is not None and expires_at <= timezone.now():
        fields["expires_at"] = [_("Must be in the future.")]
    if rate_limit_per_minute is not None and rate_limit_per_minute < 1:
        fields["rate_limit_per_minute"] = [_("Must be at least 1.")]
    if fields:
        raise ValidationFailed(fields=fields)
    secret = API_KEY_PREFIX + secrets.token_urlsafe(32)
    api_key = ApiKey(
        user=user,
        name=name,
        scopes=sorted(set(scopes), key=SCOPES.index),
        expires_at=expires_at,
        key_hash=selectors.api_key_hash(secret),
        prefix=secret[:12],
        rate_limit_per_minute=rate_limit_per_minute or settings.API_RATE_LIMIT_PER_MINUTE,
    )
    validate_model(api_key)
    api_key.save()
    auditing.record(action="auth.apikey.created", actor=user, details={"name": api_key.name, "prefix": api_key.prefix, "scopes": api_key.scopes, "expires_at": expires_at.isoformat() if expires_at else None}, **_key_ref(api_key))
    return api_key, secret


@transaction.atomic
def api_key_revoke(*, actor: User, api_key: ApiKey) -> ApiKey:
    _require_self_or_staff(actor, api_key.user)
    if not api_key.is_active:
        return api_key
    api_key.is_active = False
    api_key.revoked_at = timezone.now()
    api_key.save(update_fields=["is_active", "revoked_at"])
    auditing.record(action="auth.apikey.revoked", actor=actor, details={"name": api_key.name, "prefix": api_key.prefix, "owner_id": str(api_key.user_id)}, **_key_ref(api_key))
    return api_key


def api_key_record_use(*, api_key: ApiKey) -> None:
    """Count a use: one UPDATE with an F() increment, so concurrent requests
    never lose a count."""
    now = timezone.now()
    ApiKey.objects.filter(pk=api_key.pk).update(usage_count=F("usage_count") + 1, last_used_at=now)
    api_key.last_used_at = now



def sessions_purge_expired() -> dict:
    """Remove device sessions (and Django sessions) past their expiry. No
    audit entry: nothing is revoked, the rows had already stopped working."""
    from django.contrib.sessions.models import Session

    now = timezone.now()
    devices = DeviceSession.objects.filter(expiry__lte=now).delete()[0]
    cookies = Session.objects.filter(expire_date__lte=now).delete()[0] if settings.SESSION_ENGINE == "django.contrib.sessions.backends.db" else 0
    return {"device_sessions": devices, "django_sessions": cookies}
