from django.apps import AppConfig

from core import partitions


class ChatroomConfig(AppConfig):
    name = "chatroom"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Chat history is monthly partitions, kept forever unless CHAT_RETENTION_MONTHS is set.
        partitions.register("chatroom.Message", retention_setting="CHAT_RETENTION_MONTHS")
