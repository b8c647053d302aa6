from django.apps import AppConfig

from core import partitions


class OpsConfig(AppConfig):
    name = "ops"
    verbose_name = "Operations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Imported here, not above: they import the models, which the app
        # registry loads only after every apps.py.
        from ops import receivers

        receivers.connect()
        partitions.register("ops.SystemMetric", retention_setting="METRICS_RETENTION_MONTHS")
