"""The scheduled message as every face shows it (api.md, "Attention"):
the API's serializer, the socket's frames and the page all render this."""

from __future__ import annotations

from core.timestamps import isoformat_z


def scheduled_dict(s) -> dict:
    return {
        "id": str(s.id), "room_id": str(s.room_id), "thread_id": str(s.thread_id) if s.thread_id else None,
        "content": s.content, "send_at": isoformat_z(s.send_at), "status": s.status,
        "message_id": str(s.message_id) if s.message_id else None, "error": s.error or None,
        "created_at": isoformat_z(s.created_at), "updated_at": isoformat_z(s.updated_at),
    }
