import pytest
from rest_framework.test import APIClient

PASSWORD = "correct horse battery staple"


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def login(db):
    """Log in through the API; returns (token, response body)."""

    def do(username, password=PASSWORD, device_name="", **extra):
        client = APIClient()
        response = client.post("/api/v1/auth/login", {"login": username, "password": password, "device_name": device_name}, format="json", **extra)
        assert response.status_code == 200, response.content
        body = response.json()
        return body["token"], body

    return do


def token_client(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def key_client(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    return body["error"]
