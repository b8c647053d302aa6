"""The chat sidebar's reads (chatroom.sidebar): only the user's own rooms and
DMs, with their counts, and recent mentions only from rooms they are still
in and messages not deleted."""

import pytest

from chatroom import sidebar
from chatroom.services import dm_open, message_delete, message_post, room_create, room_join, room_leave

pytestmark = pytest.mark.django_db


def test_sidebar_counts_and_lists_only_my_rooms(make_user, make_room):
    me, bob = make_user(), make_user()
    mine = make_room(owner=me, name="mine-room")
    room_join(user=bob, room=mine)
    make_room(owner=bob, name="not-mine")
    dm, _ = dm_open(actor=bob, user_ids=[str(me.id)])
    message_post(actor=bob, room=mine, content=f"hi @{me.username}")
    message_post(actor=bob, room=mine, content="and more")
    message_post(actor=bob, room=dm, content="psst")
    message_post(actor=me, room=mine, content="my own message does not count")

    found = sidebar.sidebar(me)
    assert [r.name for r in found["channels"]] == ["mine-room"]
    channel = found["channels"][0]
    assert (channel.unread, channel.mentions) == (2, 1)
    assert [(d.title, d.unread) for d in found["dms"]] == [(bob.username, 1)]
    assert found["total"] == 3
    assert found["threads"] == {"unread": 0, "mentions": 0}


def test_recent_mentions_skip_rooms_left_and_deleted_messages(make_user, make_room):
    me, bob = make_user(), make_user()
    kept, left = make_room(owner=bob, name="kept-room"), make_room(owner=bob, name="left-room")
    for room in (kept, left):
        room_join(user=me, room=room)
    first = message_post(actor=bob, room=kept, content=f"one @{me.username}")
    gone = message_post(actor=bob, room=kept, content=f"two @{me.username}")
    message_post(actor=bob, room=left, content=f"three @{me.username}")
    message_post(actor=bob, room=kept, content="no mention")
    message_delete(actor=bob, message_id=gone.id)
    room_leave(user=me, room=left)
    assert [m.id for m in sidebar.recent_mentions(me)] == [first.id]


def test_chat_pages_show_the_sidebar_with_the_current_room_marked(client, make_user, make_room):
    me = make_user()
    room = make_room(owner=me, name="here-room")
    make_room(owner=me, name="other-room")
    client.force_login(me)
    html = client.get(f"/chat/rooms/{room.id}/").content.decode()
    assert 'data-testid="chat-sidebar"' in html and "#other-room" in html
    current = html.split(f'data-room-id="{room.id}"', 1)[0].rsplit("<a ", 1)[1]
    assert "current" in current
    assert "js/sidebar.js" in html and "js/switcher.js" in html and 'id="switcher"' in html
