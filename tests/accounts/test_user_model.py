import pytest
from django.db import IntegrityError, connection, transaction

from accounts.models import User
from accounts.services import user_create
from core.errors import ValidationFailed


@pytest.mark.django_db
def test_user_has_a_uuid_key_and_an_argon2id_password(make_user):
    user = make_user("bob")
    assert len(str(user.id)) == 36
    assert user.password.startswith("argon2$argon2id$")
    assert user.check_password("correct horse battery staple")


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["ab", "x" * 51, "has space", "semi;colon", "名字"])
def test_username_rule_is_enforced_by_the_service(name):
    with pytest.raises(ValidationFailed) as err:
        user_create(username=name, email="a@example.com", password="pw-123456789")
    assert "username" in err.value.fields
    assert not User.objects.exists()


@pytest.mark.django_db
def test_username_rule_is_enforced_by_the_database():
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            "INSERT INTO users (id, username, email, password, status, role, avatar_url, is_staff, is_superuser, created_at, updated_at)"
            " VALUES (gen_random_uuid(), 'bad name', 'x@example.com', '', 'active', 'user', '', false, false, now(), now())"
        )


@pytest.mark.django_db
def test_email_is_unique_regardless_of_case(make_user):
    make_user("carol", email="Carol@Example.com")
    with pytest.raises(ValidationFailed) as err:
        make_user("carol2", email="carol@example.COM")
    assert err.value.code == "validation_error"
    # The database enforces it too, for writes that skip validation.
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(username="carol3", email="CAROL@example.com")


@pytest.mark.django_db
def test_is_active_follows_status_in_the_database(make_user):
    user = make_user("dave")
    assert User.objects.get(pk=user.pk).is_active is True
    User.objects.filter(pk=user.pk).update(status=User.Status.BANNED)
    assert User.objects.get(pk=user.pk).is_active is False
    assert not User.objects.filter(pk=user.pk, is_active=True).exists()


@pytest.mark.django_db
def test_status_and_role_are_checked_by_the_database(make_user):
    user = make_user("erin")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=user.pk).update(status="deleted")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=user.pk).update(role="root")
