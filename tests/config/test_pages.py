import pytest


@pytest.mark.django_db
def test_logged_out_visitor_is_sent_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    login = client.get(response["Location"])
    assert login.status_code == 200
    assert b'name="username"' in login.content


@pytest.mark.django_db
def test_login_page_logs_in_and_home_greets_the_user(client, make_user):
    make_user("frank", password="s3cret-pass-phrase")
    response = client.post("/accounts/login/", {"username": "frank", "password": "s3cret-pass-phrase"})
    assert response.status_code == 302
    home = client.get("/")
    assert home.status_code == 200
    assert b"Welcome, frank" in home.content


@pytest.mark.django_db
def test_staff_get_an_admin_link_and_others_do_not(client, make_user):
    client.force_login(make_user("plain"))
    assert b'data-testid="admin-link"' not in client.get("/").content
    client.force_login(make_user("boss", is_staff=True))
    page = client.get("/").content
    assert b'data-testid="admin-link"' in page and b'href="/admin/"' in page
