from django.core.management.base import BaseCommand, CommandError

from audit.tasks import anchor_chain_head


class Command(BaseCommand):
    help = "Verify the entries since the last anchor, then sign and append the chain head to the digest file."

    def handle(self, *args, **options):
        outcome = anchor_chain_head()
        if outcome["ok"] is False:
            raise CommandError(f"not anchored: the chain is broken ({outcome['first_broken']})")
        self.stdout.write(str(outcome))
