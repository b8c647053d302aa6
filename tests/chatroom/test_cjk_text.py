"""Chinese and Korean text in chat (issue 19): search finds a substring of a
CJK run (no spaces between words there), in the service and the API, only
in the user's rooms; mentions and department handles work right next to
CJK text ("@alice你好", "你好@alice"): a handle is ASCII letters, digits and
_ . - and ends at the first other character, and a CJK character before
"@" is not a word (while "bob@example.org" stays no mention)."""

import pytest

from accounts.models import Notification
from chatroom import selectors, services
from chatroom.markdown import render
from chatroom.models import Mention
from orgs.models import Department, Membership, Role
from orgs.services import org_create

pytestmark = pytest.mark.django_db

ZH = "我们明天开会"
KO = "회의실 예약"


def _contents(result):
    return [r["message"]["content"] for r in result["results"]]


@pytest.fixture
def texts(make_room, member_of, make_user):
    room = make_room()
    reader = member_of(room)
    for content in (ZH, KO, "明天下雨", "weekly sync notes"):
        services.message_post(actor=room.owner, room=room, content=content)
    # The same words in a room the reader is not in: never found.
    elsewhere = make_room()
    services.message_post(actor=elsewhere.owner, room=elsewhere, content="我们明天开会（另一个房间）")
    services.message_post(actor=elsewhere.owner, room=elsewhere, content="회의실 예약 (다른 방)")
    return room, reader


@pytest.mark.parametrize(("q", "found"), [
    ("明天", [ZH, "明天下雨"][::-1]),  # newest first
    ("明天开", [ZH]),
    ("开会", [ZH]),
    ("明天 开会", [ZH]),  # each space-separated term, anywhere
    ("예약", [KO]),
    ("회의", [KO]),
    ("회의실", [KO]),
    ("실 예", [KO]),  # terms split on the space: 실 and 예 both inside
])
def test_a_cjk_substring_finds_the_message_in_the_readers_rooms_only(texts, q, found):
    room, reader = texts
    assert _contents(selectors.search_messages(user=reader, q=q)) == found


@pytest.mark.parametrize("q", ["后天", "明天 下午", "예약금", "회의록", "开会议"])
def test_a_cjk_query_that_is_not_in_the_text_finds_nothing(texts, q):
    _, reader = texts
    assert selectors.search_messages(user=reader, q=q)["results"] == []


def test_the_api_finds_chinese_and_korean_substrings_and_marks_them(texts, api_as):
    room, reader = texts
    client = api_as(reader)
    zh = client.get("/api/v1/search/messages", {"q": "明天"})
    assert zh.status_code == 200, zh.content
    assert [r["message"]["content"] for r in zh.json()["results"]] == ["明天下雨", ZH]
    assert "我们<mark>明天</mark>开会" in [r["highlight"] for r in zh.json()["results"]]
    for q in ("예약", "회의"):
        ko = client.get("/api/v1/search/messages", {"q": q}).json()["results"]
        assert [r["message"]["content"] for r in ko] == [KO]
        assert f"<mark>{q}</mark>" in ko[0]["highlight"]
    # Scoped to the room when asked; a room one is not in shows nothing.
    scoped = client.get("/api/v1/search/messages", {"q": "회의", "room_id": str(room.id)}).json()["results"]
    assert len(scoped) == 1
    assert api_as(texts[0].owner).get("/api/v1/search/messages", {"q": "另一个房间"}).json()["results"] == []


# --------------------------------------------------------------------------- mentions


def _mentioned(message):
    return set(Mention.objects.filter(message_id=message.id).values_list("user_id", flat=True))


@pytest.mark.parametrize("content", ["@alice你好", "你好@alice", "@alice，明天见", "안녕하세요@alice님", "@alice님 회의실 예약했어요",
                                     "(@alice)", "「@alice」"])
def test_a_mention_next_to_cjk_text_with_no_space_mentions_the_user(make_room, member_of, content):
    room = make_room()
    alice = member_of(room, username="alice")
    message = services.message_post(actor=room.owner, room=room, content=content)
    assert _mentioned(message) == {alice.id}
    assert Notification.objects.filter(user=alice, type="mention").count() == 1
    # The rendered text marks the same handle, and nothing of the CJK text.
    assert '<span class="mention" data-mention="alice">@alice</span>' in render(message.content)


@pytest.mark.parametrize("content", ["bob@example.org 你好", "写信给alice@example.org", "x@@alice", "josé@alice"])
def test_an_at_inside_a_word_is_still_no_mention(make_room, member_of, content):
    room = make_room()
    member_of(room, username="alice")
    member_of(room, username="example.org")
    message = services.message_post(actor=room.owner, room=room, content=content)
    assert _mentioned(message) == set()
    assert 'class="mention"' not in render(message.content)


def test_a_handle_ends_at_the_first_character_that_is_not_a_handle_character(make_room, member_of):
    room = make_room()
    alice, al = member_of(room, username="alice"), member_of(room, username="ali")
    message = services.message_post(actor=room.owner, room=room, content="@alice.你好 @ali、@nobody明天")
    # "alice." loses its dot (the sentence's), "ali" ends at 、, nobody is no member.
    assert _mentioned(message) == {alice.id, al.id}


def test_a_department_handle_next_to_cjk_text_mentions_its_people(make_user, make_room, member_of):
    owner = make_user("boss-cjk")
    org = org_create(owner=owner, name="acme-cjk")
    platform = Department.objects.create(org=org, name="平台组", handle="platform-team")
    room = make_room(owner=owner, org=org)
    role = Role.objects.system("member")
    pia, ivo = member_of(room, username="pia-cjk"), member_of(room, username="ivo-cjk")
    for user in (pia, ivo):
        Membership.objects.create(org=org, user=user, role=role, department=platform, assigned_by=owner)
    message = services.message_post(actor=owner, room=room, content="请@platform-team看一下")
    assert _mentioned(message) == {pia.id, ivo.id}
    korean = services.message_post(actor=owner, room=room, content="@platform-team에게 공유합니다")
    assert _mentioned(korean) == {pia.id, ivo.id}


def test_the_api_mentions_next_to_cjk_text(make_room, member_of, api_as):
    room = make_room()
    alice = member_of(room, username="alice")
    response = api_as(room.owner).post(f"/api/v1/rooms/{room.id}/messages/", {"content": "@alice你好，明天开会"},
                                       format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["mentions"] == [str(alice.id)]
    assert 'data-mention="alice">@alice</span>你好' in body["html"]
    # An edit keeps the rule: the mention moves with the text.
    bob = member_of(room, username="bob")
    edited = api_as(room.owner).patch(f"/api/v1/messages/{body['id']}/", {"content": "改成@bob你好"}, format="json")
    assert edited.status_code == 200, edited.content
    assert edited.json()["mentions"] == [str(bob.id)]
