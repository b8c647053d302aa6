"""manage.py stats_backfill --since DATE [--until DATE]: fill daily_stats
and user_statistics for past days from the data (idempotent: days already
done are recomputed to the same rows)."""

from __future__ import annotations

from datetime import date, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from ops.services.daily_stats import stats_backfill


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"not a date (YYYY-MM-DD): {text!r}") from None


class Command(BaseCommand):
    help = "Compute daily_stats and user_statistics for every day from --since to --until (default: yesterday, UTC)."

    def add_arguments(self, parser):
        parser.add_argument("--since", required=True, help="first day, YYYY-MM-DD")
        parser.add_argument("--until", help="last day, YYYY-MM-DD (default: yesterday, UTC)")

    def handle(self, *args, since, until=None, **options):
        first = _day(since)
        last = _day(until) if until else (timezone.now() - timedelta(days=1)).date()
        if first > last:
            raise CommandError("--since is after --until")
        for result in stats_backfill(since=first, until=last):
            stat = result.stat
            self.stdout.write(f"{result.day}: users {stat.total_users} (active {stat.active_users}, new "
                              f"{stat.new_users}), messages {stat.total_messages} (+{stat.new_messages}), "
                              f"{result.users} user rows")
