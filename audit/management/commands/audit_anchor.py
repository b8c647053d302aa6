from django.core.management.base import BaseCommand, CommandError

from audit.verification import anchor_head


class Command(BaseCommand):
    help = ("Verify the entries since the last anchor, then sign and append the chain head to the digest file "
            "(nothing is written when the head has not moved). Celery beat runs this every "
            "AUDIT_ANCHOR_INTERVAL_SECONDS.")

    def handle(self, *args, **options):
        # On demand, wait for a run that holds the digest file's lock.
        outcome = anchor_head(wait=True)
        if outcome["ok"] is False:
            raise CommandError(f"not anchored: the chain is broken ({outcome['first_broken']})")
        self.stdout.write(str(outcome))
