"""Uploads: storing a file (its type sniffed from its content) for a
message to link later, and removing one."""

from __future__ import annotations

import hashlib
import mimetypes
import uuid
from pathlib import PurePath

import filetype
from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from PIL import Image, UnidentifiedImageError

from accounts.models import User
from audit.services import audit_record
from chatroom.models import Attachment, Message
from chatroom.presenters import message_dicts
from core.errors import (
    NotFound,
    PermissionDenied,
    TooLarge,
    ValidationFailed,
    parse_uuid,
)
from realtime import broadcast as realtime

# Extensions a client may claim for each detected type (beyond mimetypes' own).
_EQUIVALENT_EXTENSIONS = {"image/jpeg": {".jpg", ".jpeg", ".jpe", ".jfif"}, "image/tiff": {".tif", ".tiff"}}

_TEXT_EXTENSIONS = {".txt", ".md", ".csv", ".log", ".json"}

SNIFF_BYTES = 8192


def _sniff(head: bytes, filename: str) -> str:
    """The MIME type from the content (``filetype``). A name whose extension
    promises another type is refused; unknown binary content is
    application/octet-stream, plain UTF-8 text is text/plain."""
    ext = PurePath(filename).suffix.lower()
    claimed, _encoding = mimetypes.guess_type(filename)
    kind = filetype.guess(head)
    if kind is not None:
        detected = kind.mime
        allowed = _EQUIVALENT_EXTENSIONS.get(detected, set()) | {f".{kind.extension}"}
        if ext and ext not in allowed and claimed != detected:
            raise ValidationFailed(fields={"file": [gettext("The file's content is %(type)s, which does not match its name.")
                    % {"type": detected}]})
        return detected
    if ext and claimed and claimed != "application/octet-stream" and filetype.get_type(mime=claimed) is not None:
        # The name claims a type filetype recognises, but the bytes are not it.
        raise ValidationFailed(fields={"file": [gettext("The file's content is not %(type)s.") % {"type": claimed}]})
    try:
        head.decode("utf-8")
        is_text = b"\x00" not in head
    except UnicodeDecodeError as exc:
        is_text = exc.start > len(head) - 4  # cut inside a multi-byte character
    if is_text and (not ext or ext in _TEXT_EXTENSIONS):
        return "text/plain"
    return "application/octet-stream"


def _clean_filename(name: str) -> str:
    name = PurePath(name.replace("\\", "/")).name
    name = "".join(c for c in name if c.isprintable() and c not in '"<>:|?*').strip(". ")
    return (name or "file")[:200]


@transaction.atomic
def attachment_upload(*, actor: User, file) -> Attachment:
    """Store an upload (Django storage) for linking to a message later."""
    limit = settings.CHAT_UPLOAD_MAX_BYTES
    if file.size > limit:
        raise TooLarge(_("Uploads are limited to %(limit)s bytes.") % {"limit": limit})
    if file.size == 0:
        raise ValidationFailed(fields={"file": [gettext("The file is empty.")]})
    filename = _clean_filename(file.name or "")
    file.seek(0)
    head = file.read(SNIFF_BYTES)
    mime = _sniff(head, filename)
    digest = hashlib.sha256()
    file.seek(0)
    for chunk in file.chunks():
        digest.update(chunk)
    width = height = None
    if mime.startswith("image/"):
        file.seek(0)
        try:
            with Image.open(file) as image:
                width, height = image.size
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
            raise ValidationFailed(fields={"file": [gettext("The image cannot be read.")]}) from None
    file.seek(0)
    attachment = Attachment(id=uuid.uuid4(), uploader=actor, filename=filename, mime_type=mime, size=file.size,
                            checksum=digest.hexdigest(), width=width, height=height)
    attachment.file.save(attachment.id.hex, file, save=False)
    attachment.save(force_insert=True)
    audit_record(action="attachment.uploaded", actor=actor, resource_type="attachment", resource_id=str(attachment.id),
                 details={"mime_type": mime, "size": attachment.size, "sha256": attachment.checksum})
    return attachment


@transaction.atomic
def attachment_delete(*, actor: User, attachment_id, staff_override: bool = False) -> None:
    """Remove a file: its uploader's own upload not yet linked to a message,
    or, for staff in the admin (``staff_override``), any file. The stored
    file goes once the row's removal commits; a message that showed it is
    broadcast again without it."""
    if staff_override:
        if not (actor.is_staff and actor.is_active):
            raise PermissionDenied(_("Only staff moderate from the admin."))
        attachment = Attachment.objects.select_for_update().filter(id=parse_uuid(attachment_id, "attachment_id")).first()
    else:
        attachment = Attachment.objects.select_for_update().filter(
            id=parse_uuid(attachment_id, "attachment_id"), uploader=actor, message__isnull=True).first()
    if attachment is None:
        raise NotFound(_("No such attachment."))
    details = {"filename": attachment.filename, "sha256": attachment.checksum, "size": attachment.size,
               "message_id": str(attachment.message_id) if attachment.message_id else None}
    if staff_override:
        details["staff"] = True
    audit_record(action="attachment.deleted", actor=actor, org=attachment.room.org if attachment.room else None,
                 resource_type="attachment", resource_id=str(attachment.id), details=details)
    storage, name = attachment.file.storage, attachment.file.name
    message_id, room_id = attachment.message_id, attachment.room_id
    attachment.delete()
    transaction.on_commit(lambda: storage.delete(name))
    if message_id is not None:
        message = Message.objects.select_related("user").filter(id=message_id, room_id=room_id).first()
        if message is not None and not message.is_deleted:
            realtime.room_event(room_id, {"type": "message.updated", "message": message_dicts([message])[0]})
