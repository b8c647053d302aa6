"""The pages' side of faults (config.faults): a view that fails because the
database or Redis is down answers 503, and every response says which parts
this request found down. Imports nothing of DRF: it loads before the API."""

from __future__ import annotations

from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string

from config import faults
from core.errors import ServiceUnavailable


def is_api(request) -> bool:
    return request.path.startswith("/api/")


def service_unavailable(request, error: ServiceUnavailable) -> HttpResponse:
    """503 for a part that is down: the contract's JSON under /api/, else a
    page that needs neither the database nor Redis (no request context, so
    no session, user or notification lookups)."""
    if is_api(request):
        response = JsonResponse({"error": error.as_dict()}, status=503)
    else:
        page = render_to_string("503.html", {"error": error, "retry": request.method in ("GET", "HEAD")})
        response = HttpResponse(page, status=503)
    response["Retry-After"] = str(int(error.retry_after))
    # faults.unavailable logged it as a warning; not again as an error.
    response._has_been_logged = True
    return response


class FaultsMiddleware:
    """First in MIDDLEWARE, so it sees every other middleware's work.

    Exceptions raised by views reach ``process_exception`` (the API's views
    map their own in DRF's exception handler); those raised by another
    middleware reach the 500 handler (config.views.server_error), which uses
    the same mapping."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with faults.tracking() as down:
            response = self.get_response(request)
        if down:
            response[faults.HEADER] = ", ".join(sorted(down))
        return response

    def process_exception(self, request, exception):
        error = faults.unavailable(exception, where=request.path)
        return service_unavailable(request, error) if error is not None else None


def parts_down(request) -> dict:
    """Context processor: the parts this request found down, for base.html's notice."""
    return {"parts_down": [(part, faults.NOTICES[part]) for part in faults.parts_down()]}
