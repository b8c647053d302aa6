from django.apps import AppConfig


class ChatroomConfig(AppConfig):
    name = "chatroom"
    default_auto_field = "django.db.models.BigAutoField"
