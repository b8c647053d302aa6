"""Rules that used to live in the faces, now in the services and selectors,
so the page, the API, the socket and the admin answer alike: the message
rate limit, "the org must be yours" for a new room (a lapsed membership does
not count), and hiding whether a message exists from a non-member."""

from datetime import timedelta

import pytest
from django.utils import timezone

from chatroom import services
from chatroom.models import Message, Room
from core.errors import NotFound, Throttled, ValidationFailed
from orgs.models import Membership, Organization, Role

pytestmark = pytest.mark.django_db


def test_the_message_rate_is_limited_by_the_service_for_every_face(make_room, member_of, api_as, settings):
    settings.CHAT_MESSAGE_RATE, settings.CHAT_MESSAGE_RATE_WINDOW = 3, 60
    room = make_room()
    bob = member_of(room)
    for i in range(3):
        services.message_post(actor=bob, room=room, content=f"m{i}")
    with pytest.raises(Throttled) as refused:
        services.message_post(actor=bob, room=room, content="one too many")
    assert 1 <= refused.value.retry_after <= 60
    # The API shares the budget (and answers as it always has).
    response = api_as(bob).post(f"/api/v1/rooms/{room.id}/messages/", {"content": "api"}, format="json")
    assert response.status_code == 429 and response.json()["error"]["code"] == "throttled"
    assert 1 <= int(response["Retry-After"]) <= 60
    assert not Message.objects.filter(room=room, content__in=["one too many", "api"]).exists()
    # Another user has a budget of their own.
    assert services.message_post(actor=room.owner, room=room, content="owner").content == "owner"


def _org_with(user, **membership):
    other = Organization.objects.create(name=f"org-{user.username}", owner=user)
    Membership.objects.create(org=other, user=user, role=Role.objects.system("member"), **membership)
    return other


@pytest.mark.parametrize("lapsed", [
    {"expires_at": timezone.now() - timedelta(minutes=1)},
    {"is_active": False},
])
def test_a_room_goes_only_in_an_org_its_owner_is_a_member_of_now(make_user, api_as, lapsed):
    owner = make_user()
    org = _org_with(owner, **lapsed)
    with pytest.raises(ValidationFailed) as refused:
        services.room_create(owner=owner, name="lapsed-room", org=org)
    assert "org_id" in refused.value.fields
    response = api_as(owner).post("/api/v1/rooms/", {"name": "lapsed-room", "org_id": str(org.id)}, format="json")
    assert response.status_code == 400 and "org_id" in response.json()["error"]["fields"]
    assert not Room.objects.filter(name="lapsed-room").exists()

    Membership.objects.filter(org=org, user=owner).update(expires_at=timezone.now() + timedelta(days=1),
                                                          is_active=True)
    room = services.room_create(owner=owner, name="current-room", org=Organization(pk=org.pk))
    assert room.org == org and room.org.name == org.name


def test_a_message_outside_your_rooms_does_not_exist_for_any_write(make_room, member_of, make_user):
    room = make_room()
    message = services.message_post(actor=room.owner, room=room, content="private")
    outsider = make_user()
    writes = [
        lambda message_id: services.message_edit(actor=outsider, message_id=message_id, content="x"),
        lambda message_id: services.message_delete(actor=outsider, message_id=message_id),
        lambda message_id: services.message_pin(actor=outsider, message_id=message_id),
        lambda message_id: services.reaction_add(actor=outsider, message_id=message_id, emoji="👍"),
        lambda message_id: services.reaction_remove(actor=outsider, message_id=message_id, emoji="👍"),
    ]
    for write in writes:
        answers = []
        for message_id in (message.id, "7d0b0b2e-0000-4000-8000-000000000000", "not-a-uuid"):
            with pytest.raises(NotFound) as refused:
                write(message_id)
            answers.append(refused.value.message)
        assert answers == ["No such message."] * 3
