"""Uploads: size limit, type sniffed from the content, checksum, image size,
and downloads only for members of the room, with safe headers."""

import hashlib
import io
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from chatroom import services
from chatroom.models import Attachment
from core.errors import NotFound

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _png(width=7, height=5) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "red").save(out, format="PNG")
    return out.getvalue()


def _upload(client, name, data, content_type="application/octet-stream"):
    return client.post("/api/v1/uploads", {"file": SimpleUploadedFile(name, data, content_type=content_type)},
                       format="multipart")


def test_image_upload_records_type_checksum_and_size(make_user, api_as):
    user = make_user()
    data = _png()
    response = _upload(api_as(user), "photo.png", data, "text/plain")  # the client's type is ignored
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["mime_type"] == "image/png"
    assert body["checksum"] == hashlib.sha256(data).hexdigest()
    assert (body["width"], body["height"]) == (7, 5)
    assert body["size"] == len(data) and body["filename"] == "photo.png"
    stored = Attachment.objects.get(id=body["id"])
    assert stored.file.read() == data
    assert "photo" not in stored.file.name  # stored under a generated name


def test_an_upload_over_the_limit_is_refused_with_413(make_user, api_as, settings):
    settings.CHAT_UPLOAD_MAX_BYTES = 100
    response = _upload(api_as(make_user()), "big.txt", b"x" * 101, "text/plain")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert not Attachment.objects.exists()


@pytest.mark.parametrize("name,data", [
    ("report.pdf", None),  # PNG bytes named .pdf
    ("photo.jpg", None),  # PNG bytes named .jpg
    ("photo.png", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"),  # PDF bytes named .png
    ("fake.png", b"just some text pretending"),  # text named .png
])
def test_a_name_that_does_not_match_the_content_is_refused(make_user, api_as, name, data):
    response = _upload(api_as(make_user()), name, data if data is not None else _png())
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert "file" in response.json()["error"]["fields"]
    assert not Attachment.objects.exists()


def test_plain_text_and_unknown_binaries_are_typed_safely(make_user, api_as):
    client = api_as(make_user())
    assert _upload(client, "notes.txt", "hello 你好".encode()).json()["mime_type"] == "text/plain"
    assert _upload(client, "blob.bin", bytes(range(256)) * 4).json()["mime_type"] == "application/octet-stream"
    # HTML is never served as HTML.
    assert _upload(client, "page.txt", b"<html><script>alert(1)</script></html>").json()["mime_type"] in (
        "text/plain", "application/octet-stream")


def test_attachment_linked_to_a_message_is_served_only_to_members(make_room, member_of, make_user, api_as, client):
    room = make_room()
    member = member_of(room)
    png = _upload(api_as(member), "pic.png", _png()).json()
    pdf_bytes = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"
    pdf = _upload(api_as(member), "doc.pdf", pdf_bytes).json()
    assert pdf["mime_type"] == "application/pdf"
    message = services.message_post(actor=member, room=room, content="", attachment_ids=[png["id"], pdf["id"]])
    assert message.message_type == "file"

    client.force_login(member)
    image = client.get(png["url"])
    assert image.status_code == 200
    assert image["Content-Type"] == "image/png" and image["X-Content-Type-Options"] == "nosniff"
    assert image["Content-Disposition"].startswith("inline")
    document = client.get(pdf["url"])
    assert document["Content-Disposition"].startswith("attachment")
    assert b"".join(document.streaming_content) == pdf_bytes

    client.force_login(make_user())  # not in the room
    assert client.get(png["url"]).status_code == 404
    assert client.get(pdf["url"]).status_code == 404


def test_an_attachment_links_once_and_only_by_its_uploader(make_room, member_of, api_as):
    room = make_room()
    alice, bob = member_of(room), member_of(room)
    upload = _upload(api_as(alice), "pic.png", _png()).json()
    from core.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        services.message_post(actor=bob, room=room, content="mine now", attachment_ids=[upload["id"]])
    services.message_post(actor=alice, room=room, content="here", attachment_ids=[upload["id"]])
    with pytest.raises(ValidationFailed):
        services.message_post(actor=alice, room=room, content="again", attachment_ids=[upload["id"]])


# --------------------------------------------------------------------------- who may fetch a file, on every face


def _api_download(user, attachment_id, **headers):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user)
    return client.get(f"/api/v1/attachments/{attachment_id}", **headers)


def _page_download(client, user, url):
    client.force_login(user)
    return client.get(url)


def _assert_gone(client, user, upload):
    """404 on the page and in the API, in the contract's shape there."""
    assert _page_download(client, user, upload["url"]).status_code == 404
    response = _api_download(user, upload["id"])
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def _assert_served(client, user, upload, data):
    page = _page_download(client, user, upload["url"])
    assert page.status_code == 200 and b"".join(page.streaming_content) == data
    api = _api_download(user, upload["id"])
    assert api.status_code == 200 and b"".join(api.streaming_content) == data
    assert api["Content-Type"] == upload["mime_type"] and api["X-Content-Type-Options"] == "nosniff"


def test_a_deleted_messages_files_no_longer_download_or_list_anywhere(make_room, member_of, api_as, client):
    from chatroom import selectors

    room = make_room()
    owner, author = room.owner, member_of(room)
    data = _png()
    upload = _upload(api_as(author), "pic.png", data).json()
    message = services.message_post(actor=author, room=room, content="look", attachment_ids=[upload["id"]])
    _assert_served(client, owner, upload, data)
    history = api_as(owner).get(f"/api/v1/rooms/{room.id}/messages/").json()["results"]
    assert [a["id"] for a in history[-1]["attachments"]] == [upload["id"]]

    services.message_delete(actor=author, message_id=message.id)
    for user in (author, owner):  # the uploader and a moderator who still sees the placeholder: both 404
        _assert_gone(client, user, upload)
    # Not listed: the moderator's history shows the placeholder without files,
    # and so do the message itself, the socket's catch-up and the author's history.
    placeholder = api_as(owner).get(f"/api/v1/rooms/{room.id}/messages/").json()["results"][-1]
    assert placeholder["id"] == str(message.id) and placeholder["is_deleted"] and placeholder["attachments"] == []
    assert api_as(owner).get(f"/api/v1/messages/{message.id}/").json()["attachments"] == []
    caught_up, _ = selectors.messages_after(user=owner, room_id=room.id, cursor=None, limit=50)
    assert [m["attachments"] for m in caught_up if m["id"] == str(message.id)] == [[]]
    assert all(m["id"] != str(message.id)
               for m in api_as(author).get(f"/api/v1/rooms/{room.id}/messages/").json()["results"])
    assert Attachment.objects.available().filter(id=upload["id"]).count() == 0
    with pytest.raises(NotFound):
        selectors.attachment_for_download(user=owner, attachment_id=upload["id"])


def test_an_unlinked_upload_downloads_for_its_uploader_only(make_room, member_of, make_user, api_as, client):
    room = make_room()
    uploader, roommate = member_of(room), member_of(room)
    data = b"draft notes"
    upload = _upload(api_as(uploader), "notes.txt", data).json()
    _assert_served(client, uploader, upload, data)
    for other in (roommate, room.owner, make_user()):
        _assert_gone(client, other, upload)


def test_a_kicked_member_a_leaver_and_a_stranger_get_404_on_every_face(make_room, member_of, make_user, api_as,
                                                                      client):
    room = make_room()
    poster, kicked, leaver = member_of(room), member_of(room), member_of(room)
    data = _png()
    upload = _upload(api_as(poster), "pic.png", data).json()
    services.message_post(actor=poster, room=room, content="", attachment_ids=[upload["id"]])
    for user in (kicked, leaver):
        _assert_served(client, user, upload, data)
    services.member_kick(actor=room.owner, room=room, user=kicked)
    services.room_leave(user=leaver, room=room)
    for user in (kicked, leaver, make_user()):
        _assert_gone(client, user, upload)
    _assert_gone(client, poster, {"id": str(uuid.uuid4()), "url": f"/chat/attachments/{uuid.uuid4()}/"})


def test_the_api_download_takes_chat_read_and_any_accept_header(make_room, member_of, api_as):
    from rest_framework.test import APIClient

    from accounts.services import api_key_create

    room = make_room()
    member = member_of(room)
    data = _png()
    upload = _upload(api_as(member), "pic.png", data).json()
    services.message_post(actor=member, room=room, content="", attachment_ids=[upload["id"]])
    _, read_key = api_key_create(user=member, name="reader", scopes=["chat:read"])
    _, write_key = api_key_create(user=member, name="writer", scopes=["chat:write"])
    path = f"/api/v1/attachments/{upload['id']}"
    ok = APIClient(HTTP_AUTHORIZATION=f"Api-Key {read_key}").get(path, HTTP_ACCEPT="image/png")
    assert ok.status_code == 200 and b"".join(ok.streaming_content) == data and ok["Content-Type"] == "image/png"
    refused = APIClient(HTTP_AUTHORIZATION=f"Api-Key {write_key}").get(path)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "permission_denied"
    anonymous = APIClient().get(path)
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "not_authenticated"


def test_attachment_delete_takes_the_uploaders_unlinked_upload_or_staff(make_room, member_of, make_user, api_as,
                                                                        django_capture_on_commit_callbacks):
    from audit.models import AuditLog
    from core.errors import PermissionDenied

    room = make_room()
    uploader = member_of(room)
    draft = _upload(api_as(uploader), "draft.txt", b"draft").json()
    sent = _upload(api_as(uploader), "sent.txt", b"sent").json()
    services.message_post(actor=uploader, room=room, content="", attachment_ids=[sent["id"]])
    for actor, attachment in ((make_user(), draft), (room.owner, draft), (uploader, sent)):
        with pytest.raises(NotFound):  # someone else's, or already part of a message
            services.attachment_delete(actor=actor, attachment_id=attachment["id"])
    with pytest.raises(PermissionDenied):
        services.attachment_delete(actor=uploader, attachment_id=sent["id"], staff_override=True)
    stored = Attachment.objects.get(id=draft["id"])
    with django_capture_on_commit_callbacks(execute=True):
        services.attachment_delete(actor=uploader, attachment_id=draft["id"])
    assert not Attachment.objects.filter(id=draft["id"]).exists()
    assert not stored.file.storage.exists(stored.file.name)
    assert AuditLog.objects.get(action="attachment.deleted", resource_id=draft["id"]).actor == uploader
    assert Attachment.objects.filter(id=sent["id"]).exists()
