from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from accounts import profile_sections
from core import partitions


class OpsConfig(AppConfig):
    name = "ops"
    verbose_name = _("Operations")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Imported here, not above: they import the models, which the app
        # registry loads only after every apps.py.
        from ops import receivers, views

        receivers.connect()
        profile_sections.register(views.profile_section)
        partitions.register("ops.SystemMetric", retention_setting="METRICS_RETENTION_MONTHS")
        # Minute data too, as big as system_metrics' and as short-lived.
        partitions.register("ops.PerformanceMetric", retention_setting="METRICS_RETENTION_MONTHS")
