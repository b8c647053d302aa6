"""Accounts' additions to the one error hierarchy (core/errors.py)."""

from django.utils.translation import gettext_lazy

from core.errors import PermissionDenied


class RegistrationClosed(PermissionDenied):
    code = "registration_closed"
    default_message = gettext_lazy("Sign-up is closed on this site.")
