from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class AuditConfig(AppConfig):
    name = "audit"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.db.models.signals import post_migrate

        from audit import checks  # noqa: F401  (registers the system checks)
        from audit.partitioning import ensure_partitions_after_migrate

        # Monthly partitions exist as soon as the tables do (fresh installs and
        # test databases too), instead of rows landing in DEFAULT until the
        # first daily maintenance run.
        post_migrate.connect(ensure_partitions_after_migrate, dispatch_uid="audit.ensure_partitions")


class AuditedAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin whose default site audits every change. Named in
    INSTALLED_APPS explicitly, so it is not this module's default config."""

    default = False

    default_site = "audit.admin_site.AuditedAdminSite"
