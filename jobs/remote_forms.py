"""The remote forms: one per backend type, built from rclone's own
description of its backends (``rclone config providers``: labels, help,
examples, which options are passwords) and filtered by the allow-list in
jobs.rclone.BACKENDS, which stays the only word on what may be set.

local, S3, WebDAV, SFTP and FTP have a curated field order (the ones people
fill first, the rest under "More options"); every other allowed type gets
the generic form: its allowed options in rclone's order. The form turns
posted fields into the ``options`` dict the services validate; secrets are
password fields, never filled in from stored values or from a refused post."""

from __future__ import annotations

import json
import logging
import subprocess
from dataclasses import dataclass
from functools import lru_cache

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from jobs import rclone

logger = logging.getLogger(__name__)

# The fields shown first, per type; the type's other allowed options follow under "More options".
CURATED = {
    "local": ("root",),
    "s3": ("provider", "endpoint", "region", "access_key_id", "secret_access_key"),
    "webdav": ("url", "vendor", "user", "pass"),
    "sftp": ("host", "port", "user", "pass", "key_pem"),
    "ftp": ("host", "port", "user", "pass", "explicit_tls"),
}
TYPE_LABELS = {"local": gettext_lazy("Local folder"), "s3": gettext_lazy("S3 and compatible"), "webdav": "WebDAV", "sftp": "SFTP",
               "ftp": "FTP", "http": gettext_lazy("HTTP (read only)"), "memory": gettext_lazy("Memory (for tests)")}
# Our own words where rclone's help does not fit this product.
OWN_HELP = {
    ("local", "root"): gettext_lazy("An absolute folder on the server, inside one of the folders the administrator "
                             "allows (RCLONE_LOCAL_ROOTS). Job paths are relative to it."),
    ("sftp", "key_pem"): gettext_lazy("The private key itself (PEM), pasted here. Stored encrypted and never shown again."),
}
# The curated fields' labels in the reader's language; other options keep
# rclone's own name and help (in English: rclone has no translations).
OWN_LABELS = {
    "root": gettext_lazy("Folder"), "provider": gettext_lazy("Provider"), "endpoint": gettext_lazy("Endpoint"), "region": gettext_lazy("Region"),
    "access_key_id": gettext_lazy("Access key ID"), "secret_access_key": gettext_lazy("Secret access key"), "url": "URL",
    "vendor": gettext_lazy("Vendor"), "user": gettext_lazy("User name"), "pass": gettext_lazy("Password"), "key_pem": gettext_lazy("Private key (PEM)"),
    "host": gettext_lazy("Host"), "port": gettext_lazy("Port"), "explicit_tls": gettext_lazy("Explicit TLS"),
}
MULTILINE = {"key_pem"}


@dataclass
class Field:
    name: str
    label: str
    help: str = ""
    kind: str = "text"  # text, password, secret_text, number, checkbox, select
    choices: tuple = ()
    default: object = ""
    required: bool = False
    secret: bool = False
    advanced: bool = False
    value: object = ""
    errors: tuple = ()
    is_set: bool = False  # a stored secret

    @property
    def placeholder(self) -> str:
        return str(self.default) if self.kind == "number" and self.default not in (0, "", None) else ""


@lru_cache(maxsize=1)
def providers() -> dict[str, dict]:
    """rclone's backends by name, their options by name (first of each name:
    s3 repeats some per provider). Empty if rclone cannot say: the forms then
    fall back to bare option names."""
    try:
        out = subprocess.run([rclone.binary(), "config", "providers"], capture_output=True, timeout=20, check=True,
                             env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"})
        data = json.loads(out.stdout)
    except (OSError, RuntimeError, subprocess.SubprocessError, ValueError):
        logger.exception("rclone config providers failed; remote forms show bare option names")
        return {}
    backends = {}
    for backend in data:
        options: dict[str, dict] = {}
        for option in backend.get("Options") or []:
            options.setdefault(option.get("Name"), option)
        backends[backend.get("Name")] = {"description": backend.get("Description", ""), "options": options}
    return backends


def _help(text: str) -> str:
    return (text or "").split("\n\n")[0].replace("\n", " ").strip()


def _label(name: str) -> str:
    words = name.replace("_", " ")
    for short, full in (("id", "ID"), ("url", "URL"), ("acl", "ACL"), ("tls", "TLS"), ("pem", "PEM"),
                        ("pass", "password"), ("sse", "SSE")):
        words = " ".join(full if w == short else w for w in words.split())
    return words[:1].upper() + words[1:]


def fields_for(remote_type: str) -> list[Field]:
    backend = rclone.BACKENDS[remote_type]
    described = providers().get("alias" if remote_type == "local" else remote_type, {}).get("options", {})
    if remote_type == "local":
        described = {"root": {"Help": "", "Required": True, "Type": "string"}}
    allowed = backend.options | backend.secrets
    first = [n for n in CURATED.get(remote_type, ()) if n in allowed]
    rest = [n for n in described if n in allowed and n not in first]
    rest += sorted(allowed - set(first) - set(rest))
    fields = []
    for name in first + rest:
        info = described.get(name, {})
        secret = name in backend.secrets
        kind = "text"
        if secret:
            kind = "secret_text" if name in MULTILINE else "password"
        elif info.get("Type") == "bool":
            kind = "checkbox"
        elif info.get("Type") == "int":
            kind = "number"
        elif info.get("Examples") and name in ("provider", "vendor"):
            kind = "select"
        default = info.get("Default")
        help_text = str(OWN_HELP.get((remote_type, name)) or _help(info.get("Help", "")))
        if help_text.rstrip(".").lower() in (_label(name).lower(), name.replace("_", " ")):
            help_text = ""  # "Password." under "Password" says nothing
        fields.append(Field(
            name=name, label=str(OWN_LABELS.get(name) or _label(name)), kind=kind, secret=secret,
            help=help_text,
            choices=tuple((e.get("Value"), _help(e.get("Help", "")) or e.get("Value"))
                          for e in info.get("Examples") or () if e.get("Value") not in (None, "")),
            default=default if isinstance(default, (bool, int, str)) else "",
            required=name in backend.required,
            advanced=name not in first and not (remote_type not in CURATED and not info.get("Advanced")),
        ))
    return fields


def options_from_post(remote_type: str, post) -> tuple[dict, dict[str, list[str]]]:
    """The posted fields (``opt_<name>``) as an options dict for the
    services, and errors for values that are not even of the right kind."""
    options, errors = {}, {}
    for field in fields_for(remote_type):
        key = f"opt_{field.name}"
        if field.kind == "checkbox":
            value = key in post
            if value != bool(field.default):
                options[field.name] = value
            continue
        raw = post.get(key, "")
        raw = raw if field.kind == "secret_text" else raw.strip()
        if raw == "":
            continue
        if field.kind == "number":
            try:
                options[field.name] = int(raw)
            except ValueError:
                errors[field.name] = [_("A whole number.")]
            continue
        options[field.name] = raw
    return options, errors


def bound(remote_type: str, *, values: dict, errors: dict | None = None, stored_secrets=()) -> list[Field]:
    """The fields with their values (never a secret's) and errors. ``errors``
    keys are the services' (``options.<name>``) or bare option names."""
    errors = errors or {}
    out = []
    for field in fields_for(remote_type):
        field.errors = tuple(errors.get(f"options.{field.name}") or errors.get(field.name) or ())
        field.is_set = field.name in stored_secrets
        if not field.secret:
            value = values.get(field.name, field.default if field.kind == "checkbox" else "")
            field.value = bool(value) if field.kind == "checkbox" else ("" if value is None else value)
        out.append(field)
    return out


def type_choices() -> list[tuple[str, str]]:
    return [(t, str(TYPE_LABELS.get(t, t))) for t in ("local", "s3", "webdav", "sftp", "ftp", "http", "memory")
            if t in rclone.BACKENDS]
