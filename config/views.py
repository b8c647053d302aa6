"""Site-wide pages and error handlers."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.defaults import page_not_found
from django.views.defaults import server_error as html_server_error

from config.api import json_error_response


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


@login_required
def home(request):
    return render(request, "home.html")


def not_found(request, exception=None):
    if _is_api(request):
        return json_error_response("not_found", "Not found.", 404)
    return page_not_found(request, exception)


def server_error(request):
    # API clients get the contract's shape, never a traceback.
    if _is_api(request):
        return json_error_response("server_error", "An unexpected error occurred.", 500)
    return html_server_error(request)
