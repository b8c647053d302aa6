"""Two people opening the same DM at the same moment get one room, held by
the database's unique dm_key (real PostgreSQL, one connection per thread)."""

import threading

import pytest
from django.db import connection

from chatroom import services
from chatroom.models import Room, RoomMember

pytestmark = pytest.mark.django_db(transaction=True)


def _race(calls):
    """Run each (actor, user_ids) at the same moment; return the results."""
    barrier = threading.Barrier(len(calls))
    results, errors = [None] * len(calls), []

    def run(i, actor, user_ids):
        try:
            barrier.wait()
            results[i] = services.dm_open(actor=actor, user_ids=user_ids)
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, *c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    return results


@pytest.mark.parametrize("attempt", range(3))
def test_concurrent_opens_of_one_dm_make_one_room(make_room, member_of, make_user, attempt):
    alice = make_user("alice")
    lobby = make_room(owner=alice, name="lobby")
    bob = member_of(lobby, username="bob")
    calls = [(alice, [str(bob.id)]), (bob, [str(alice.id)])] * 3
    results = _race(calls)
    assert len({room.id for room, _ in results}) == 1
    assert sorted(created for _, created in results) == [False] * 5 + [True]
    assert Room.objects.filter(kind="dm").count() == 1
    assert RoomMember.objects.filter(room=results[0][0]).count() == 2


def test_concurrent_opens_of_one_group_dm_make_one_room(make_room, member_of, make_user):
    alice = make_user("alice")
    lobby = make_room(owner=alice, name="lobby")
    bob, carol = member_of(lobby, username="bob"), member_of(lobby, username="carol")
    ids = {u: str(u.id) for u in (alice, bob, carol)}
    calls = [(a, [ids[u] for u in (alice, bob, carol) if u != a]) for a in (alice, bob, carol)] * 2
    results = _race(calls)
    assert len({room.id for room, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert RoomMember.objects.filter(room=results[0][0]).count() == 3


def test_the_second_insert_waits_for_the_first_and_returns_its_room(make_room, member_of, make_user):
    """Deterministically the race's worst case: alice's DM is inserted but not
    committed when bob opens it; bob's insert waits on the unique index, then
    fails on it, and bob gets alice's room (not an error, not a second room)."""
    from django.db import transaction

    alice = make_user("alice")
    lobby = make_room(owner=alice, name="lobby")
    bob = member_of(lobby, username="bob")
    inserted, release, got = threading.Event(), threading.Event(), {}

    def first():
        try:
            with transaction.atomic():
                got["alice"] = services.dm_open(actor=alice, user_ids=[str(bob.id)])
                inserted.set()
                release.wait(30)
        finally:
            connection.close()

    def second():
        try:
            inserted.wait(30)
            got["bob"] = services.dm_open(actor=bob, user_ids=[str(alice.id)])
        finally:
            connection.close()

    a, b = threading.Thread(target=first), threading.Thread(target=second)
    a.start()
    b.start()
    b.join(1.0)
    assert b.is_alive()  # waiting on alice's uncommitted row
    release.set()
    a.join(30)
    b.join(30)
    assert got["alice"][1] is True and got["bob"] == (got["alice"][0], False)
    assert Room.objects.filter(kind="dm").count() == 1
