from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from audit import org_scope


class OrgsConfig(AppConfig):
    name = "orgs"
    verbose_name = _("Organizations")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Imported here, not above: it imports the models, which the app
        # registry loads only after every apps.py.
        from orgs import audit_scope

        # Audit sits below orgs: it reads and records per org through these.
        org_scope.readable_org_ids.register(audit_scope.audit_readable_org_ids)
        org_scope.org_of.register(audit_scope.org_of)
