"""The pages' scripts in the reader's language (issue 19): every page loads
Django's JavaScript catalog once (base.html, /jsi18n/?l=<language>), the
browser may keep it (Cache-Control, Last-Modified and a 304), it carries the
chat scripts' words in Chinese and Korean, and the page says the user's
time zone (<html data-time-zone>) for the scripts' dates. The relative
times and dates of static/js/chat-util.js are run by node with the real
catalog: in the language's words, the days counted in the user's zone.
And the chat scripts put no English literal into what a person reads."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from accounts.services import profile_update

ROOT = Path(settings.BASE_DIR)
JS = ROOT / "static" / "js"
CATALOG = re.compile(r'<script src="/jsi18n/\?l=([a-z-]+)"')


@pytest.fixture
def reader(make_user):
    return make_user("lin")


def _signed_in(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "zh-hans", "ko"])
def test_every_page_loads_the_catalog_once_in_its_language(reader, language):
    from chatroom.services import room_create

    profile_update(actor=reader, user=reader, language=language)
    room = room_create(owner=reader, name="catalog-room")
    client = _signed_in(reader)
    for url in ("/", "/chat/", f"/chat/rooms/{room.id}/", "/jobs/", "/notifications/", "/accounts/profile/"):
        page = client.get(url)
        assert page.status_code == 200, url
        html = page.content.decode()
        assert CATALOG.findall(html) == [language], url
        assert html.count("/jsi18n/") == 1, url  # once: the jobs pages' head no longer adds its own
        head, _, _ = html.partition("</head>")
        assert "/jsi18n/" in head and 'type="module"' not in head.split("/jsi18n/")[0], url  # before any module
    anonymous = Client(HTTP_ACCEPT_LANGUAGE="ko").get("/accounts/login/").content.decode()
    assert CATALOG.findall(anonymous) == ["ko"]


@pytest.mark.django_db
def test_the_catalog_is_cached_by_the_browser_and_revalidated():
    client = Client(HTTP_ACCEPT_LANGUAGE="ko")
    first = client.get("/jsi18n/?l=ko")
    assert first.status_code == 200
    assert "max-age=3600" in first["Cache-Control"] and "private" in first["Cache-Control"]
    assert first.has_header("Last-Modified")
    again = client.get("/jsi18n/?l=ko", HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])
    assert again.status_code == 304 and not again.content
    # An older copy than the process's catalog is sent again in full.
    stale = client.get("/jsi18n/?l=ko", HTTP_IF_MODIFIED_SINCE="Mon, 01 Jan 2001 00:00:00 GMT")
    assert stale.status_code == 200 and stale.content


def _unescaped(js: str) -> str:
    """The catalog's JSON writes non-ASCII as \\uXXXX."""
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), js)


@pytest.mark.django_db
@pytest.mark.parametrize(("accept", "words"), [
    ("ko", ["방금", "님이 입력 중…", "답글 %(count)s개", "이모지 선택", "다시 연결하는 중…"]),
    ("zh-CN", ["刚刚", "正在输入…", "%(count)s 条回复", "选择表情", "正在重新连接…"]),
])
def test_the_catalog_carries_the_chat_scripts_words(accept, words):
    body = _unescaped(Client(HTTP_ACCEPT_LANGUAGE=accept).get("/jsi18n/").content.decode())
    for word in words:
        assert word in body, word
    english = _unescaped(Client(HTTP_ACCEPT_LANGUAGE="en").get("/jsi18n/").content.decode())
    assert "방금" not in english and "刚刚" not in english


@pytest.mark.django_db
def test_the_page_says_the_users_time_zone_for_its_scripts(reader):
    client = _signed_in(reader)
    assert '<html lang="en" data-time-zone="UTC">' in client.get("/").content.decode()
    profile_update(actor=reader, user=reader, timezone="Asia/Seoul")
    assert 'data-time-zone="Asia/Seoul"' in client.get("/chat/").content.decode()
    # Nobody signed in: no zone (the scripts use the browser's).
    assert "data-time-zone" not in Client().get("/accounts/login/").content.decode()


def _catalog_js(accept: str) -> str:
    return Client(HTTP_ACCEPT_LANGUAGE=accept).get("/jsi18n/").content.decode()


NODE_SCRIPT = """
import vm from "node:vm";
globalThis.document = { documentElement: { lang: %(lang)s, dataset: { timeZone: %(zone)s } } };
vm.runInThisContext(%(catalog)s);
const util = await import(%(util)s);
const now = Date.parse("2026-12-04T03:00:00Z");  // 12:00 in Seoul
const ago = (s) => new Date(now - s * 1000).toISOString();
console.log(JSON.stringify({
  justNow: util.relativeTime(ago(10), now),
  minutes: util.relativeTime(ago(300), now),
  hours: util.relativeTime(ago(7200), now),
  // 2026-12-03 16:00 UTC is 01:00 on the 4th in Seoul (today there), the 3rd in UTC.
  today: util.relativeTime("2026-12-03T16:00:00Z", now),
  // 2026-12-03 14:00 UTC is 23:00 on the 3rd in Seoul: yesterday.
  yesterday: util.relativeTime("2026-12-03T14:00:00Z", now),
  label: util.timeLabel("2026-11-20T16:30:00Z"),
  exact: util.exactTime("2026-11-20T16:30:00Z"),
}));
"""


@pytest.mark.django_db
@pytest.mark.parametrize(("lang", "accept", "expected"), [
    ("ko", "ko", {"justNow": "방금", "minutes": "5분 전", "hours": "2시간 전", "today": "^오늘 ", "yesterday": "^어제 ",
                  "label": "^11월 21일", "exact": "^2026년 11월 21일 토요일"}),
    ("zh-hans", "zh-CN", {"justNow": "刚刚", "minutes": "5分钟前", "hours": "2小时前", "today": "^今天 01:00$",
                          "yesterday": "^昨天 23:00$", "label": "^11月21日 01:30$", "exact": "^2026年11月21日星期六"}),
    ("en", "en", {"justNow": "just now", "minutes": "5 min. ago", "hours": "2 hr. ago", "today": "^today ",
                  "yesterday": "^yesterday ", "label": "^Nov 21", "exact": "^Saturday, November 21, 2026"}),
])
def test_relative_times_and_dates_are_the_readers_language_in_the_users_zone(lang, accept, expected):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    script = NODE_SCRIPT % {"lang": json.dumps(lang), "zone": json.dumps("Asia/Seoul"),
                            "catalog": json.dumps(_catalog_js(accept)), "util": json.dumps((JS / "chat-util.js").as_uri())}
    out = subprocess.run([node, "--input-type=module", "-e", script], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    for key, pattern in expected.items():
        assert re.search(pattern, got[key]), (key, got[key], pattern)


# The chat scripts (not the jobs', translated before, nor the helpers' internals).
CHAT_SCRIPTS = sorted(p for p in JS.glob("*.js") if p.name not in {"jobs.js", "figures.js", "schedules.js", "i18n.js"})
# A literal with English words put where a person reads it.
SHOWN_LITERAL = re.compile(
    r"""(?:textContent\s*=|title\s*[:=]|placeholder\s*[:=]|"aria-label"\s*:|confirm\(|say\(|new Error\()\s*(["'`])([^"'`]*[A-Za-z]{2,}[^"'`]*)\1""")


EXPRESSION = re.compile(r"\$\{[^}]*\}?")
ENGLISH = re.compile(r"[A-Za-z]{2,}")


def test_the_chat_scripts_put_no_english_literal_where_a_person_reads_it():
    found = []
    for path in CHAT_SCRIPTS:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in SHOWN_LITERAL.finditer(line):
                if ENGLISH.search(EXPRESSION.sub("", match.group(2))):  # words, not just ${code}
                    found.append(f"{path.name}:{n}: {match.group(2)!r}")
    assert not found, found


def test_the_checker_itself_catches_an_english_literal():
    assert SHOWN_LITERAL.search('node.textContent = "Loading…";')
    assert SHOWN_LITERAL.search('el("b", { title: "Add a reaction" })')
    assert not SHOWN_LITERAL.search('node.textContent = gettext("Loading…");')
    literal = SHOWN_LITERAL.search('node.textContent = `${count} online`;').group(2)
    assert ENGLISH.search(EXPRESSION.sub("", literal))
    assert not ENGLISH.search(EXPRESSION.sub("", SHOWN_LITERAL.search('a.textContent = `@${t.mentions}`;').group(2)))
