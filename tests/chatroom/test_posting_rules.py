"""One posting path (chat_message_post, migration 0006): every kind of
message is stamped by the database clock under the posting lock, the rules
are judged once, in the database, and Python only maps the outcome; "plain"
(one call, no transaction of its own) is decided on the stored text."""

import itertools
import json
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone

from accounts.models import Notification
from audit.models import AuditLog
from chatroom import checks, selectors, services
from chatroom.models import (
    Attachment,
    Mention,
    Message,
    MessageClientId,
    Room,
    RoomMember,
)
from chatroom.permissions import POWERS, RANK, has_power, power_sql
from core.errors import ApplicationError, Conflict, PermissionDenied
from orgs.models import Organization

pytestmark = pytest.mark.django_db

Role = RoomMember.Role


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _upload(user, name="notes.txt", data=b"some notes"):
    return services.attachment_upload(actor=user, file=SimpleUploadedFile(name, data))


@pytest.fixture(params=[-0.2, 0.2], ids=["app-clock-behind", "app-clock-ahead"])
def skewed_app_clock(request, monkeypatch):
    """The app server's clock 200 ms off the database's (the app's, not a
    mock of the database): nothing it says may order messages."""
    real_now = timezone.now
    skew = timedelta(seconds=request.param)
    monkeypatch.setattr(timezone, "now", lambda: real_now() + skew)
    return skew


def test_every_kind_of_post_keeps_history_order_and_cursors_under_a_skewed_app_clock(
        make_room, member_of, skewed_app_clock):
    room = make_room()
    alice, bob = member_of(room), member_of(room)
    plain = services.message_post(actor=alice, room=room, content="the question")
    reply = services.message_post(actor=bob, room=room, content="the answer", reply_to=plain.id)
    attached = services.message_post(actor=alice, room=room, content="the file",
                                     attachment_ids=[_upload(alice).id])
    mention = services.message_post(actor=bob, room=room, content=f"thanks @{alice.username}")
    joined = member_of(room)  # a system message ("joined")
    last = services.message_post(actor=joined, room=room, content="hello all")
    joined_message = Message.objects.get(room=room, message_type="system", user=joined)
    expected = [plain, reply, attached, mention, joined_message, last]

    history = selectors.room_messages(user=alice, room=room, limit=100).messages
    assert [m.id for m in history][-len(expected):] == [m.id for m in expected]
    keys = [(m.created_at, m.id) for m in history]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    for i, message in enumerate(expected):
        after = selectors.room_messages(user=alice, room=room, after=message.cursor, limit=100).messages
        assert [m.id for m in after] == [m.id for m in expected[i + 1:]]
    for message in (plain, reply, attached, mention, last):
        # Each broadcast names the message before it as history has it.
        position = [m.id for m in history].index(message.id)
        assert message.prev_cursor == history[position - 1].cursor


# --------------------------------------------------------------------------- the rules, judged once


def test_power_sql_is_has_power_for_every_power_role_and_override():
    overrides = [None, {}, True, False, "yes", 1]
    with connection.cursor() as cursor:
        for power, role, override in itertools.product(POWERS, RANK, overrides):
            permissions = override if override in (None, {}) else {power: override}
            member = RoomMember(role=role, permissions=permissions or {})
            cursor.execute(f"SELECT {power_sql(power, role='t.role', permissions='t.permissions')} "
                           "FROM (SELECT %s::text AS role, %s::jsonb AS permissions) t",
                           [role, json.dumps(permissions)])
            assert cursor.fetchone()[0] is has_power(member, power), (power, role, override)


def _python_view(member: RoomMember | None, archived: bool):
    """What the rules say in Python's terms (chatroom.permissions), in the
    order the API has always answered them."""
    if member is None:
        return PermissionDenied, "You are not a member of this room."
    if archived:
        return Conflict, "This room is archived."
    if not has_power(member, "post"):
        return PermissionDenied, "You may not post in this room."
    if member.is_muted:
        return PermissionDenied, "You are muted in this room."
    return None


def test_the_database_judges_every_kind_of_post_as_the_python_rules_say(make_room, member_of, make_user, settings):
    settings.CHAT_MESSAGE_RATE = 0
    room = make_room()
    owner, member, bystander = room.owner, member_of(room), member_of(room)
    outsider = make_user()
    parent = services.message_post(actor=owner, room=room, content="something to answer")
    kinds = {
        "plain": lambda user: {"content": "hello"},
        "reply": lambda user: {"content": "an answer", "reply_to": parent.id},
        "mention": lambda user: {"content": f"hey @{bystander.username}"},
        "attachment": lambda user: {"content": "", "attachment_ids": [_upload(user).id]},
        "resend": lambda user: {"content": "once", "client_id": f"c-{next(ids)}"},
    }
    ids = itertools.count()
    overrides = [{}, {"post": True}, {"post": False}, {"post": "yes"}]
    cases = [(None, {}, False, archived) for archived in (False, True)] + list(
        itertools.product(RANK, overrides, (False, True), (False, True)))
    checked = 0
    for role, permissions, muted, archived in cases:
        Room.objects.filter(pk=room.pk).update(archived=archived)
        poster = outsider if role is None else owner if role == Role.OWNER else member
        if role is not None:
            RoomMember.objects.filter(room=room, user=poster).update(role=role, permissions=permissions,
                                                                     is_muted=muted)
        row = RoomMember.objects.filter(room=room, user=poster).first()
        expected = _python_view(row, archived)
        for kind, body in kinds.items():
            stored = Message.objects.filter(room=room).count()
            audited = AuditLog.objects.filter(action="message.posted").count()
            try:
                services.message_post(actor=poster, room=room, **body(poster))
                got = None
            except ApplicationError as exc:
                got = type(exc), exc.message
            assert got == expected, (kind, role, permissions, muted, archived)
            if expected is not None:
                assert Message.objects.filter(room=room).count() == stored
                assert AuditLog.objects.filter(action="message.posted").count() == audited
            checked += 1
    assert checked == len(cases) * len(kinds)
    # Refused uploads were left unlinked, refused client ids unclaimed.
    assert not Attachment.objects.filter(message__isnull=False, uploader=outsider).exists()
    assert MessageClientId.objects.count() == Message.objects.filter(content="once").count()


def test_a_membership_changed_between_two_posts_refuses_the_second_on_every_kind(make_room, member_of):
    """Nothing Python remembers between posts can let one through: the
    function reads the membership under the lock."""
    room = make_room()
    bob, carol = member_of(room), member_of(room)
    parent = services.message_post(actor=bob, room=room, content="first")
    for body in ({"content": "plain"}, {"content": "re", "reply_to": parent.id},
                 {"content": f"@{carol.username}"}):
        services.message_post(actor=bob, room=room, **body)
    RoomMember.objects.filter(room=room, user=bob).update(is_muted=True)
    for body in ({"content": "plain"}, {"content": "re", "reply_to": parent.id},
                 {"content": f"@{carol.username}"}, {"content": "", "attachment_ids": [_upload(bob).id]}):
        with pytest.raises(PermissionDenied, match="muted"):
            services.message_post(actor=bob, room=room, **body)


def test_the_deployed_function_is_rendered_from_the_current_definitions(monkeypatch):
    assert checks.posting_function_check(databases=["default"]) == []
    # POWERS changed in Python without a migration re-creating the function:
    monkeypatch.setitem(POWERS, "post", Role.MODERATOR)
    assert [e.id for e in checks.posting_function_check(databases=["default"])] == ["chatroom.E001"]


def test_a_post_signs_the_rooms_current_org_even_after_the_org_is_renamed(make_room, make_user):
    room = make_room()
    org = Organization.objects.create(name="acme", owner=room.owner)
    Room.objects.filter(pk=room.pk).update(org=org)
    first = services.message_post(actor=room.owner, room=room, content="one")
    Organization.objects.filter(pk=org.pk).update(name="acme-two")
    second = services.message_post(actor=room.owner, room=room, content="two")
    names = {e.resource_id: e.org_name for e in AuditLog.objects.filter(action="message.posted")}
    assert names[str(first.id)] == "acme" and names[str(second.id)] == "acme-two"
    assert AuditLog.objects.get(resource_id=str(second.id)).org_id == org.id


# --------------------------------------------------------------------------- "plain" is the stored text


def test_a_mention_hidden_by_nul_is_a_mention_of_the_stored_text(make_room, member_of):
    room = make_room()
    alice, bob = member_of(room), member_of(room)
    message = services.message_post(actor=bob, room=room, content=f"@\x00{alice.username} look")
    assert message.content == f"@{alice.username} look"
    assert list(Mention.objects.filter(message_id=message.id).values_list("user_id", flat=True)) == [alice.id]
    assert Notification.objects.filter(user=alice, type="mention").count() == 1
    assert message.body["mentions"] == [str(alice.id)]


def test_the_api_refuses_nul_in_a_message_as_the_contract_says(make_room, member_of, api_as):
    room = make_room()
    alice = member_of(room)
    response = api_as(room.owner).post(f"/api/v1/rooms/{room.id}/messages/",
                                       data=json.dumps({"content": f"@\u0000{alice.username}"}),
                                       content_type="application/json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "validation_error"
    assert not Message.objects.filter(room=room, message_type="text").exists()


def test_a_system_message_goes_through_the_same_call_without_rules_or_entry(make_room, member_of):
    room = make_room()
    bob = member_of(room)
    services.room_leave(user=bob, room=room)  # "left" is posted by a user who is no member now
    left = Message.objects.get(room=room, message_type="system", metadata__event="left")
    assert left.user_id == bob.id
    assert not AuditLog.objects.filter(action="message.posted", resource_id=str(left.id)).exists()


@pytest.mark.django_db(transaction=True)
def test_a_post_and_a_member_change_in_the_same_room_never_deadlock(make_room, member_of):
    """A post holds the room's posting lock and then checks its foreign key
    to the room (FOR KEY SHARE on the room's row); a member leaving holds the
    room's row and then posts its system message (the posting lock). The
    services' room lock is FOR NO KEY UPDATE, which a foreign-key check does
    not wait for, so the two cannot wait on each other."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections, transaction

    room = make_room()
    alice, bob = member_of(room), member_of(room)

    def leave():
        try:
            services.room_leave(user=bob, room=room)
        finally:
            connections.close_all()

    def waiting_for_posting_lock() -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            return cursor.fetchone()[0] > 0

    with ThreadPoolExecutor(1) as pool:
        with transaction.atomic():
            with connection.cursor() as cursor:  # what chat_message_post takes first
                cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"chat.post.{room.id}"])
            leaving = pool.submit(leave)
            deadline = timezone.now() + timedelta(seconds=10)
            while not waiting_for_posting_lock():  # the leave holds the room's row and waits for the lock
                assert timezone.now() < deadline and not leaving.done(), leaving.exception(0) if leaving.done() else ""
            services.message_post(actor=alice, room=room, content="posted while bob leaves")
        leaving.result(timeout=10)
    assert Message.objects.filter(room=room, content="posted while bob leaves").exists()
    assert not RoomMember.objects.filter(room=room, user=bob).exists()
