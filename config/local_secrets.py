"""Secrets generated once and kept under VAR_DIR, for machines where the
operator set none (the run command, tests, a first try). Production sets the
environment variables instead; see the README's Configuration section.

No Django imports: settings call this while loading.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable

from config import embedded


def persistent_secret(name: str, make: Callable[[], str]) -> str:
    """The secret stored in VAR_DIR/<name>, created with make() on first use.

    The file is written privately (mode 0600) and linked into place, so
    concurrent first users (web, worker, beat, test workers) agree on one value.
    """
    var = embedded.var_dir()
    path = var / name
    if not path.exists():
        fd, tmp = tempfile.mkstemp(dir=var, prefix=f".{name}.")
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(make())
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process won the race; use its value
        finally:
            os.unlink(tmp)
    return path.read_text().strip()
