from django.apps import AppConfig


class ChatroomConfig(AppConfig):
    name = "chatroom"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Imported here, once models are loaded (Django's rule for ready()).
        from chatroom import socket_rooms

        socket_rooms.register()  # the rooms realtime's socket and presence deliver
