"""Translations (issue 19): every string marked for translation in the code
and the templates has a real translation in Simplified Chinese and Korean,
and no translation breaks a placeholder; the language a person reads is
their profile's, else the switcher's cookie, else Accept-Language, on the
pages and the API; the .po files compile without GNU gettext.

The msgids are extracted here with Babel (Python, and JavaScript for the
djangojs domain) and Django's own template lexer (``templatize``, which
turns a template into code Babel reads), so the check needs no xgettext
either."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_javascript, extract_python
from babel.messages.pofile import read_po
from django.conf import settings
from django.utils.translation.template import templatize

ROOT = Path(settings.BASE_DIR)
LANGS = ("zh_Hans", "ko")
KEYWORDS = {"_": None, "gettext": None, "gettext_lazy": None, "ngettext": (1, 2), "ngettext_lazy": (1, 2),
            "pgettext": ((1, "c"), 2), "pgettext_lazy": ((1, "c"), 2), "gettext_noop": None}
SKIP = {".venv", "var", "tests", "bench", "migrations", "node_modules", "__pycache__"}
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|%[sd]|\{[a-z_0-9]*\}")


def _sources(pattern: str):
    for path in ROOT.rglob(pattern):
        if not SKIP.intersection(path.relative_to(ROOT).parts):
            yield path


def _ids(found) -> set:
    ids = set()
    for _, function, message, _ in found:
        if function in ("pgettext", "pgettext_lazy", "npgettext"):
            message = message[1:]  # (context, msgid[, plural]): the context is no msgid
        if isinstance(message, (tuple, list)):
            ids.add(message[0] if message[0] is not None else message[1])
            ids.update(m for m in message[1:2] if m)
        else:
            ids.add(message)
    return {i for i in ids if i}


def marked_msgids() -> set:
    ids = set()
    for path in _sources("*.py"):
        with path.open("rb") as source:
            ids |= _ids(extract_python(source, KEYWORDS, [], {}))
    for path in _sources("*.html"):
        # templatize writes code for xgettext, which reads it line by line;
        # unindented, Python's tokenizer (Babel's) reads it too.
        code = "\n".join(line.lstrip() for line in templatize(path.read_text(encoding="utf-8"),
                                                              origin=str(path)).splitlines())
        ids |= _ids(extract_python(io.BytesIO(code.encode("utf-8")), KEYWORDS, [], {}))
    return ids


# The JavaScript catalog's keywords (django.views.i18n.JavaScriptCatalog's functions).
JS_KEYWORDS = {"gettext": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2), "npgettext": ((1, "c"), 2, 3),
               "gettext_noop": None}


def marked_js_msgids() -> set:
    """The djangojs domain: the strings the pages' scripts pass to gettext/ngettext."""
    ids = set()
    for path in _sources("*.js"):
        if "static" not in path.relative_to(ROOT).parts:
            continue
        with path.open("rb") as source:
            ids |= _ids(extract_javascript(source, JS_KEYWORDS, [], {}))
    return ids


def catalog(lang: str, domain: str = "django") -> dict:
    with (ROOT / "locale" / lang / "LC_MESSAGES" / f"{domain}.po").open("rb") as f:
        return {m.id if isinstance(m.id, str) else m.id[0]: m for m in read_po(f, locale=lang) if m.id}


@pytest.mark.parametrize(("domain", "extract", "at_least"),
                         [("django", marked_msgids, 20), ("djangojs", marked_js_msgids, 20)])
def test_every_marked_string_has_a_real_translation_in_each_language(domain, extract, at_least):
    marked = extract()
    assert len(marked) > at_least  # the extraction itself works (the login page, the API errors, the job page...)
    for lang in LANGS:
        found = catalog(lang, domain)
        plurals = {m.id[1] for m in found.values() if isinstance(m.id, (tuple, list))}
        missing = sorted(marked - set(found) - plurals)
        assert not missing, f"{lang}/{domain}: not in the .po (run makemessages, then translate): {missing[:20]}"
        untranslated = sorted(m.id for m in found.values()
                              if not (m.string if isinstance(m.string, str) else all(m.string)) or m.fuzzy)
        assert not untranslated, f"{lang}/{domain}: no translation, or only a fuzzy one: {untranslated[:20]}"


def test_the_js_extraction_sees_the_job_pages_strings():
    marked = marked_js_msgids()
    assert {"ETA %(duration)s", "queued", "OK (%(count)s entry)", "No run ahead."} <= marked


@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_no_translation_breaks_a_placeholder(domain):
    for lang in LANGS:
        for msgid, message in catalog(lang, domain).items():
            ids = message.id if isinstance(message.id, (tuple, list)) else (message.id,)
            strings = message.string if isinstance(message.string, (tuple, list)) else (message.string,)
            wanted = sorted(PLACEHOLDER.findall(ids[-1]))
            for text in strings:
                assert sorted(PLACEHOLDER.findall(text)) == wanted, (lang, msgid, text)


def test_the_catalogs_compile_with_babel_and_django_reads_them(tmp_path):
    from django.utils import translation

    from core.management.commands.compilemessages import compile_all

    compile_all(force=True)
    with translation.override("ko"):
        assert translation.gettext("Not found.") == "찾을 수 없습니다."
    with translation.override("zh-hans"):
        assert translation.gettext("Not found.") == "未找到。"


# --------------------------------------------------------------------------- which language applies


@pytest.fixture
def korean(make_user):
    from accounts.services import profile_update

    user = make_user("minji", password="correct horse battery")
    profile_update(actor=user, user=user, language="ko")
    return user


@pytest.mark.django_db
def test_an_anonymous_page_follows_accept_language_and_then_the_cookie(client):
    page = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    assert "忘记密码？" in page.content.decode() and page["Content-Language"] == "zh-hans"
    back = client.post("/accounts/language/", {"language": "ko", "next": "/accounts/login/"})
    assert back.status_code == 302 and back["Location"] == "/accounts/login/"
    page = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    assert "비밀번호를 잊으셨나요?" in page.content.decode() and page["Content-Language"] == "ko"


@pytest.mark.django_db
def test_the_switcher_refuses_an_unknown_language_and_an_outside_next(client):
    back = client.post("/accounts/language/", {"language": "xx", "next": "https://evil.example/"})
    assert back.status_code == 302 and back["Location"] == "/"
    assert settings.LANGUAGE_COOKIE_NAME not in back.cookies


@pytest.mark.django_db
def test_a_signed_in_users_profile_language_wins_on_every_device(client, korean):
    client.force_login(korean)
    page = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en")
    assert page["Content-Language"] == "ko"
    # The switcher changes the profile, so a second device follows.
    client.post("/accounts/language/", {"language": "zh-hans", "next": "/"})
    korean.profile.refresh_from_db()
    assert korean.profile.language == "zh-hans"
    from django.test import Client

    other = Client(HTTP_ACCEPT_LANGUAGE="ko")
    other.force_login(korean)
    assert other.get("/accounts/login/")["Content-Language"] == "zh-hans"


@pytest.mark.django_db
def test_an_api_error_comes_back_in_korean_for_a_korean_user_with_a_token(korean):
    from rest_framework.test import APIClient

    api = APIClient()
    login = api.post("/api/v1/auth/login", {"login": "minji", "password": "correct horse battery"}, format="json")
    assert login.status_code == 200, login.content
    api.credentials(HTTP_AUTHORIZATION=f"Token {login.json()['token']}")
    missing = api.get("/api/v1/rooms/00000000-0000-0000-0000-000000000000/", HTTP_ACCEPT_LANGUAGE="en")
    assert missing.status_code == 404
    error = missing.json()["error"]
    assert error["code"] == "not_found"  # codes stay English: they are the contract
    assert re.search(r"[\uac00-\ud7a3]", error["message"]), error


@pytest.mark.django_db
def test_an_anonymous_api_error_follows_accept_language():
    from rest_framework.test import APIClient

    body = APIClient().get("/api/v1/rooms/", HTTP_ACCEPT_LANGUAGE="zh-CN").json()
    assert body["error"]["code"] == "not_authenticated"
    assert re.search(r"[\u4e00-\u9fff]", body["error"]["message"]), body
