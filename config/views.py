"""Site-wide pages and error handlers.

Django's own error paths (no URL matched, a SuspiciousOperation such as a
disallowed Host header, a PermissionDenied outside DRF, a crash) end here:
under ``/api/`` they answer in the contract's JSON error shape, elsewhere
with Django's HTML pages."""

import sys

from django.core.exceptions import DisallowedHost, RequestDataTooBig
from django.utils.translation import gettext as _
from django.views import defaults

from config import faults
from config.middleware import is_api, service_unavailable
from core.errors import ValidationFailed, json_error_response


def _bad_request_error(exception) -> ValidationFailed:
    if isinstance(exception, ValidationFailed):
        return exception
    if isinstance(exception, DisallowedHost):
        return ValidationFailed(_("The Host header names a host this server does not serve."),
                               fields={"host": [_("Not an allowed host.")]})
    if isinstance(exception, RequestDataTooBig):
        return ValidationFailed(fields={"non_field_errors": [_("The request body is too large.")]})
    return ValidationFailed(_("The request is malformed."))


def bad_request(request, exception=None):
    """handler400, and the answer of config.middleware's refusals."""
    if is_api(request):
        error = _bad_request_error(exception)
        return json_error_response(error.code, str(error.message), 400, error.fields)
    return defaults.bad_request(request, exception)


def permission_denied(request, exception=None):
    if is_api(request):
        return json_error_response("permission_denied", _("You are not allowed to do this."), 403)
    return defaults.permission_denied(request, exception)


def not_found(request, exception=None):
    if is_api(request):
        return json_error_response("not_found", _("Not found."), 404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    # handler500 runs while the exception is being handled: one raised
    # outside a view (a middleware reading the session or the user while the
    # database is down) still becomes a 503 through the one mapping.
    exc = sys.exc_info()[1]
    error = faults.unavailable(exc, where=request.path) if exc is not None else None
    if error is not None:
        return service_unavailable(request, error)
    # API clients get the contract's shape, never a traceback.
    if is_api(request):
        return json_error_response("server_error", _("An unexpected error occurred."), 500)
    return defaults.server_error(request)
