from django.core.management.base import BaseCommand, CommandError

from core.partitions import config_for, configs, count_rows, move_default_rows


class Command(BaseCommand):
    help = "Move rows from DEFAULT partitions into their monthly partitions (creating those as needed)."

    def add_arguments(self, parser):
        parser.add_argument("--table", help="one table or model label (default: every partitioned table)")
        parser.add_argument("--dry-run", action="store_true", help="only count the rows")

    def handle(self, *args, table=None, dry_run=False, **options):
        try:
            targets = [config_for(table)] if table else configs()
        except KeyError as exc:
            raise CommandError(str(exc)) from None
        for config in targets:
            waiting = count_rows(config.default_partition)
            if dry_run or not waiting:
                self.stdout.write(f"{config.table}: {waiting} rows in DEFAULT")
                continue
            moved = move_default_rows(config)
            self.stdout.write(f"{config.table}: moved {moved} rows out of DEFAULT")
