#!/usr/bin/env python3
"""Bootstrap for the README's two commands. Needs only Python 3.11+.

    python3 dev.py run            # the product, with embedded PostgreSQL/Redis unless configured
    python3 dev.py test [ARGS]    # the whole test suite (ARGS go to pytest)
    python3 dev.py stop           # stop the embedded servers

It creates .venv, installs requirements.txt into it whenever that file
changes, then hands over to config/launcher.py inside the venv.
"""

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("VENV_DIR") or ROOT / ".venv")
REQUIREMENTS = ROOT / "requirements.txt"
STAMP = VENV / ".requirements.sha256"


def venv_python() -> Path:
    return VENV / "bin" / "python"


def ensure_venv() -> None:
    if sys.version_info < (3, 11):
        sys.exit(f"Python 3.11 or newer is needed; this is {sys.version.split()[0]}.")
    if not venv_python().exists():
        print(f"Creating the virtualenv in {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if not STAMP.exists() or STAMP.read_text().strip() != digest:
        print("Installing the pinned requirements ...", flush=True)
        pip = [str(venv_python()), "-m", "pip", "--disable-pip-version-check", "-q"]
        subprocess.run([*pip, "install", "-r", str(REQUIREMENTS)], check=True, cwd=ROOT)
        STAMP.write_text(digest)


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in {"run", "test", "stop"}:
        sys.exit(__doc__)
    ensure_venv()
    os.chdir(ROOT)
    python = str(venv_python())
    # Replace this process so Ctrl-C and exit codes go straight to the launcher.
    os.execv(python, [python, "-m", "config.launcher", *sys.argv[1:]])


if __name__ == "__main__":
    main()
