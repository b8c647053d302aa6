"""Every API error leaves in the contract's shape."""

import pytest


def _assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


@pytest.mark.django_db
def test_anonymous_request_gets_401_not_authenticated(client):
    _assert_error(client.get("/api/v1/me"), 401, "not_authenticated")


@pytest.mark.django_db
def test_unknown_api_path_gets_json_404(client):
    _assert_error(client.get("/api/v1/no-such-thing"), 404, "not_found")


@pytest.mark.django_db
def test_me_returns_the_user(client, make_user):
    user = make_user("alice", role="power_user")
    client.force_login(user)
    response = client.get("/api/v1/me")
    assert response.status_code == 200
    assert response.json() == {
        "id": str(user.id), "username": "alice", "email": "alice@example.com",
        "status": "active", "role": "power_user", "avatar_url": None,
        "profile": {
            "bio": "", "location": "", "website": "", "timezone": "UTC", "language": "en",
            "theme": "system", "preferences": {}, "notifications": {},
        },
    }


@pytest.mark.django_db
def test_wrong_method_is_in_the_error_shape(client, make_user):
    client.force_login(make_user())
    _assert_error(client.delete("/api/v1/me"), 405, "method_not_allowed")


@pytest.mark.django_db
def test_schema_and_docs_are_served_without_the_internet(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/me" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "swagger-ui" in html
    assert "cdn.jsdelivr" not in html and "unpkg.com" not in html
