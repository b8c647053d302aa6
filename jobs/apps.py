from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Imported here, once models are loaded (Django's rule for ready()).
        from jobs import frames

        frames.register()  # job.subscribe on the socket
