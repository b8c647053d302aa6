"""``compilemessages`` without GNU gettext: every locale/*/LC_MESSAGES/*.po
of LOCALE_PATHS is compiled to its .mo with Babel (pure Python, from
requirements.txt), so a fresh machine with only Python needs no msgfmt. It
takes the place of Django's command of the same name (an app's command
wins). A .mo is written only when its .po is newer, and only the .po files
are committed (.gitignore keeps the .mo files out)."""

from __future__ import annotations

import os
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


def po_files() -> list[Path]:
    return sorted(p for root in settings.LOCALE_PATHS for p in Path(root).glob("*/LC_MESSAGES/*.po"))


def compile_all(*, force: bool = False) -> list[Path]:
    """Compile the .po files whose .mo is missing or older; returns those."""
    done = []
    for po in po_files():
        mo = po.with_suffix(".mo")
        if not force and mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as source:
            try:
                catalog = read_po(source, locale=po.parent.parent.name, abort_invalid=True)
            except Exception as error:  # noqa: BLE001 - Babel raises several kinds for a broken .po
                raise CommandError(f"{po}: {error}") from error
        tmp = mo.with_suffix(f".mo.{os.getpid()}.tmp")  # test workers may compile at once
        with tmp.open("wb") as target:
            # Fuzzy entries are left out, as msgfmt does: a guess is not a translation.
            write_mo(target, catalog, use_fuzzy=False)
        tmp.replace(mo)  # a running server never reads a half-written file
        done.append(po)
    return done


class Command(BaseCommand):
    help = "Compile the .po translation files to .mo with Babel (no GNU gettext needed)."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="compile every file, even if up to date")

    def handle(self, *args, force=False, verbosity=1, **options):
        done = compile_all(force=force)
        if verbosity:
            self.stdout.write(f"compiled {len(done)} of {len(po_files())} translation files")
