from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from core import partitions


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = _("File transfers")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Imported here, once models are loaded (Django's rule for ready()).
        from jobs import frames

        frames.register()  # job.subscribe on the socket
        # Job logs are monthly partitions, dropped after JOB_LOG_RETENTION_MONTHS whole months.
        partitions.register("jobs.JobLog", retention_setting="JOB_LOG_RETENTION_MONTHS")
