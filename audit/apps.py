from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _
from django.contrib.admin import apps as admin_apps

from core import alerts, auditing, partitions


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = _("Audit")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Imported here, not above: they import the models, which the app
        # registry loads only after every apps.py.
        from audit import anchors, checks, services  # noqa: F401  (checks registers the system checks)
        from audit.alerts import alert_staff

        # The layers below audit record entries and raise staff alerts through core's hooks.
        auditing.recorder.register(services.audit_record)
        alerts.staff_alert.register(alert_staff)
        # Retention keeps the dropped chain segment's last hash (anchors), so
        # verification starts from the first remaining entry.
        partitions.register("audit.AuditLog", retention_setting="AUDIT_RETENTION_MONTHS",
                            before_drop=anchors.record_retention)


class AuditedAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin whose default site audits every change. Named in
    INSTALLED_APPS explicitly, so it is not this module's default config."""

    default = False

    default_site = "audit.admin_site.AuditedAdminSite"
