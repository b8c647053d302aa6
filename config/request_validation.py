"""Hostile request input refused before any view sees it.

PostgreSQL cannot store NUL in text (psycopg raises DataError, a 500), and a
path or query string whose percent-encoding is not UTF-8 (``%FF``, or a lone
surrogate ``%ED%A0%80``) is garbage no view should try to match. So the path,
the query string, the headers and, on pages and the admin, form bodies are
checked here once, and bad input answers 400: the contract's JSON error shape
under ``/api/``, an HTML page elsewhere. JSON bodies are checked by
``config.safejson`` where they are parsed; the API's form fields by DRF
(whose CharField refuses NUL) and its parsers."""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote_to_bytes

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.utils.translation import gettext as _

from config import safejson
from config.middleware import is_api
from config.views import bad_request
from core.errors import ValidationFailed

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _raw_path(request) -> bytes:
    """The path as the client sent it, before any server decoded it."""
    scope = getattr(request, "scope", None)
    if scope is not None:  # ASGI: raw_path is optional in the spec
        raw = scope.get("raw_path")
        return unquote_to_bytes(raw) if raw else scope.get("path", "").encode("utf-8", "surrogatepass")
    # WSGI: PATH_INFO holds the percent-decoded bytes as latin-1 text (PEP 3333).
    return request.META.get("PATH_INFO", "").encode("latin-1", "replace")


def _check_path(request) -> None:
    try:
        path = _raw_path(request).decode("utf-8")  # strict: refuses encoded surrogates too
    except UnicodeDecodeError:
        raise ValidationFailed(fields={"path": [_("The path is not valid UTF-8.")]}) from None
    safejson.check_text(path, "path")


def _check_query(request) -> None:
    query = request.META.get("QUERY_STRING", "")
    if not query:
        return
    try:
        pairs = parse_qsl(query, keep_blank_values=True, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise ValidationFailed(fields={"query": [_("The query string is not valid UTF-8.")]}) from None
    for key, value in pairs:
        safejson.check_text(key, "query")
        safejson.check_text(value, key)


def _check_headers(request) -> None:
    # Header values reach audit entries (User-Agent) and lookups (X-Act-As).
    for key, value in request.META.items():
        if key.startswith("HTTP_") and isinstance(value, str) and "\x00" in value:
            header = key[5:].replace("_", "-").title()
            raise ValidationFailed(fields={header: [_("Headers may not contain NUL characters.")]})


def _check_form(request) -> None:
    """Every field of a page's or the admin's form post. (The API's bodies go
    through DRF's parsers, which this must not pre-empt; Django's multipart
    parser already drops unprintable characters from file names.)"""
    if request.method != "POST" or request.content_type not in _FORM_TYPES or is_api(request):
        return
    for key, values in request.POST.lists():
        safejson.check_text(key, key)
        for value in values:
            safejson.check_text(value, key)


def check_request(request) -> None:
    """Raise ValidationFailed for input this site refuses wherever it appears."""
    _check_path(request)
    _check_query(request)
    _check_headers(request)
    _check_form(request)


def _refusal(request):
    try:
        check_request(request)
    except ValidationFailed as exc:
        return bad_request(request, exc)
    return None


class RequestValidationMiddleware:
    """First in MIDDLEWARE, so nothing below it (sessions, audit context,
    views) ever sees what ``check_request`` refuses. A form body over
    Django's limits raises a SuspiciousOperation here, answered by handler400."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self.__acall__(request)
        return _refusal(request) or self.get_response(request)

    async def __acall__(self, request):
        return _refusal(request) or await self.get_response(request)
