"""Threads on the pages and in the admin (issue 16): the "Threads" page
lists the followed threads unread first, escaped, only in rooms the user is
in; the room page carries the thread panel and opens ?thread=; the nav links
to Threads; the admin shows thread summaries and replies of channels only."""

import json

import pytest

from chatroom import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def lobby(make_room, member_of, make_user):
    alice = make_user("alice")
    room = make_room(owner=alice, name="lobby")
    return room, alice, member_of(room, username="bob")


def test_the_threads_page_lists_followed_threads_unread_first(client, lobby):
    room, alice, bob = lobby
    read = services.message_post(actor=alice, room=room, content="read thread")
    unread = services.message_post(actor=alice, room=room, content="<b>unread</b> thread")
    services.message_post(actor=bob, room=room, content="new", thread_id=unread.id)
    # The read thread has the latest activity, yet the unread one comes first.
    last = services.message_post(actor=bob, room=room, content="latest", thread_id=read.id)
    services.thread_read_mark(actor=alice, root_id=read.id, message_id=last.id)
    client.force_login(alice)
    html = client.get("/chat/threads/").content.decode()
    assert html.index(f'data-root-id="{unread.id}"') < html.index(f'data-root-id="{read.id}"')
    assert "&lt;b&gt;unread&lt;/b&gt; thread" in html and "<b>unread</b>" not in html
    assert 'data-testid="thread-item-unread"' in html
    assert 'data-testid="threads-link"' in html and "js/threads.js" in html


def test_the_threads_page_leaves_out_rooms_the_user_left(client, lobby):
    room, alice, bob = lobby
    root = services.message_post(actor=alice, room=room, content="left behind")
    services.message_post(actor=bob, room=room, content="r", thread_id=root.id)
    services.room_leave(user=bob, room=room)
    client.force_login(bob)
    html = client.get("/chat/threads/").content.decode()
    assert "left behind" not in html and 'data-testid="no-threads"' in html


def test_the_room_page_has_the_thread_panel_and_opens_a_thread(client, lobby):
    room, alice, _ = lobby
    root = services.message_post(actor=alice, room=room, content="root")
    client.force_login(alice)
    page = client.get(f"/chat/rooms/{room.id}/?thread={root.id}")
    html = page.content.decode()
    assert 'data-testid="thread-panel"' in html and "js/chat-thread.js" in html
    start = html.index('id="chat-config"')
    config = json.loads(html[html.index(">", start) + 1:html.index("</script>", start)])
    assert config["thread"] == str(root.id)


def test_the_admin_shows_channel_threads_and_their_replies_only(client, lobby, make_user):
    room, alice, bob = lobby
    staff = make_user("staffer", is_staff=True, is_superuser=True)
    root = services.message_post(actor=alice, room=room, content="channel root")
    services.message_post(actor=bob, room=room, content="channel reply", thread_id=root.id)
    dm = services.dm_open(actor=alice, user_ids=[bob.id])[0]
    dm_root = services.message_post(actor=alice, room=dm, content="dm root")
    services.message_post(actor=bob, room=dm, content="dm thread reply", thread_id=dm_root.id)
    client.force_login(staff)
    listing = client.get("/admin/chatroom/thread/").content.decode()
    assert str(root.id) in listing and str(dm_root.id) not in listing
    replies = client.get("/admin/chatroom/message/", {"thread_id__isempty": "0"}).content.decode()
    assert "channel reply" in replies and "channel root" not in replies and "dm thread reply" not in replies
    assert client.get(f"/admin/chatroom/thread/{root.id}/change/").status_code == 200
    assert client.get(f"/admin/chatroom/thread/{dm_root.id}/change/").status_code in (302, 404)
