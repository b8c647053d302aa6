"""Server-rendered SVG charts (pygal): no JavaScript, nothing fetched from
the internet (pygal's optional tooltip script is turned off)."""

from __future__ import annotations

import pygal
from django.utils.safestring import mark_safe
from pygal.style import Style

from ops.series import Series

STYLE = Style(
    background="transparent", plot_background="#ffffff", foreground="#333", foreground_strong="#111",
    foreground_subtle="#ddd", colors=("#2563eb", "#16a34a", "#dc2626", "#9333ea"),
    font_family="system-ui, sans-serif", label_font_size=12, major_label_font_size=12, legend_font_size=13,
    title_font_size=15,
)


def render(series: Series) -> str:
    """The chart as an inline <svg> element. pygal escapes the labels and
    titles it writes (they are ours: dates and fixed names, anyway)."""
    chart = pygal.Line(
        js=[], style=STYLE, width=520, height=300, explicit_size=False, disable_xml_declaration=True,
        show_dots=len(series.labels) <= 31, x_label_rotation=30, show_minor_x_labels=False,
        legend_at_bottom=True, truncate_label=-1, include_x_axis=True, title=series.title,
        no_data_text="No data yet",
    )
    chart.x_labels = series.labels
    step = max(len(series.labels) // 6, 1)
    chart.x_labels_major = series.labels[::step]  # the others unlabelled: readable on a phone
    for name, values in series.values.items():
        chart.add(name, values)
    return mark_safe(chart.render(is_unicode=True))  # noqa: S308 - pygal's own escaped SVG
