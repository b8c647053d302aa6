from django.apps import AppConfig


class ChatroomConfig(AppConfig):
    name = "chatroom"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from chatroom import checks  # noqa: F401  (registers the system checks)
