"""Site-wide pages and error handlers."""

import sys

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.defaults import page_not_found
from django.views.defaults import server_error as html_server_error

from config import faults
from config.api import json_error_response
from config.middleware import is_api, service_unavailable


@login_required
def home(request):
    return render(request, "home.html")


def not_found(request, exception=None):
    if is_api(request):
        return json_error_response("not_found", "Not found.", 404)
    return page_not_found(request, exception)


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
        return json_error_response("server_error", "An unexpected error occurred.", 500)
    return html_server_error(request)
