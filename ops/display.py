"""Event details and tags (JSON objects) shown to people: as key: value
lists, every key and value escaped, never a JSON text or a Python dict's
repr. One rule for the dashboard (the ``details`` filter,
ops.templatetags.ops_display) and the admin (ops.admin)."""

from __future__ import annotations

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.text import Truncator

VALUE_MAX_CHARS = 200  # a long value (an anchor's hash, an error) is cut with an ellipsis
ITEMS_MAX = 30  # per level; the rest is counted, not shown
DEPTH_MAX = 4


def scalar_text(value) -> str:
    if value is None:
        return "—"
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return Truncator(str(value)).chars(VALUE_MAX_CHARS)


def _is_flat(values: list) -> bool:
    return all(not isinstance(v, dict | list | tuple) for v in values)


def _value_html(value, depth: int) -> SafeString:
    if isinstance(value, dict):
        return details_html(value, _depth=depth + 1) if value else format_html("{}", "—")
    if isinstance(value, list | tuple):
        if not value:
            return format_html("{}", "—")
        if _is_flat(value):
            return format_html("{}", Truncator(", ".join(scalar_text(v) for v in value)).chars(VALUE_MAX_CHARS))
        return details_html({str(i + 1): v for i, v in enumerate(value)}, _depth=depth + 1)
    return format_html("{}", scalar_text(value))


def details_html(value, *, _depth: int = 0) -> SafeString:
    """``value`` (what a JSONField holds) as a ``<ul class="kv">`` of
    ``key: value`` items, nested objects as nested lists."""
    if not isinstance(value, dict):
        if isinstance(value, list | tuple):
            value = {str(i + 1): v for i, v in enumerate(value)}
        else:
            return format_html('<span class="kv">{}</span>', scalar_text(value))
    if not value:
        return format_html('<span class="kv muted">{}</span>', "—")
    if _depth >= DEPTH_MAX:
        return format_html('<span class="kv">{}</span>', f"({len(value)} more fields)")
    items = list(value.items())
    body = format_html_join("", '<li><span class="k">{}</span>: {}</li>',
                            ((Truncator(str(k)).chars(60), _value_html(v, _depth)) for k, v in items[:ITEMS_MAX]))
    if len(items) > ITEMS_MAX:
        body = format_html("{}<li>… {} more</li>", body, len(items) - ITEMS_MAX)
    return format_html('<ul class="kv">{}</ul>', body)


def details_summary(value, max_chars: int = 120) -> str:
    """One line, plain text (escaped where it is shown): ``key: value · ...``,
    nested keys dotted, for a list column."""
    parts: list[str] = []

    def walk(prefix: str, item) -> None:
        if isinstance(item, dict) and item:
            for key, sub in item.items():
                walk(f"{prefix}.{key}" if prefix else str(key), sub)
        elif isinstance(item, list | tuple) and item and not _is_flat(list(item)):
            for i, sub in enumerate(item):
                walk(f"{prefix}.{i + 1}", sub)
        elif isinstance(item, list | tuple):
            parts.append(f"{prefix}: {', '.join(scalar_text(v) for v in item) or '—'}")
        elif isinstance(item, dict):
            parts.append(f"{prefix}: —")
        else:
            parts.append(f"{prefix}: {scalar_text(item)}" if prefix else scalar_text(item))

    if value not in (None, "", {}, []):
        walk("", value)
    return Truncator(" · ".join(parts) or "—").chars(max_chars)
