"""Event details and tags (JSON objects) shown to people: as key: value
lists, every key and value escaped, never a JSON text or a Python dict's
repr. One rule for the dashboard (the ``details`` filter,
ops.templatetags.ops_display) and the admin (ops.admin)."""

from __future__ import annotations

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

VALUE_MAX_CHARS = 200  # a long value (an anchor's hash, an error) is cut with an ellipsis
ITEMS_MAX = 30  # per level; the rest is counted, not shown
DEPTH_MAX = 4

# The metrics and units as people read them; the codes stay in the data,
# the query strings and /metrics.
METRIC_TEXTS = {
    "cpu_usage": gettext_lazy("processor use"),
    "memory_usage": gettext_lazy("memory use"),
    "disk_usage": gettext_lazy("disk use"),
    "network_io": gettext_lazy("network traffic"),
    "active_connections": gettext_lazy("open sockets"),
    "message_rate": gettext_lazy("messages per minute"),
    "error_rate": gettext_lazy("server errors per minute"),
    "response_time": gettext_lazy("response time (p95)"),
    "http_request_duration": gettext_lazy("request duration"),
    "fanout_latency": gettext_lazy("fan-out latency"),
}
UNIT_TEXTS = {
    "percent_of_one_core": gettext_lazy("% (one core)"),
    "bytes_rss": gettext_lazy("bytes (resident)"),
    "percent": "%",
    "bytes_per_second": gettext_lazy("bytes/s"),
    "sockets": gettext_lazy("sockets"),
    "per_minute": gettext_lazy("per minute"),
    "5xx_per_minute": gettext_lazy("server errors per minute"),
    "ms_p95": gettext_lazy("ms (p95)"),
    "ms": gettext_lazy("ms"),
}


def metric_text(name: str) -> str:
    return str(METRIC_TEXTS.get(name, name))


def unit_text(unit: str) -> str:
    return str(UNIT_TEXTS.get(unit, unit.replace("_", " ")))


def scalar_text(value) -> str:
    if value is None:
        return "—"
    if value is True:
        return _("yes")
    if value is False:
        return _("no")
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
        return format_html('<span class="kv">{}</span>', ngettext(
            "(%(count)s more field)", "(%(count)s more fields)", len(value)) % {"count": len(value)})
    items = list(value.items())
    body = format_html_join("", '<li><span class="k">{}</span>: {}</li>',
                            ((Truncator(str(k)).chars(60), _value_html(v, _depth)) for k, v in items[:ITEMS_MAX]))
    if len(items) > ITEMS_MAX:
        more = len(items) - ITEMS_MAX
        body = format_html("{}<li>{}</li>", body, ngettext("… %(count)s more", "… %(count)s more", more) % {"count": more})
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
