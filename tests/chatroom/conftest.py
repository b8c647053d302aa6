import itertools

import pytest
from rest_framework.test import APIClient

from accounts.services import user_create
from chatroom.models import RoomMember
from chatroom.services import room_create, room_join

_names = itertools.count(1)


@pytest.fixture
def make_user(db):
    """Like the project's make_user, but without a password by default: these
    tests log in with force_login/force_authenticate, and skipping Argon2
    keeps the many users they create cheap."""
    counter = itertools.count(1)

    def make(username=None, password=None, **kwargs):
        username = username or f"chatter{next(counter)}"
        kwargs.setdefault("email", f"{username}@example.com")
        return user_create(username=username, password=password, **kwargs)

    return make


@pytest.fixture
def make_room(make_user):
    """A room and its owner; extra kwargs go to room_create."""

    def make(owner=None, **kwargs):
        owner = owner or make_user()
        kwargs.setdefault("name", f"room-{next(_names)}")
        return room_create(owner=owner, **kwargs)

    return make


@pytest.fixture
def member_of(make_user):
    """A new user in ``room`` with ``role`` (joined through the service, then
    promoted directly: role changes have their own tests)."""

    def make(room, role="member", **user_kwargs):
        user = make_user(**user_kwargs)
        if room.is_private or room.require_approval:
            RoomMember.objects.create(room=room, user=user, role=role)
        else:
            room_join(user=user, room=room)
            RoomMember.objects.filter(room=room, user=user).update(role=role)
        return user

    return make


@pytest.fixture
def api_as():
    def make(user):
        client = APIClient()
        client.force_authenticate(user)
        return client

    return make


@pytest.fixture
def pair(make_room, member_of, make_user):
    """A public room with two members, alice (owner) and bob."""
    alice = make_user("alice")
    room = make_room(owner=alice, name="live")
    bob = member_of(room, username="bob")
    return room, alice, bob
