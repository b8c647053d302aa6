"""The api.md message object, built for a batch of messages in a fixed number
of queries (reactions, attachments, mentions and replied-to messages each in
one), whatever the page size. Used by the API, the pages' JSON calls and the
broadcasts, so every face shows a message the same way."""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Count, Min, Q
from django.http import FileResponse
from django.urls import reverse

from chatroom import markdown, thread_state
from chatroom.models import Attachment, Mention, Message, Reaction
from core import coded_texts
from core.timestamps import isoformat_z

EXCERPT_CHARS = 100


def user_dict(user) -> dict | None:
    if user is None:
        return None
    return {"id": str(user.id), "username": user.username, "avatar_url": user.avatar_url or None}


def jump_url(room_id, message_id, thread_id=None, also_to_room=False) -> str:
    """The room page opened at a message (its history around it, the message
    highlighted); a reply only in a thread opens its thread beside the room,
    at the reply. Notifications, search hits and pins link here."""
    base = reverse("chatroom:room", args=[room_id])
    if thread_id and not also_to_room:
        return f"{base}?thread={thread_id}&around={message_id}"
    return f"{base}?around={message_id}"


def attachment_dict(attachment: Attachment) -> dict:
    body = {
        "id": str(attachment.id),
        "url": reverse("chatroom:attachment", args=[attachment.id]),
        "filename": attachment.filename,
        "mime_type": attachment.mime_type,
        "size": attachment.size,
        "checksum": attachment.checksum,
    }
    if attachment.width is not None:
        body["width"], body["height"] = attachment.width, attachment.height
    return body


# Served inline only for raster images; anything else downloads.
INLINE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}


def attachment_response(attachment: Attachment) -> FileResponse:
    """A file as every face serves it (the download page and the API). The
    stored type was sniffed from the content at upload; the headers keep a
    browser from reinterpreting it or running anything in it."""
    response = FileResponse(attachment.file.open("rb"), content_type=attachment.mime_type,
                            as_attachment=attachment.mime_type not in INLINE_TYPES, filename=attachment.filename)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, max-age=3600"
    return response


def reactions_for(message_ids, viewer=None) -> dict:
    """{message_id: [{emoji, count, me}]}, emojis in first-used order."""
    rows = (
        Reaction.objects.filter(message_id__in=message_ids)
        .values("message_id", "emoji")
        .annotate(
            count=Count("id"),
            mine=Count("id", filter=Q(user_id=getattr(viewer, "id", None))),
            first=Min("id"),
        )
        .order_by("message_id", "first")
    )
    out: dict = defaultdict(list)
    for row in rows:
        out[row["message_id"]].append({"emoji": row["emoji"], "count": row["count"], "me": row["mine"] > 0})
    return out


def message_dicts(messages: list[Message], viewer=None) -> list[dict]:
    if not messages:
        return []
    ids = [m.id for m in messages]
    reactions = reactions_for(ids, viewer)
    attachments: dict = defaultdict(list)
    for attachment in Attachment.objects.available().filter(message_id__in=ids).order_by("created_at"):
        attachments[attachment.message_id].append(attachment_dict(attachment))
    mentions: dict = defaultdict(list)
    for message_id, user_id in Mention.objects.filter(message_id__in=ids).values_list("message_id", "user_id"):
        mentions[message_id].append(str(user_id))

    # Replied-to messages by their full key, so each lookup prunes partitions.
    pairs = {(m.reply_to_id, m.reply_to_created_at) for m in messages if m.reply_to_id}
    replies = {}
    if pairs:
        condition = Q()
        for reply_id, reply_at in pairs:
            condition |= Q(id=reply_id, created_at=reply_at)
        for parent in Message.objects.filter(condition).select_related("user"):
            replies[parent.id] = parent

    # The thread summaries of the roots among them (a reply is never a root).
    threads = thread_state.summaries([m.id for m in messages if m.thread_id is None], viewer)

    out = []
    for m in messages:
        parent = replies.get(m.reply_to_id) if m.reply_to_id else None
        reply = reply_dict(parent) if parent is not None else None
        out.append(message_dict(m, reactions=reactions.get(m.id, []), attachments=attachments.get(m.id, []),
                                mentions=mentions.get(m.id, []), reply=reply, thread=threads.get(m.id)))
    return out


def _text_of(m: Message) -> str:
    """A message's text as the reader reads it (a system message's in their language)."""
    if m.message_type == Message.Type.SYSTEM:
        return system_text(m.metadata, user_dict(m.user), m.content)
    return m.content


def reply_dict(parent: Message) -> dict:
    """The replied-to message as a message object shows it."""
    return {
        "id": str(parent.id),
        "user": user_dict(parent.user),
        "excerpt": "" if parent.is_deleted else _text_of(parent)[:EXCERPT_CHARS],
        "is_deleted": parent.is_deleted,
    }


def new_message_dict(m: Message, *, attachments=(), mentions=(), parent: Message | None = None) -> dict:
    """A message just posted, from what the poster's transaction already
    holds: it has no reactions yet, so no query is needed."""
    return message_dict(m, attachments=[attachment_dict(a) for a in attachments],
                        mentions=[str(u) for u in mentions], reply=reply_dict(parent) if parent else None)


def system_text(metadata, user: dict | None, stored: str) -> str:
    """A system message's text in the active language, from its code and
    parameters (core.coded_texts); the stored text for one it cannot render."""
    return coded_texts.system_message(metadata, (user or {}).get("username"), stored)


def localized_message(message: dict) -> dict:
    """A message object (as message_dict built it) with a system message's
    text rendered again in the active language: the socket's localizer for
    frames broadcast in one language (realtime.languages)."""
    if message.get("message_type") != Message.Type.SYSTEM or message.get("is_deleted"):
        return message
    content = system_text(message.get("metadata"), message.get("user"), message.get("content") or "")
    return {**message, "content": content, "html": markdown.render(content)}


def message_dict(m: Message, *, reactions=(), attachments=(), mentions=(), reply=None, thread=None) -> dict:
    deleted = m.is_deleted
    user, content = user_dict(m.user), m.content
    if m.message_type == Message.Type.SYSTEM and not deleted:
        # Stored as a code: read in the reader's language (the active one).
        content = system_text(m.metadata, user, m.content)
    return {
        "id": str(m.id),
        "room_id": str(m.room_id),
        "user": user,
        # A removed message keeps no visible text, files or reactions.
        "content": "" if deleted else content,
        # Additive to the contract: the content's markdown as sanitized HTML
        # (chatroom.markdown), so every client shows the same formatting.
        "html": "" if deleted else markdown.render(content),
        "message_type": m.message_type,
        "reply_to": reply,
        # A reply in a thread names its root; a root with replies has its summary.
        "thread_id": str(m.thread_id) if m.thread_id else None,
        "also_to_room": m.also_to_room,
        "thread": thread,
        "is_edited": m.is_edited,
        "is_deleted": deleted,
        "is_pinned": m.is_pinned,
        "reactions": [] if deleted else list(reactions),
        "attachments": [] if deleted else list(attachments),
        "mentions": list(mentions),
        "metadata": m.metadata if m.message_type in (Message.Type.SYSTEM, Message.Type.BOT) else {},
        "created_at": isoformat_z(m.created_at),
        "updated_at": isoformat_z(m.updated_at),
        "cursor": m.cursor,
    }
