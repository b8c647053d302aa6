from django.core.management.base import BaseCommand

from core.partitions import maintain


class Command(BaseCommand):
    help = ("Run the partition maintenance for every registered partitioned table (core.partitions): create months ahead, "
            "retire past retention (detach, export, drop), report DEFAULT-partition rows.")

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")

    def handle(self, *args, dry_run=False, **options):
        report = maintain(dry_run=dry_run)
        if dry_run:
            self.stdout.write("plan (dry run, nothing changed):")
            for line in report.planned or ["nothing to do"]:
                self.stdout.write(f"  {line}")
        else:
            for line in report.done or ["nothing to do"]:
                self.stdout.write(f"done: {line}")
        for table, rows in report.default_rows.items():
            self.stdout.write(self.style.WARNING(
                f"{table}: {rows} rows in the DEFAULT partition (move them: manage.py partitions_move_default)"))
        for error in report.errors:
            self.stderr.write(self.style.ERROR(f"error: {error}"))
        if report.errors:
            raise SystemExit(1)
