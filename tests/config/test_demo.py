import pytest

from accounts.models import User
from chatroom.models import Room
from config.demo import DEMO_ADMIN, seed_demo
from orgs.models import Organization


@pytest.mark.django_db
def test_demo_data_is_created_once_and_the_password_given_once():
    password = seed_demo()
    assert password and len(password) >= 12
    admin = User.objects.get(username=DEMO_ADMIN)
    assert admin.is_superuser and admin.is_staff and admin.check_password(password)
    org = Organization.objects.get(name="demo")
    room = Room.objects.get(name="general")
    assert room.org == org and not room.is_private and room.owner == admin

    assert seed_demo() is None
    assert User.objects.filter(username=DEMO_ADMIN).count() == 1
    assert Organization.objects.count() == 1 and Room.objects.count() == 1
