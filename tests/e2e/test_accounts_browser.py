"""A person's path through the account pages in a real browser (Debian's
chromium driven by Playwright) against a real server: sign up, log in,
change the profile, and sign out another device from "My devices"."""

import json
import os
import shutil
import tempfile
import urllib.error
import urllib.request

import pytest

from tests.browser import ARGS, CHROMIUM, require_chromium

PASSWORD = "browser test passphrase 1"

pytestmark = pytest.mark.e2e




def _api(base, path, body=None, token=None):
    request = urllib.request.Request(base + path, data=json.dumps(body).encode() if body is not None else None, method="POST" if body is not None else "GET")
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Token {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def test_sign_up_log_in_edit_profile_and_revoke_a_device(live_server):
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    base = live_server.url
    profile_dir = tempfile.mkdtemp(prefix="teamhub-chromium-")
    try:
        with sync_playwright() as p:
            # A fresh profile directory each run: nothing leaks between runs.
            context = p.chromium.launch_persistent_context(profile_dir, executable_path=CHROMIUM, headless=True, args=ARGS)
            page = context.new_page()
            page.set_default_timeout(15_000)

            # Sign up (which logs in), then log out.
            page.goto(base + "/accounts/signup/")
            page.fill("#id_username", "browsy")
            page.fill("#id_email", "browsy@example.com")
            page.fill("#id_password1", PASSWORD)
            page.fill("#id_password2", PASSWORD)
            page.click("button[type=submit]")
            expect(page.locator(".whoami")).to_have_text("browsy")
            page.click("text=Log out")
            expect(page).to_have_url(base + "/accounts/login/")

            # A wrong password is refused in words; then log in with the email.
            page.fill("#id_username", "browsy@example.com")
            page.fill("#id_password", "not the password")
            page.click("button[type=submit]")
            expect(page.get_by_text("The login or password is wrong.")).to_be_visible()
            page.fill("#id_username", "browsy@example.com")
            page.fill("#id_password", PASSWORD)
            page.click("button[type=submit]")
            expect(page.locator(".whoami")).to_have_text("browsy")

            # Change the profile.
            page.goto(base + "/accounts/profile/")
            page.fill("#id_bio", "Hello <script>alert(1)</script>")
            page.fill("#id_location", "Busan")
            page.select_option("#id_timezone", "Asia/Seoul")
            page.select_option("#id_language", "ko")
            page.click("[data-testid=profile-form] button[type=submit]")
            expect(page.get_by_text("Your profile was saved.")).to_be_visible()
            expect(page.locator("#id_location")).to_have_value("Busan")
            expect(page.locator("#id_timezone")).to_have_value("Asia/Seoul")
            expect(page.locator("#id_bio")).to_have_value("Hello <script>alert(1)</script>")
            if os.environ.get("SCREENSHOT_DIR"):
                page.screenshot(path=os.path.join(os.environ["SCREENSHOT_DIR"], "profile.png"), full_page=True)

            # A phone logs in through the API; the browser sees it and signs it out.
            status, body = _api(base, "/api/v1/auth/login", {"login": "browsy", "password": PASSWORD, "device_name": "Test phone"})
            assert status == 200, body
            phone_token = body["token"]
            assert _api(base, "/api/v1/me", token=phone_token)[0] == 200

            page.goto(base + "/accounts/devices/")
            rows = page.locator("[data-testid=devices] tbody tr")
            expect(rows).to_have_count(2)
            # The profile now says Korean, so the pages do (issue 19).
            expect(page.locator("tr.current")).to_contain_text("현재 기기")
            if os.environ.get("SCREENSHOT_DIR"):  # for a person to look at the pages
                page.screenshot(path=os.path.join(os.environ["SCREENSHOT_DIR"], "devices.png"), full_page=True)
            phone_row = page.locator(f"tr[data-session-id='{body['session_id']}']")
            expect(phone_row).to_contain_text("Test phone")
            phone_row.locator("[data-testid=revoke]").click()
            expect(page.get_by_text("해당 기기에서 로그아웃했습니다.")).to_be_visible()
            expect(rows).to_have_count(1)
            expect(page.get_by_text("Test phone")).to_have_count(0)
            context.close()

        status, body = _api(base, "/api/v1/me", token=phone_token)
        assert status == 401 and body["error"]["code"] == "not_authenticated"
    finally:
        shutil.rmtree(profile_dir, ignore_errors=True)

    from accounts.models import Profile

    profile = Profile.objects.get(user__username="browsy")
    assert (profile.location, profile.timezone, profile.language) == ("Busan", "Asia/Seoul", "ko")
