"""Shared pieces of the JSON API: the contract's error shape for every error,
the bounded JSON parser, and the contract's cursor pages."""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlparse

from django.core import exceptions as django_exceptions
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions as drf_exceptions
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import set_rollback

from config import faults
from core.errors import (
    ApplicationError,
    ValidationFailed,
    django_validation_fields,
    error_body,
)

logger = logging.getLogger(__name__)

# DRF's own exceptions, mapped onto the contract's codes.
_DRF_CODES: list[tuple[type[Exception], str]] = [
    (drf_exceptions.ValidationError, "validation_error"),
    (drf_exceptions.ParseError, "validation_error"),
    (drf_exceptions.UnsupportedMediaType, "validation_error"),
    (drf_exceptions.NotAuthenticated, "not_authenticated"),
    (drf_exceptions.AuthenticationFailed, "not_authenticated"),
    (drf_exceptions.PermissionDenied, "permission_denied"),
    (drf_exceptions.NotFound, "not_found"),
    (drf_exceptions.MethodNotAllowed, "method_not_allowed"),
    (drf_exceptions.NotAcceptable, "not_acceptable"),
    (drf_exceptions.Throttled, "throttled"),
]


def _flatten_fields(detail) -> dict:
    """DRF's nested ValidationError detail -> {field: [messages]}."""
    if isinstance(detail, dict):
        out = {}
        for key, value in detail.items():
            if isinstance(value, dict):
                for sub, msgs in _flatten_fields(value).items():
                    out[f"{key}.{sub}"] = msgs
            elif isinstance(value, list):
                out[key] = [str(v) for v in value]
            else:
                out[key] = [str(value)]
        return out
    if isinstance(detail, list):
        return {"non_field_errors": [str(v) for v in detail]}
    return {"non_field_errors": [str(detail)]}


def exception_handler(exc, context):
    """DRF EXCEPTION_HANDLER: every error leaves in the contract's shape."""
    headers = {}
    exc = faults.unavailable(exc, where=_view_name(context)) or exc
    if isinstance(exc, ApplicationError):
        set_rollback()
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            headers["Retry-After"] = str(int(retry_after))
        response = Response({"error": exc.as_dict()}, status=exc.status, headers=headers)
        # faults.unavailable logged a part that is down as a warning (and
        # named it in exc.part); Django would log each such 503 as an error.
        response._has_been_logged = getattr(exc, "part", None) is not None
        return response

    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, django_exceptions.PermissionDenied):
        exc = drf_exceptions.PermissionDenied()
    elif isinstance(exc, django_exceptions.RequestDataTooBig):
        exc = drf_exceptions.ValidationError({"non_field_errors": [_("The request body is too large.")]})
    elif isinstance(exc, django_exceptions.ValidationError):
        exc = drf_exceptions.ValidationError(django_validation_fields(exc))

    if isinstance(exc, drf_exceptions.APIException):
        set_rollback()
        code = next((c for cls, c in _DRF_CODES if isinstance(exc, cls)), exc.default_code)
        if isinstance(exc, drf_exceptions.ValidationError):
            body = error_body(code, _("The input is not valid."), _flatten_fields(exc.detail))
        else:
            body = error_body(code, str(exc.detail))
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None) is not None:
            headers["Retry-After"] = str(int(exc.wait) + (exc.wait % 1 > 0))
        status = exc.status_code
        # The contract answers 401 for a missing or failed login on every scheme.
        if code == "not_authenticated":
            status = 401
        return Response(body, status=status, headers=headers)

    # Anything else is a bug: log it with the traceback, answer without one.
    set_rollback()
    logger.exception("Unhandled error in %s", _view_name(context))
    return Response(error_body("server_error", _("An unexpected error occurred.")), status=500)


def _view_name(context) -> str:
    return context["view"].__class__.__name__ if context and context.get("view") else "API"


class InvalidCursor(ValidationFailed):
    """A ``?cursor=`` the list did not issue (stale, mangled, another list's)."""


class CursorPage(CursorPagination):
    """The contract's list shape: ``?cursor=&limit=`` (at most 100) and
    ``{"results": [...], "next": <opaque cursor or null>}``. Views set
    ``ordering`` (a unique last field keeps pages stable)."""

    cursor_query_param = "cursor"
    page_size_query_param = "limit"
    page_size = 50
    max_page_size = 100
    ordering = ("-created_at", "-id")

    def decode_cursor(self, request):
        # DRF answers a cursor it cannot read with 404; it is bad input.
        try:
            return super().decode_cursor(request)
        except drf_exceptions.NotFound:
            raise InvalidCursor(fields={self.cursor_query_param: [_("Not a cursor of this list.")]}) from None

    def encode_cursor(self, cursor):
        # The bare cursor, not a URL: clients pass it back as ?cursor=.
        url = super().encode_cursor(cursor)
        return parse_qs(urlparse(url).query).get(self.cursor_query_param, [None])[0]

    def get_paginated_response(self, data):
        return Response({"results": data, "next": self.get_next_link()})

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["results", "next"],
            "properties": {"results": schema, "next": {"type": "string", "nullable": True}},
        }


def paginate(view, request, queryset, serializer_class, *, ordering=CursorPage.ordering, context=None) -> Response:
    """One cursor page of ``queryset`` in the contract's list shape, each item
    rendered by the output serializer (``many=True``: a serializer whose
    rendering reads something once per page does so in its list serializer)."""
    paginator = CursorPage()
    paginator.ordering = ordering
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer_class(page, many=True, context=context or {}).data)
