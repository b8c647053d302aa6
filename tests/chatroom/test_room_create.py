import pytest
from django.db import IntegrityError, transaction

from chatroom.models import Room
from chatroom.services import room_create
from core.errors import ValidationFailed


@pytest.mark.django_db
def test_private_room_keeps_only_a_hash_of_its_password(make_user):
    room = room_create(owner=make_user(), name="secret-room", is_private=True, password="open sesame")
    assert room.password_hash.startswith("argon2$")
    assert "open sesame" not in room.password_hash


@pytest.mark.django_db
@pytest.mark.parametrize("kwargs,field", [
    ({"name": "ok-room", "is_private": True}, "password"),
    ({"name": "ok-room", "password": "x"}, "password"),
    ({"name": "no"}, "name"),
    ({"name": "has space"}, "name"),
])
def test_bad_rooms_are_refused_and_nothing_is_written(make_user, kwargs, field):
    owner = make_user()
    with pytest.raises(ValidationFailed) as err:
        room_create(owner=owner, **kwargs)
    assert field in err.value.fields
    assert not Room.objects.exists()


@pytest.mark.django_db
def test_database_requires_a_hash_exactly_for_private_rooms(make_user):
    owner = make_user()
    with pytest.raises(IntegrityError), transaction.atomic():
        Room.objects.create(owner=owner, name="public-with-pw", is_private=False, password_hash="x")
    with pytest.raises(IntegrityError), transaction.atomic():
        Room.objects.create(owner=owner, name="private-no-pw", is_private=True, password_hash=None)
