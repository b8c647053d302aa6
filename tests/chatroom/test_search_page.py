"""The search results page: each hit names its room and author, links to the
message (the room opened at it), and the page filters by room, person and
date; bad filters say what is wrong instead of failing."""

import datetime

import pytest
from django.utils import timezone

from chatroom.models import Message
from chatroom.services import message_post

pytestmark = pytest.mark.django_db


@pytest.fixture
def searcher(pair, client):
    room, alice, bob = pair
    client.force_login(alice)
    return room, alice, bob, client


def test_a_hit_names_room_and_author_and_links_to_the_message(searcher):
    room, alice, bob, client = searcher
    hit = message_post(actor=bob, room=room, content="the deploy key rotated")
    page = client.get("/chat/search/", {"q": "deploy"}).content.decode()
    assert f"#{room.name}" in page and "bob" in page
    assert f'href="/chat/rooms/{room.id}/?around={hit.id}"' in page
    assert 'datetime="' in page and "data-relative" in page


def test_filters_by_person_and_date(searcher):
    room, alice, bob, client = searcher
    old = message_post(actor=alice, room=room, content="release notes, the old ones")
    Message.objects.filter(id=old.id).update(created_at=old.created_at - datetime.timedelta(days=10))
    new = message_post(actor=bob, room=room, content="release notes, new")
    mine = message_post(actor=alice, room=room, content="release notes from alice today")

    def hits(**params):
        page = client.get("/chat/search/", {"q": "release", **params}).content.decode()
        return {m.id for m in (old, new, mine) if f"around={m.id}" in page}

    assert hits() == {old.id, new.id, mine.id}
    assert hits(person="bob") == {new.id}
    assert hits(person="@alice") == {old.id, mine.id}
    today = timezone.localdate().isoformat()
    assert hits(since=today) == {new.id, mine.id}
    assert hits(until=(timezone.localdate() - datetime.timedelta(days=5)).isoformat()) == {old.id}
    assert hits(room_id=str(room.id), person="alice", since=today) == {mine.id}


def test_bad_filters_are_explained(searcher):
    room, alice, bob, client = searcher
    response = client.get("/chat/search/", {"q": "x", "person": "nobody-like-this"})
    assert response.status_code == 200 and "No one is called nobody-like-this." in response.content.decode()
    response = client.get("/chat/search/", {"q": "x", "since": "31/01/2026"})
    assert response.status_code == 200 and "use a date like 2026-01-31" in response.content.decode()


def test_a_thread_reply_links_to_its_thread(searcher):
    room, alice, bob, client = searcher
    root = message_post(actor=alice, room=room, content="root of a thread")
    reply = message_post(actor=bob, room=room, content="a unique threadreply", thread_id=root.id)
    page = client.get("/chat/search/", {"q": "threadreply"}).content.decode()
    assert f"?thread={root.id}&amp;around={reply.id}" in page
