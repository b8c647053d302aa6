"""A job's rclone command: the allow-list of job options (checked at submit,
when a schedule is saved, and again when the job runs), the filter file that
keeps deny rules inside the trees, and the argument list (never a shell)."""

from __future__ import annotations

import re

from django.conf import settings
from django.utils.translation import gettext as _

from core.errors import ValidationFailed
from jobs import rclone
from jobs.access import Side, job_deny_globs

_BWLIMIT_RE = re.compile(r"^(off|\d{1,9}(\.\d{1,3})?[BKMGTbkmgt]?)$")
_PATTERN_BAD_RE = re.compile(r"[\x00-\x1f\x7f]")


# --------------------------------------------------------------------------- options


def validate_options(options) -> dict:
    """The allow-list of job options, checked and normalised. Never raw flags."""
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise ValidationFailed(fields={"options": [_("Must be an object.")]})
    allowed = {"dry_run", "bwlimit", "checksum", "max_delete", "include", "exclude", "verbose"}
    errors: dict[str, list[str]] = {}
    out: dict = {}
    for key in set(options) - allowed:
        errors[f"options.{key}"] = [_("Not an allowed option.")]
    for key in ("dry_run", "checksum", "verbose"):
        if key in options and options[key] is not None:
            if not isinstance(options[key], bool):
                errors[f"options.{key}"] = [_("Must be true or false.")]
            elif options[key]:
                out[key] = True
    if options.get("bwlimit") not in (None, ""):
        value = options["bwlimit"]
        if not isinstance(value, str) or not _BWLIMIT_RE.fullmatch(value):
            errors["options.bwlimit"] = [_("A rate such as 512K, 10M or off.")]
        else:
            out["bwlimit"] = value
    if options.get("max_delete") is not None:
        value = options["max_delete"]
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 10**9:
            errors["options.max_delete"] = [_("A whole number >= 0.")]
        else:
            out["max_delete"] = value
    for key in ("include", "exclude"):
        value = options.get(key)
        if value in (None, [], ""):
            continue
        if isinstance(value, str):
            value = [value]
        if (
            not isinstance(value, list)
            or len(value) > 50
            or any(not isinstance(p, str) or not p or len(p) > 512 or _PATTERN_BAD_RE.search(p) for p in value)
        ):
            errors[f"options.{key}"] = [_("A list of at most 50 glob patterns without control characters.")]
        else:
            out[key] = value
    if errors:
        raise ValidationFailed(fields=errors)
    return out


def _escape_glob(glob: str) -> str:
    # Our rule globs use only * and ?; anything rclone treats specially is literal.
    return re.sub(r"([\[\]{}])", r"\\\1", glob)


def filter_lines(deny_globs: list[str], options: dict) -> list[str]:
    """One rclone filter file: deny rules first (first match wins, so no
    include can re-open them), then the user's excludes and includes."""
    lines = []
    for glob in deny_globs:
        glob = _escape_glob(glob)
        lines += [f"- {glob}", f"- {glob}/**"]
    lines += [f"- {p}" for p in options.get("exclude", [])]
    lines += [f"+ {p}" for p in options.get("include", [])]
    if options.get("include"):
        lines.append("- **")
    return lines


# --------------------------------------------------------------------------- command


def build_command(job_type: str, src: Side, dst: Side | None, options: dict, run_dir, *,
                  backup_folder: str = "") -> list[str]:
    argv = [rclone.binary(), "--config", str(run_dir.config)]
    if job_type in ("copy", "backup"):
        target = dst.string if job_type == "copy" else rclone_join(dst.string, backup_folder)
        argv += ["copy", src.string, target]
    elif job_type == "move":
        argv += ["move", src.string, dst.string]
    elif job_type == "sync":
        argv += ["sync", src.string, dst.string]
    elif job_type == "delete":
        argv += ["delete", "--rmdirs", src.string]
    else:  # pragma: no cover - validated at submit
        raise ValueError(job_type)
    argv += ["--use-json-log", "--stats", "1s", "--stats-log-level", "NOTICE"]
    if options.get("verbose"):
        # A line per file is opt-in: rclone formatting it and the worker
        # storing it cost a copy of many small files several percent of its
        # throughput, and only the first MAX_LOG_LINES of a run are kept.
        # Without it the log holds rclone's notices, warnings and errors
        # (a dry run's per-file "skipped" lines are notices).
        argv.append("-v")
    argv += ["--retries", str(settings.RCLONE_RETRIES), "--low-level-retries", str(settings.RCLONE_LOW_LEVEL_RETRIES),
             "--ask-password=false"]
    if options.get("dry_run"):
        argv.append("--dry-run")
    if options.get("checksum"):
        argv.append("--checksum")
    if options.get("bwlimit"):
        argv += ["--bwlimit", options["bwlimit"]]
    if "max_delete" in options:
        argv += ["--max-delete", str(options["max_delete"])]
    lines = filter_lines(job_deny_globs(job_type, src, dst), options)
    if lines:
        argv += ["--filter-from", str(run_dir.write_filter(lines))]
    return argv


def rclone_join(remote_str: str, folder: str) -> str:
    return remote_str.rstrip("/") + "/" + folder if not remote_str.endswith(":") else remote_str + folder
