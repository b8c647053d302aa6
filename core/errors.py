"""The one error hierarchy services raise.

The API renders these as ``{"error": {"code", "message", "fields"}}``, the
socket as an ``error`` frame, and the pages as form errors or messages. Codes
and statuses are the v1 contract's (shared/design/api.md).
"""

from __future__ import annotations

from django.http import JsonResponse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class ApplicationError(Exception):
    status = 400
    code = "bad_request"
    default_message = _("The request could not be processed.")

    def __init__(self, message: str | None = None, *, code: str | None = None, fields: dict | None = None):
        self.message = message or self.default_message
        if code:
            self.code = code
        self.fields = fields
        super().__init__(self.message)

    def as_dict(self) -> dict:
        # The message in the language active now (the reader's); codes stay English.
        body = {"code": self.code, "message": str(self.message)}
        if self.fields:
            body["fields"] = self.fields
        return body


class ValidationFailed(ApplicationError):
    status = 400
    code = "validation_error"
    default_message = _("The input is not valid.")


class NotAuthenticated(ApplicationError):
    status = 401
    code = "not_authenticated"
    default_message = _("Authentication is required.")


class InvalidCredentials(ApplicationError):
    status = 401
    code = "invalid_credentials"
    default_message = _("The login or password is wrong.")


class PermissionDenied(ApplicationError):
    status = 403
    code = "permission_denied"
    default_message = _("You are not allowed to do this.")


class AccountInactive(PermissionDenied):
    code = "account_inactive"
    default_message = _("This account is inactive.")


class AccountBanned(PermissionDenied):
    code = "account_banned"
    default_message = _("This account is banned.")


class NotFound(ApplicationError):
    status = 404
    code = "not_found"
    default_message = _("Not found.")


class Conflict(ApplicationError):
    status = 409
    code = "conflict"
    default_message = _("The request conflicts with the current state.")


class TooLarge(ApplicationError):
    status = 413
    code = "too_large"
    default_message = _("The request is too large.")


class Throttled(ApplicationError):
    status = 429
    code = "throttled"
    default_message = _("Too many requests; try again later.")

    def __init__(self, message: str | None = None, *, retry_after: int | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServiceUnavailable(ApplicationError):
    """A part the request needs (Redis, the database) is down. Answered 503
    with ``Retry-After``; the client repeats the request once it is back."""

    status = 503
    code = "service_unavailable"
    default_message = _("The service is temporarily unavailable; try again shortly.")

    def __init__(self, message: str | None = None, *, retry_after: int = 5, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    """The contract's error body, for every face that answers HTTP."""
    error = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    return {"error": error}


def json_error_response(code: str, message: str, status: int, fields: dict | None = None):
    """An error answered outside DRF (Django's handlers, middleware)."""
    return JsonResponse(error_body(code, message, fields), status=status)


def django_validation_fields(exc) -> dict:
    """A Django ValidationError as the contract's {field: [messages]}."""
    return exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}


def validate_model(instance, **kwargs) -> None:
    """Run model validation and raise it as the contract's validation_error."""
    from django.core.exceptions import ValidationError

    try:
        instance.full_clean(**kwargs)
    except ValidationError as exc:
        raise ValidationFailed(fields=django_validation_fields(exc)) from exc


def parse_uuid(value, field: str, *, optional: bool = False):
    """A UUID from untrusted input, or ValidationFailed naming ``field``
    (None for an empty value when ``optional``)."""
    import uuid

    if optional and not value:
        return None
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        raise ValidationFailed(fields={field: [gettext("Must be a UUID.")]}) from None
