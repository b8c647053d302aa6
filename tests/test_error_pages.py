"""The 400, 403, 404 and 500 pages are in the site's layout, with its
navigation, a sentence saying what happened, and the favicon; the API keeps
answering in the contract's JSON shape."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def _page(response) -> str:
    html = response.content.decode()
    assert 'data-testid="error-page"' in html and 'aria-label="Main"' in html  # the site's nav
    assert 'rel="icon"' in html and "favicon.svg" in html
    assert 'href="/jobs/"' in html and 'href="/chat/' in html
    return html


def test_404_for_a_logged_in_user(client, make_user):
    client.force_login(make_user("ann"))
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    html = _page(response)
    assert "Page not found" in html and "<code>/no/such/page/</code>" in html
    assert 'data-testid="jobs-link"' in html  # the logged-in navigation
    api = client.get("/api/v1/no-such/")
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"


def test_404_escapes_the_path(client):
    response = client.get("/x<script>alert(1)</script>/")
    assert response.status_code == 404 and b"<script>alert(1)" not in response.content


def test_400_on_a_disallowed_host():
    response = Client(HTTP_HOST="evil.example").get("/accounts/login/")
    assert response.status_code == 400
    assert "The request could not be understood" in _page(response)


def test_403_from_a_page(client, make_user, settings):
    # CSRF refusal is Django's own 403 view; a PermissionDenied from a view is handler403.
    from django.core.exceptions import PermissionDenied
    from django.test import RequestFactory

    from config import views

    request = RequestFactory().get("/somewhere/")
    request.user = make_user("bob")
    response = views.permission_denied(request, PermissionDenied())
    assert response.status_code == 403
    assert "You are not allowed to do this" in _page(response)


def test_500_page_renders_without_a_request_context():
    from django.test import RequestFactory

    from config import views

    response = views.server_error(RequestFactory().get("/boom/"))
    assert response.status_code == 500
    html = _page(response)
    assert "Something went wrong on our side" in html and "has been logged" in html


def test_favicon_is_a_static_svg():
    from django.contrib.staticfiles import finders

    path = finders.find("favicon.svg")
    with open(path) as fh:
        assert fh.read().lstrip().startswith("<svg")
