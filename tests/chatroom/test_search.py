"""Search: only rooms the user may read; English words by full-text search,
Chinese and Korean by substring; filters; escaped, highlighted results."""

from datetime import timedelta

import pytest
from django.utils import timezone

from chatroom import selectors, services
from core.errors import ValidationFailed

pytestmark = pytest.mark.django_db


def _contents(result):
    return [r["message"]["content"] for r in result["results"]]


def test_search_never_shows_a_private_room_to_a_non_member(make_room, member_of, make_user):
    public = make_room()
    secret = make_room(is_private=True, password="hidden words")
    reader = member_of(public)
    services.message_post(actor=public.owner, room=public, content="quarterly budget in public")
    services.message_post(actor=secret.owner, room=secret, content="quarterly budget secret plans")
    assert _contents(selectors.search_messages(user=reader, q="budget")) == ["quarterly budget in public"]
    # Naming the private room does not help.
    assert selectors.search_messages(user=reader, q="budget", room_id=secret.id)["results"] == []
    # Not even a public room one has not joined.
    assert selectors.search_messages(user=make_user(), q="budget")["results"] == []
    # Its members do find it.
    assert "quarterly budget secret plans" in _contents(selectors.search_messages(user=secret.owner, q="budget"))


def test_chinese_and_korean_substrings_are_found(make_room):
    room = make_room()
    services.message_post(actor=room.owner, room=room, content="我们明天下午开会讨论预算")
    services.message_post(actor=room.owner, room=room, content="내일 회의에서 예산을 논의합니다")
    services.message_post(actor=room.owner, room=room, content="unrelated")
    hit = selectors.search_messages(user=room.owner, q="讨论预算")
    assert _contents(hit) == ["我们明天下午开会讨论预算"]
    assert hit["results"][0]["highlight"] == "我们明天下午开会<mark>讨论预算</mark>"
    assert _contents(selectors.search_messages(user=room.owner, q="예산")) == ["내일 회의에서 예산을 논의합니다"]


def test_english_words_match_by_stem_and_are_highlighted_escaped(make_room):
    room = make_room()
    services.message_post(actor=room.owner, room=room, content="<b>We</b> were running the deploys")
    result = selectors.search_messages(user=room.owner, q="run")
    assert _contents(result) == ["<b>We</b> were running the deploys"]
    highlight = result["results"][0]["highlight"]
    assert "<mark>running</mark>" in highlight
    assert "&lt;b&gt;We&lt;/b&gt;" in highlight and "<b>" not in highlight


def test_filters_by_room_author_and_dates(make_room, member_of):
    room, other = make_room(), make_room()
    bob = member_of(room)
    services.room_join(user=room.owner, room=other)
    services.message_post(actor=room.owner, room=room, content="deploy one")
    services.message_post(actor=bob, room=room, content="deploy two")
    services.message_post(actor=room.owner, room=other, content="deploy three")
    q = "deploy"
    assert sorted(_contents(selectors.search_messages(user=room.owner, q=q))) == ["deploy one", "deploy three", "deploy two"]
    assert sorted(_contents(selectors.search_messages(user=room.owner, q=q, room_id=room.id))) == ["deploy one", "deploy two"]
    assert _contents(selectors.search_messages(user=room.owner, q=q, user_id=bob.id)) == ["deploy two"]
    later = timezone.now() + timedelta(minutes=1)
    assert selectors.search_messages(user=room.owner, q=q, since=later)["results"] == []
    assert len(selectors.search_messages(user=room.owner, q=q, until=later)["results"]) == 3


def test_search_pages_newest_first_without_repeats(make_room):
    room = make_room()
    for i in range(7):
        services.message_post(actor=room.owner, room=room, content=f"needle {i}")
    first = selectors.search_messages(user=room.owner, q="needle", limit=3)
    assert _contents(first) == ["needle 6", "needle 5", "needle 4"]
    second = selectors.search_messages(user=room.owner, q="needle", limit=3, cursor=first["next"])
    third = selectors.search_messages(user=room.owner, q="needle", limit=3, cursor=second["next"])
    assert _contents(second) + _contents(third) == ["needle 3", "needle 2", "needle 1", "needle 0"]
    assert third["next"] is None


def test_like_wildcards_in_the_query_are_literal(make_room):
    room = make_room()
    services.message_post(actor=room.owner, room=room, content="100% done")
    services.message_post(actor=room.owner, room=room, content="1000 items")
    assert _contents(selectors.search_messages(user=room.owner, q="0%")) == ["100% done"]
    with pytest.raises(ValidationFailed):
        selectors.search_messages(user=room.owner, q="   ")
