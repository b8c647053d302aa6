"""Reads for accounts, scoped to their actor (architecture.md, "selectors")."""

from __future__ import annotations

import hashlib
from hmac import compare_digest
from importlib import import_module

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from knox.crypto import hash_token
from knox.settings import CONSTANTS

from accounts.models import ApiKey, DeviceSession, Profile, User


def user_for_login(login: str) -> User | None:
    """A username, or an email address (any case). Usernames cannot hold '@'."""
    login = (login or "").strip()
    if not login:
        return None
    if "@" in login:
        return User.objects.filter(email__iexact=login).first()
    return User.objects.filter(username=login).first()


def profile_of(user: User) -> Profile:
    """The user's profile; an unsaved default one when none was written yet."""
    try:
        return user.profile
    except Profile.DoesNotExist:
        return Profile(user=user)


# --------------------------------------------------------------------------- device sessions


def device_session_for_token(token: str) -> DeviceSession | None:
    """The live API session whose token this is, with its user, or None.

    knox's scheme: look rows up by the token's first characters, then compare
    the full hash in constant time. Expired rows never match."""
    if not token or len(token) < CONSTANTS.TOKEN_KEY_LENGTH or len(token) > 256:
        return None
    try:
        digest = hash_token(token)
    except (TypeError, ValueError):
        return None
    candidates = DeviceSession.objects.filter(
        kind=DeviceSession.Kind.API,
        token_key=token[: CONSTANTS.TOKEN_KEY_LENGTH],
        expiry__gt=timezone.now(),
    ).select_related("user")
    for session in candidates:
        if compare_digest(digest, session.digest):
            return session
    return None


def user_for_token(token: str) -> tuple[User, DeviceSession] | None:
    """(user, session) for a device session token whose user may still log in,
    or None. Used by the API's Token scheme and the socket's auth frame."""
    session = device_session_for_token(token)
    if session is None or not session.user.is_active:
        return None
    return session.user, session


def session_store():
    """The SessionStore class of the configured session engine (browser logins)."""
    return import_module(settings.SESSION_ENGINE).SessionStore


def login_alive(*, device_session_id=None, session_key: str | None = None) -> bool:
    """Whether a login (a device session's token, or a browser's session)
    has not been revoked or expired."""
    if device_session_id is not None:
        return DeviceSession.objects.filter(pk=device_session_id, expiry__gt=timezone.now()).exists()
    return bool(session_key) and session_store()().exists(session_key)


def web_session_get(*, user: User, session_id) -> DeviceSession | None:
    return DeviceSession.objects.filter(pk=session_id, user=user, kind=DeviceSession.Kind.WEB).first()


def sessions_of(*, user: User) -> QuerySet[DeviceSession]:
    """The user's live sessions (API tokens and browsers), newest first."""
    return DeviceSession.objects.filter(user=user, expiry__gt=timezone.now()).order_by("-created", "-id")


def session_of(*, user: User, session_id) -> DeviceSession | None:
    return sessions_of(user=user).filter(pk=session_id).first()


# --------------------------------------------------------------------------- API keys


def api_key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_key_for_key(key: str) -> ApiKey | None:
    """The usable key (not revoked, not expired, owner may log in), or None.

    Keys carry 256 random bits, so an indexed lookup by SHA-256 is safe
    without a salt or a slow hash."""
    if not key or len(key) > 256:
        return None
    api_key = (
        ApiKey.objects.filter(key_hash=api_key_hash(key), is_active=True)
        .select_related("user")
        .first()
    )
    if api_key is None or not api_key.user.is_active:
        return None
    if api_key.expires_at is not None and api_key.expires_at <= timezone.now():
        return None
    return api_key


def api_keys_of(*, user: User) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(user=user).order_by("-created_at", "-id")


def api_key_of(*, user: User, key_id) -> ApiKey | None:
    return api_keys_of(user=user).filter(pk=key_id).first()
