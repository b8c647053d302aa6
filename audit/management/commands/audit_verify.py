from django.core.management.base import BaseCommand, CommandError

from audit.verification import parse_when, verify


class Command(BaseCommand):
    help = "Verify the audit chain (hashes, signatures, links, anchors). Exits 1 at the first broken entry."

    def add_arguments(self, parser):
        parser.add_argument("--since", help="ISO date or date-time (UTC unless given)")
        parser.add_argument("--until", help="ISO date or date-time, inclusive (UTC unless given)")

    def handle(self, *args, since=None, until=None, **options):
        try:
            since_at, until_at = parse_when(since), parse_when(until, end_of_day=True)
        except ValueError as exc:
            raise CommandError(f"--since/--until: {exc}") from None
        result = verify(since=since_at, until=until_at)
        self.stdout.write(f"checked {result.checked} entries")
        if result.ok:
            self.stdout.write(self.style.SUCCESS("audit chain intact"))
            return
        broken = result.first_broken
        # CommandError exits with status 1 and prints to stderr.
        raise CommandError(f"first broken entry: id={broken.id} created_at={broken.created_at} "
                           f"reason={broken.reason} ({broken.detail})")
