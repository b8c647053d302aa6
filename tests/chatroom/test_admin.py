"""The admin: rooms with member inlines, messages searchable and filterable,
and the soft-delete action going through the service."""

import pytest

from audit.models import AuditLog
from chatroom import services
from chatroom.models import Message, Room, RoomMember

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, make_user):
    staff = make_user(is_staff=True, is_superuser=True)
    client.force_login(staff)
    return client


def test_room_and_message_lists_render_and_search(staff_client, make_room):
    room = make_room(name="admin-room")
    services.message_post(actor=room.owner, room=room, content="needle in the admin")
    services.message_post(actor=room.owner, room=room, content="other words")
    assert staff_client.get(f"/admin/chatroom/room/{room.id}/change/").status_code == 200
    listing = staff_client.get("/admin/chatroom/message/", {"q": "needle"})
    assert listing.status_code == 200
    html = listing.content.decode()
    assert "needle in the admin" in html and "other words" not in html
    by_room = staff_client.get("/admin/chatroom/message/", {"room__id__exact": str(room.id)})
    assert by_room.status_code == 200 and "other words" in by_room.content.decode()
    assert staff_client.get("/admin/chatroom/invite/").status_code == 200


def test_soft_delete_action_uses_the_service(staff_client, make_room):
    room = make_room()
    message = services.message_post(actor=room.owner, room=room, content="remove me")
    response = staff_client.post("/admin/chatroom/message/", {
        "action": "soft_delete", "_selected_action": [str(message.id)],
    })
    assert response.status_code == 302
    stored = Message.objects.get(id=message.id)
    assert stored.is_deleted and stored.deleted_by.is_staff
    entry = AuditLog.objects.filter(action="message.deleted", resource_id=str(message.id)).get()
    assert entry.details["via"] == "staff"


def test_staff_override_needs_staff(make_room, member_of):
    from core.errors import PermissionDenied

    room = make_room()
    member = member_of(room)
    message = services.message_post(actor=room.owner, room=room, content="stay")
    with pytest.raises(PermissionDenied):
        services.message_delete(actor=member, message_id=message.id, staff_override=True)
    assert not Message.objects.get(id=message.id).is_deleted


# --------------------------------------------------------------------------- the admin goes through the services


def _post_data(response) -> dict:
    """What the admin page's form would post back unchanged (main form and inline rows)."""
    from django import forms

    page_forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        page_forms += [inline.formset.management_form, *inline.formset.forms]
    data = {}
    for form in page_forms:
        for name, field in form.fields.items():
            bound = form[name]
            value = bound.value()
            if isinstance(field, forms.BooleanField):
                if value:
                    data[bound.html_name] = "on"
            else:
                data[bound.html_name] = "" if value is None else value
    return data


def _row(data, user) -> str:
    """The inline prefix of ``user``'s member row."""
    for key, value in data.items():
        if key.endswith("-user") and str(value) == str(user.pk):
            return key.removesuffix("-user")
    raise AssertionError(f"no row for {user}")


def _errors(response) -> str:
    assert response.status_code == 200, response.status_code  # the form again, not a redirect
    return response.content.decode()


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def _state(room):
    return (sorted(RoomMember.objects.filter(room=room).values_list("user__username", "role")),
            AuditLog.objects.count(), Room.objects.filter(pk=room.pk).values("description", "max_members").get())


def test_approving_a_join_request_in_the_admin_adds_the_member_with_the_services_audit(staff_client, make_room,
                                                                                     make_user):
    room = make_room(require_approval=True)
    asker, other = make_user(), make_user()
    _, pending = services.room_join(user=asker, room=room)
    _, rejected = services.room_join(user=other, room=room)
    response = staff_client.post("/admin/chatroom/joinrequest/", {
        "action": "approve", "_selected_action": [str(pending.id)]}, follow=True)
    assert response.status_code == 200
    assert RoomMember.objects.filter(room=room, user=asker, role="member").exists()
    pending.refresh_from_db()
    assert pending.status == "approved" and pending.decided_by.is_staff
    decided = AuditLog.objects.get(action="room.join_request.approved", resource_id=str(pending.id))
    assert decided.details["staff"] is True and decided.actor.is_staff
    joined = AuditLog.objects.get(action="room.member.joined", details__user_id=str(asker.id))
    assert joined.details["via"] == "approval"
    assert AuditLog.objects.filter(action="admin.action", details__action="approve").count() == 1

    # Deciding again is refused as a message, never a 500; rejecting adds nobody.
    again = staff_client.post("/admin/chatroom/joinrequest/", {
        "action": "approve", "_selected_action": [str(pending.id)]}, follow=True)
    assert again.status_code == 200 and any("already decided" in m for m in _messages(again))
    staff_client.post("/admin/chatroom/joinrequest/", {"action": "reject", "_selected_action": [str(rejected.id)]})
    rejected.refresh_from_db()
    assert rejected.status == "rejected" and not RoomMember.objects.filter(room=room, user=other).exists()
    assert AuditLog.objects.filter(action="room.join_request.rejected").count() == 1


def test_join_requests_invites_and_attachments_are_read_only(staff_client, make_room, make_user):
    room = make_room(require_approval=True)
    _, pending = services.room_join(user=make_user(), room=room)
    invite = services.invite_create(actor=room.owner, room=room)
    page = staff_client.get(f"/admin/chatroom/joinrequest/{pending.id}/change/")
    assert page.status_code == 200 and 'name="status"' not in page.content.decode()
    refused = staff_client.post(f"/admin/chatroom/joinrequest/{pending.id}/change/", {"status": "approved"})
    assert refused.status_code == 403
    pending.refresh_from_db()
    assert pending.status == "pending"
    assert staff_client.post(f"/admin/chatroom/invite/{invite.code}/change/", {"uses": "5"}).status_code == 403
    for model in ("joinrequest", "invite", "attachment", "message"):
        assert staff_client.get(f"/admin/chatroom/{model}/add/").status_code == 403
        assert staff_client.get(f"/admin/chatroom/{model}/").status_code == 200


def test_a_second_owner_through_the_members_inline_is_a_form_error_and_writes_nothing(staff_client, make_room,
                                                                                      member_of, make_user):
    room = make_room()
    member = member_of(room)
    newcomer = make_user()
    change = f"/admin/chatroom/room/{room.id}/change/"
    data = _post_data(staff_client.get(change))
    data["description"] = "changed along the way"
    data[f"{_row(data, member)}-role"] = "owner"
    before = _state(room)
    html = _errors(staff_client.post(change, data))
    assert "Ownership is transferred, not assigned." in html and 'class="errorlist' in html
    assert _state(room) == before  # not the description either: the whole save rolled back

    # A new row asking for owner: the same.
    data = _post_data(staff_client.get(change))
    data.update({"members-TOTAL_FORMS": str(int(data["members-TOTAL_FORMS"]) + 1)})
    index = int(data["members-TOTAL_FORMS"]) - 1
    data.update({f"members-{index}-user": str(newcomer.pk), f"members-{index}-role": "owner",
                 f"members-{index}-room": str(room.pk), f"members-{index}-permissions": "{}"})
    html = _errors(staff_client.post(change, data))
    assert "Ownership is transferred, not assigned." in html
    assert _state(room) == before


def test_the_members_inline_adds_changes_and_removes_members_through_the_services(staff_client, make_room,
                                                                                 member_of, make_user):
    room = make_room()
    promoted, kicked = member_of(room), member_of(room)
    newcomer = make_user()
    change = f"/admin/chatroom/room/{room.id}/change/"
    data = _post_data(staff_client.get(change))
    data[f"{_row(data, promoted)}-role"] = "moderator"
    data[f"{_row(data, kicked)}-DELETE"] = "on"
    index = int(data["members-TOTAL_FORMS"])
    data.update({"members-TOTAL_FORMS": str(index + 1), f"members-{index}-user": str(newcomer.pk),
                 f"members-{index}-role": "admin", f"members-{index}-room": str(room.pk),
                 f"members-{index}-permissions": "{}"})
    response = staff_client.post(change, data)
    assert response.status_code == 302, _errors(response)
    roles = dict(RoomMember.objects.filter(room=room).values_list("user_id", "role"))
    assert roles == {room.owner_id: "owner", promoted.id: "moderator", newcomer.id: "admin"}
    staff = {"staff": True}
    assert AuditLog.objects.get(action="room.member.kicked").details["user_id"] == str(kicked.id)
    joined = AuditLog.objects.get(action="room.member.joined", details__user_id=str(newcomer.id))
    assert joined.details["via"] == "staff" and joined.actor.is_staff
    updates = {e.details["user_id"]: e.details for e in AuditLog.objects.filter(action="room.member.updated")}
    assert updates[str(promoted.id)]["role"] == {"old": "member", "new": "moderator"}
    assert updates[str(newcomer.id)]["role"] == {"old": "member", "new": "admin"}
    assert all(d.items() >= staff.items() for d in updates.values())
    # The system messages the other faces post, too.
    assert Message.objects.filter(room=room, message_type="system", metadata__event="kicked").exists()

    # The owner's row cannot be removed or demoted from here: a form error, nothing written.
    before = _state(room)
    for change_owner_row, refusal in (({"DELETE": "on"}, "You can only kick members below your role."),
                                      ({"role": "member"}, "You cannot give that role to this member.")):
        data = _post_data(staff_client.get(change))
        row = _row(data, room.owner)
        data.update({f"{row}-{k}": v for k, v in change_owner_row.items()})
        html = _errors(staff_client.post(change, data))
        assert refusal in html
        assert _state(room) == before


def test_editing_a_room_in_the_admin_applies_the_same_rules_as_the_api(staff_client, make_room, member_of,
                                                                      api_as):
    room = make_room()
    member = member_of(room)
    change = f"/admin/chatroom/room/{room.id}/change/"
    before = _state(room)
    api = api_as(room.owner)
    for field, value, message in [
        ("name", "no spaces!", "Use 3 to 50 letters, digits, _ or -."),
        ("max_members", "1", "Between 2 and 100000."),
    ]:
        data = _post_data(staff_client.get(change))
        data[field] = value
        html = _errors(staff_client.post(change, data))
        assert message in html, field
        assert _state(room) == before
        answer = api.patch(f"/api/v1/rooms/{room.id}/", {field: value}, format="json")
        assert answer.status_code == 400 and answer.json()["error"]["fields"][field] == [message]
    # Making it private takes a password, on both faces.
    data = _post_data(staff_client.get(change))
    data["is_private"] = "on"
    assert "A room password has 4 to 128 characters." in _errors(staff_client.post(change, data))
    assert _state(room) == before
    # The owner must be a member to receive the room.
    data = _post_data(staff_client.get(change))
    outsider = member_of(make_room())
    data["owner"] = str(outsider.pk)
    assert "The new owner must be a member of the room." in _errors(staff_client.post(change, data))

    # A good edit goes through room_update and room_transfer_ownership, audited as on the API.
    data = _post_data(staff_client.get(change))
    data.update({"description": "set by staff", "owner": str(member.pk), "is_private": "on", "password": "open sesame"})
    response = staff_client.post(change, data)
    assert response.status_code == 302, _errors(response)
    room.refresh_from_db()
    assert room.description == "set by staff" and room.owner == member and room.is_private
    assert RoomMember.objects.get(room=room, role="owner").user == member
    updated = AuditLog.objects.get(action="room.updated")
    assert sorted(k for k, v in updated.details.items() if isinstance(v, dict)) == ["description", "is_private"]
    assert updated.details["is_private"] == {"old": False, "new": True} and updated.details["staff"] is True
    assert "open sesame" not in str(updated.details)
    moved = AuditLog.objects.get(action="room.ownership.transferred")
    assert moved.details["owner"]["new"] == str(member.id) and moved.details["owner"]["old"] != str(member.id)
    services.room_join(user=member_of(make_room()), room=room, password="open sesame")  # the new password works


def test_adding_and_deleting_a_room_in_the_admin_use_the_services(staff_client, make_user, make_room):
    owner = make_user()
    add = {"name": "staff-made", "description": "", "owner": str(owner.pk), "org": "", "password": "",
           "max_members": "1000", "allow_invites": "on", "members-TOTAL_FORMS": "0", "members-INITIAL_FORMS": "0"}
    missing_password = _errors(staff_client.post("/admin/chatroom/room/add/", {**add, "is_private": "on"}))
    assert "A private room needs a password." in missing_password and not Room.objects.filter(name="staff-made").exists()
    response = staff_client.post("/admin/chatroom/room/add/", add)
    assert response.status_code == 302
    room = Room.objects.get(name="staff-made")
    assert RoomMember.objects.get(room=room).user == owner and room.owner == owner
    created = AuditLog.objects.get(action="room.created", resource_id=str(room.id))
    assert created.actor.is_staff and created.details["staff"] is True

    response = staff_client.post(f"/admin/chatroom/room/{room.id}/delete/", {"post": "yes"})
    assert response.status_code == 302 and not Room.objects.filter(pk=room.pk).exists()
    assert AuditLog.objects.get(action="room.deleted", resource_id=str(room.id)).details["staff"] is True
    other = make_room()
    staff_client.post("/admin/chatroom/room/", {"action": "delete_selected", "_selected_action": [str(other.id)],
                                                "post": "yes"})
    assert not Room.objects.filter(pk=other.pk).exists()
    assert AuditLog.objects.filter(action="room.deleted", resource_id=str(other.id)).exists()


def test_invite_and_attachment_actions_call_the_services(staff_client, make_room, member_of, api_as, settings,
                                                         tmp_path, django_capture_on_commit_callbacks):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from chatroom.models import Attachment, Invite

    settings.MEDIA_ROOT = tmp_path / "media"
    room = make_room()
    invite = services.invite_create(actor=room.owner, room=room)
    staff_client.post("/admin/chatroom/invite/", {"action": "revoke", "_selected_action": [invite.code]})
    assert Invite.objects.get(pk=invite.code).revoked_at is not None
    assert AuditLog.objects.get(action="room.invite.revoked").details["staff"] is True

    member = member_of(room)
    upload = api_as(member).post("/api/v1/uploads", {"file": SimpleUploadedFile("n.txt", b"remove me")},
                                 format="multipart").json()
    services.message_post(actor=member, room=room, content="see file", attachment_ids=[upload["id"]])
    stored = Attachment.objects.get(id=upload["id"])
    path = stored.file.path
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post("/admin/chatroom/attachment/", {
            "action": "delete_files", "_selected_action": [upload["id"]]})
    assert response.status_code == 302
    assert not Attachment.objects.filter(id=upload["id"]).exists()
    assert not (tmp_path / "media").joinpath(stored.file.name).exists() and not __import__("os").path.exists(path)
    entry = AuditLog.objects.get(action="attachment.deleted", resource_id=upload["id"])
    assert entry.details["staff"] is True and entry.details["filename"] == "n.txt"


def test_the_staff_powers_need_staff(make_room, member_of, make_user):
    from core.errors import PermissionDenied

    room = make_room()
    member, outsider = member_of(room), make_user()
    before = _state(room)
    for call in (
        lambda: services.member_add(actor=member, room=room, user=outsider, staff_override=True),
        lambda: services.room_update(actor=member, room=room, description="x", staff_override=True),
        lambda: services.member_kick(actor=member, room=room, user=room.owner, staff_override=True),
        lambda: services.room_delete(actor=member, room=room, staff_override=True),
    ):
        with pytest.raises(PermissionDenied):
            call()
    assert _state(room) == before
