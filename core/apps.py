from django.apps import AppConfig
from django.db.models.signals import post_migrate

from core import partitions


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self):
        # Monthly partitions exist as soon as the tables do (fresh installs and
        # test databases too), instead of rows landing in DEFAULT until the
        # first daily maintenance run.
        post_migrate.connect(partitions.ensure_partitions_after_migrate, dispatch_uid="core.ensure_partitions")
