from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from core import partitions

# Autovacuum visits a month's messages after every 2% of new rows, not
# PostgreSQL's 20%: the unread counts are index-only scans over the newest
# messages (idx_messages_room_unread), which read the table too wherever the
# visibility map is behind. Migration 0012 set it on the partitions that existed.
MESSAGE_PARTITION_STORAGE = {"autovacuum_vacuum_insert_scale_factor": "0.02"}


class ChatroomConfig(AppConfig):
    name = "chatroom"
    verbose_name = _("Chat")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Imported here, once models are loaded (Django's rule for ready()).
        from chatroom import checks, frames, scheduled_frames, socket_rooms  # noqa: F401  (checks registers the system checks)

        frames.register()  # the chat frames on the socket
        scheduled_frames.register()  # send later on the socket
        socket_rooms.register()  # the rooms realtime's socket and presence deliver
        # Chat history is monthly partitions, kept forever unless CHAT_RETENTION_MONTHS is set.
        partitions.register("chatroom.Message", retention_setting="CHAT_RETENTION_MONTHS",
                            storage=MESSAGE_PARTITION_STORAGE)
