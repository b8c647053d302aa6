"""Accounts' additions to the one error hierarchy (core/errors.py)."""

from core.errors import PermissionDenied


class RegistrationClosed(PermissionDenied):
    code = "registration_closed"
    default_message = "Sign-up is closed on this site."
