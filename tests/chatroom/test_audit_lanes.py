"""A room's posts are chained in the room's own audit lane (audit.chain,
"Lanes"): posts in different rooms take no chain lock in common, and the
lane is as tamper-evident as the main chain."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections, transaction

from audit import anchors
from audit.chain import row_hash
from audit.models import AuditLog
from audit.services import audit_record
from audit.verification import BAD_SIGNATURE, BROKEN_LINK, TRUNCATED, anchor_head, verify
from chatroom import services
from chatroom.services.message_send import room_lane
from tests.audit.conftest import stored_row, tamper

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _digests(settings, tmp_path):
    settings.AUDIT_DIGEST_DIR = tmp_path / "digests"


def _posts(room, user, count):
    return [services.message_post(actor=user, room=room, content=f"post {n}") for n in range(count)]


def _entries(room):
    return list(AuditLog.objects.filter(action="message.posted", lane=room_lane(room.id)).order_by("created_at"))


def test_posts_are_linked_along_their_rooms_lane_and_everything_verifies(make_room, member_of):
    room_a, room_b = make_room(), make_room()
    alice, bob = member_of(room_a), member_of(room_b)
    for n in range(3):  # interleaved with each other and with the main chain
        services.message_post(actor=alice, room=room_a, content=f"a{n}")
        services.message_post(actor=bob, room=room_b, content=f"b{n}")
        audit_record(action="test.between")
    lane_a, lane_b = _entries(room_a), _entries(room_b)
    assert len(lane_a) == len(lane_b) == 3
    assert {e.chain_version for e in lane_a + lane_b} == {3}
    # Each entry links to the previous one of its own lane, not of the log.
    for lane in (lane_a, lane_b):
        assert [e.prev_hash for e in lane[1:]] == [e.hash for e in lane[:-1]]
    main = list(AuditLog.objects.filter(lane="", action="test.between").order_by("created_at"))
    assert main[1].prev_hash == main[0].hash and main[0].chain_version == 2
    result = verify()
    assert result.ok and result.checked == AuditLog.objects.count()
    # A range that starts mid-lane finds each lane's link into it.
    assert verify(since=lane_a[1].created_at).ok


@pytest.mark.django_db(transaction=True)  # the other thread must see the rooms
def test_a_post_in_one_room_does_not_wait_for_another_rooms_open_post(make_room, member_of):
    room_a, room_b = make_room(), make_room()
    alice, bob = member_of(room_a), member_of(room_b)

    def post_in_b():
        try:
            return services.message_post(actor=bob, room=room_b, content="not held up")
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as pool:
        with transaction.atomic():  # a post in room A, its locks held until commit
            services.message_post(actor=alice, room=room_a, content="held open")
            other = pool.submit(post_in_b)
            message = other.result(timeout=10)  # would time out if B waited for A's chain lock
    assert message.content == "not held up"
    assert verify().ok


def test_a_deleted_post_entry_is_a_broken_link_in_its_lane(make_room, member_of):
    room = make_room()
    alice = member_of(room)
    _posts(room, alice, 4)
    lane = _entries(room)
    tamper("DELETE FROM audit_logs WHERE id = %s", [lane[1].pk])
    result = verify()
    assert not result.ok
    assert result.first_broken.reason == BROKEN_LINK and result.first_broken.id == str(lane[2].pk)


def test_an_entry_moved_to_another_lane_is_a_bad_signature(make_room, member_of):
    room_a, room_b = make_room(), make_room()
    alice = member_of(room_a)
    _posts(room_a, alice, 1)
    [entry] = _entries(room_a)
    # The forger relabels the lane and recomputes the unkeyed hash: the lane is signed.
    tamper("UPDATE audit_logs SET lane = %s WHERE id = %s", [room_lane(room_b.id), entry.pk])
    tamper("UPDATE audit_logs SET hash = %s WHERE id = %s", [row_hash(stored_row(entry.pk)), entry.pk])
    result = verify()
    assert not result.ok and result.first_broken.reason == BAD_SIGNATURE
    assert result.first_broken.id == str(entry.pk)


def test_a_lanes_truncated_tail_is_caught_by_the_anchor_on_its_head(make_room, member_of):
    room = make_room()
    alice = member_of(room)
    _posts(room, alice, 3)
    audit_record(action="test.newest")  # the newest entry overall is on the main chain
    anchored = anchor_head()["anchor"]
    lane = _entries(room)
    assert anchored["lanes"][room_lane(room.id)][:2] == [str(lane[-1].pk), lane[-1].hash]
    # Deleting a lane's newest entries leaves no broken link; the anchor names the missing head.
    tamper("DELETE FROM audit_logs WHERE id = %s", [lane[-1].pk])
    result = verify()
    assert not result.ok and result.first_broken.reason == TRUNCATED
    assert result.first_broken.id == str(lane[-1].pk)


def test_the_next_anchor_checks_only_what_came_after_and_links_each_lane_into_it(make_room, member_of):
    room = make_room()
    alice = member_of(room)
    _posts(room, alice, 2)
    assert anchor_head()["anchor"] is not None
    _posts(room, alice, 2)
    second = anchor_head()
    # The anchored head again (the range is inclusive) and the two new posts after it.
    assert second["ok"] and second["checked"] == 3
    assert [r.kind for r in anchors.load()] == ["anchor", "anchor"]


def test_a_lane_name_is_a_short_code():
    with pytest.raises(ValueError):
        audit_record(action="test.lane", lane="Room With Spaces")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM audit_logs WHERE action = 'test.lane'")
        assert cursor.fetchone()[0] == 0
