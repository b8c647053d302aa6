"""Server-rendered SVG charts (pygal): no JavaScript, nothing fetched from
the internet (pygal's optional tooltip script is turned off).

Each chart is drawn twice, wide and narrow, and the page's CSS shows the one
that fits (ops.css): an SVG scales its text with its box, so one drawing
made for a desktop column has unreadable 8 px labels on a phone."""

from __future__ import annotations

import math

import pygal
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from pygal.style import Style

from ops.series import Series


def _style(base: int) -> Style:
    return Style(
        background="transparent", plot_background="#ffffff", foreground="#333", foreground_strong="#111",
        foreground_subtle="#ddd", colors=("#2563eb", "#16a34a", "#dc2626", "#9333ea"),
        font_family="system-ui, sans-serif", label_font_size=base, major_label_font_size=base,
        legend_font_size=base + 1, title_font_size=base + 3, value_font_size=base,
    )


# (width, height, font size, x labels shown): the SVG's own size in user
# units, drawn at about that size in CSS pixels (a desktop column of ~540 px,
# a phone's ~340 px).
LAYOUTS = {"wide": (560, 320, 12, 7), "narrow": (360, 320, 13, 4)}


def compact(value) -> str:
    """A tick or value label short enough for a phone: 950, 12.5, 48k, 1.2M."""
    if value is None:
        return ""
    magnitude = abs(value)
    if magnitude >= 1_000_000:
        return f"{value / 1_000_000:.1f}M".replace(".0M", "M")
    if magnitude >= 10_000:
        return f"{value / 1000:.0f}k"
    if magnitude >= 100 or float(value).is_integer():
        return f"{value:.0f}"
    return f"{value:.1f}"


def _integer_ticks(series: Series) -> list[int] | None:
    """Whole-number ticks for a chart of counts (pygal would label 0.1, 0.2,
    ... for a chart of zeros)."""
    values = [v for vals in series.values.values() for v in vals]
    if not values or any(not float(v).is_integer() for v in values):
        return None
    top = max(max(values), 1)
    step = max(1, 10 ** math.floor(math.log10(top / 5)) if top >= 5 else 1)
    for factor in (1, 2, 5, 10):
        if top / (step * factor) <= 6:
            step *= factor
            break
    return list(range(0, int(top) + step, step))


def _legend_columns(series: Series, layout: str) -> int:
    if layout == "wide":
        return 3
    # Two names side by side fit a phone only when short ("HTTP requests" does not).
    return 2 if max((_width(series.legend(name)) for name in series.values), default=0) <= 12 else 1


def _width(text: str) -> int:
    """A label's width in Latin letters: a CJK character is about two."""
    return sum(2 if ord(ch) >= 0x1100 else 1 for ch in text)


def _draw(series: Series, layout: str) -> str:
    width, height, font, x_shown = LAYOUTS[layout]
    chart = pygal.Line(
        js=[], style=_style(font), width=width, height=height, explicit_size=False, disable_xml_declaration=True,
        show_dots=len(series.labels) <= 31, x_label_rotation=30, show_minor_x_labels=False,
        legend_at_bottom=True, legend_at_bottom_columns=_legend_columns(series, layout), truncate_label=-1,
        truncate_legend=-1, include_x_axis=True, title=series.title, no_data_text=_("No data yet"),
        value_formatter=compact, margin_right=20,
        # pygal under-counts the rotated labels' height on the small drawing,
        # which cut the legend's last row off.
        margin_bottom=24 if layout == "narrow" else None,
    )
    chart.x_labels = series.labels
    step = max(math.ceil(len(series.labels) / x_shown), 1)
    chart.x_labels_major = series.labels[::step]  # the others unlabelled
    ticks = _integer_ticks(series)
    if ticks:
        chart.y_labels = ticks
    for name, values in series.values.items():
        chart.add(series.legend(name), values)
    return chart.render(is_unicode=True)


def render(series: Series) -> str:
    """The chart as two inline <svg> elements (wide, narrow), the page's CSS
    shows one. pygal escapes the labels and titles it writes (they are ours:
    dates and fixed names, anyway)."""
    return format_html('<div class="svg-wide">{}</div><div class="svg-narrow">{}</div>',
                       mark_safe(_draw(series, "wide")),  # noqa: S308 - pygal's own escaped SVG
                       mark_safe(_draw(series, "narrow")))  # noqa: S308
