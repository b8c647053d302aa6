"""Message markdown (chatroom.markdown): each construct of the subset renders,
and hostile input comes out inert, whatever the trick; the message object
carries the HTML in `html` and keeps the raw text in `content`; the emoji
list is served from the packaged data set; edit history stays members-only."""

import json
import re

import pytest

from chatroom.markdown import TAGS, render, sanitize
from chatroom.models import Message

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("source, html", [
    ("**bold**", "<p><strong>bold</strong></p>"),
    ("_italic_ and *italic*", "<p><em>italic</em> and <em>italic</em></p>"),
    ("`x < y`", "<p><code>x &lt; y</code></p>"),
    ("```\n<b>not bold</b>\n```", "<pre><code>&lt;b&gt;not bold&lt;/b&gt;\n</code></pre>"),
    ("    indented code", "<pre><code>indented code\n</code></pre>"),
    ("- one\n- two", "<ul>\n<li>one</li>\n<li>two</li>\n</ul>"),
    ("1. one\n2. two", "<ol>\n<li>one</li>\n<li>two</li>\n</ol>"),
    ("> quoted", "<blockquote>\n<p>quoted</p>\n</blockquote>"),
    ("line one\nline two", "<p>line one<br>\nline two</p>"),
    ("[docs](https://example.org/a?b=1&c=2)",
     '<p><a href="https://example.org/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer nofollow">docs</a></p>'),
    ("see https://example.org/x.",
     '<p>see <a href="https://example.org/x" target="_blank" rel="noopener noreferrer nofollow">https://example.org/x</a>.</p>'),
    ("[mail](mailto:ann@example.org)", '<p><a href="mailto:ann@example.org" target="_blank" rel="noopener noreferrer nofollow">mail</a></p>'),
    ("hi @alice.", '<p>hi <span class="mention" data-mention="alice">@alice</span>.</p>'),
    ("@All hands", '<p><span class="mention" data-mention="all">@All</span> hands</p>'),
    ("ann@example.org is no mention", '<p><a href="mailto:ann@example.org" target="_blank" rel="noopener noreferrer nofollow">ann@example.org</a> is no mention</p>'),
    ("`@alice` in code", "<p><code>@alice</code> in code</p>"),
    ("# not a heading", "<p># not a heading</p>"),
    ("![img](https://example.org/x.png)", '<p>!<a href="https://example.org/x.png" target="_blank" rel="noopener noreferrer nofollow">img</a></p>'),
])
def test_each_construct_of_the_subset(source, html):
    assert render(source) == html


XSS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](java&#x09;script:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[click](vbscript:msgbox(1))",
    "<a href=\"javascript:alert(1)\">x</a>",
    "[x](https://example.org\" onmouseover=\"alert(1))",
    "**<svg onload=alert(1)>**",
    "<<script>script>alert(1)<</script>/script>",
    "`<iframe src=javascript:alert(1)>`",
    "> <details open ontoggle=alert(1)>",
    "[a](<javascript:alert(1)>)",
    "<javascript:alert(1)>",
    "@x\"onmouseover=alert(1)",
    "[a](//evil.example/x)",
]


@pytest.mark.parametrize("source", XSS)
def test_hostile_input_is_neutralised(source):
    out = render(source)
    # Every tag left is one of the subset's, with only the subset's attributes
    # (anything else is escaped text: "&lt;script&gt;" shows, and does nothing).
    for tag, attrs in re.findall(r"<([a-zA-Z0-9]+)([^>]*)>", out):
        assert tag in TAGS, (source, out)
        for name, value in re.findall(r'\s([a-zA-Z-]+)="([^"]*)"', attrs):
            assert name in {"href", "target", "rel", "class", "data-mention", "start"}, (source, out)
            if name == "href":
                assert re.match(r"^(https?:|mailto:)", value), (source, out)
            if name == "class":
                assert value == "mention"
    allowed = "|".join(TAGS)
    assert "<" not in re.sub(rf"</?({allowed})\b[^>]*>", "", out), (source, out)


def test_the_sanitizer_guards_on_its_own():
    """Even HTML that markdown-it never produces loses what is not allowed."""
    dirty = ('<p onclick="x()">a<script>alert(1)</script><img src=x onerror=alert(1)>'
             '<a href="javascript:alert(1)">j</a><a href="data:text/html,x">d</a>'
             '<span class="mention evil" style="x" data-mention="bob">@bob</span></p>')
    assert sanitize(dirty) == ('<p>a<a target="_blank" rel="noopener noreferrer nofollow">j</a>'
                               '<a target="_blank" rel="noopener noreferrer nofollow">d</a>'
                               '<span class="mention" data-mention="bob">@bob</span></p>')


def test_the_message_object_has_html_and_keeps_the_raw_text(pair, api_as):
    room, alice, bob = pair
    client = api_as(bob)
    sent = client.post(f"/api/v1/rooms/{room.id}/messages/", {"content": "**hi** @alice <b>x</b>"}, format="json").json()
    assert sent["content"] == "**hi** @alice <b>x</b>"
    assert sent["html"] == ('<p><strong>hi</strong> <span class="mention" data-mention="alice">@alice</span> '
                            "&lt;b&gt;x&lt;/b&gt;</p>")
    assert Message.objects.get(id=sent["id"]).content == "**hi** @alice <b>x</b>"
    page = client.get(f"/api/v1/rooms/{room.id}/messages/").json()["results"]
    assert [m["html"] for m in page if m["id"] == sent["id"]] == [sent["html"]]
    assert client.delete(f"/api/v1/messages/{sent['id']}/").status_code == 204
    removed = api_as(alice).get(f"/api/v1/messages/{sent['id']}/").json()
    assert removed["is_deleted"] and removed["html"] == "" and removed["content"] == ""


def test_edit_history_is_for_members_only(make_room, make_user, api_as):
    owner = make_user("owner-h")
    room = make_room(owner=owner, is_private=True, password="a long enough pass")
    client = api_as(owner)
    sent = client.post(f"/api/v1/rooms/{room.id}/messages/", {"content": "first"}, format="json").json()
    client.patch(f"/api/v1/messages/{sent['id']}/", {"content": "second"}, format="json")
    assert [v["content"] for v in client.get(f"/api/v1/messages/{sent['id']}/history").json()["results"]] == ["first"]
    outsider = api_as(make_user("outsider-h")).get(f"/api/v1/messages/{sent['id']}/history")
    assert outsider.status_code == 404 and outsider.json()["error"]["code"] == "not_found"


def test_the_emoji_list_comes_from_the_packaged_data_set(client):
    import emoji

    response = client.get("/chat/emoji.json")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    body = json.loads(response.content)
    assert body["version"] == emoji.__version__
    chars = [e[0] for e in body["emoji"]]
    assert len(chars) > 1800 and len(set(chars)) == len(chars)
    assert "🎉" in chars and "👍" in chars and "🇫🇷" in chars
    assert "👍🏽" not in chars  # skin-tone variants are left out
    names = {e[0]: e[1] for e in body["emoji"]}
    assert names["🎉"] == "party popper"
    again = client.get("/chat/emoji.json", HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304
