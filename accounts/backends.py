"""The auth backend: log in with a username or an email address."""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend

from accounts import selectors
from accounts.models import User


class LoginBackend(ModelBackend):
    """Used by django.contrib.auth.authenticate() and session lookups. The
    pages and the admin log in through accounts.forms (lockout, audit); this
    backend keeps the same rules for anything else: username or email, and
    only active users (ModelBackend.user_can_authenticate reads is_active,
    which the database derives from status)."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None or password is None:
            return None
        user = selectors.user_for_login(username)
        if user is None:
            User().set_password(password)  # same time as a real check
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
