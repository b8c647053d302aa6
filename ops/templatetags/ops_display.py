"""``{{ event.data|details }}``: a JSON object as an escaped key: value list
(ops.display)."""

from django import template

from ops.display import details_html, details_summary

register = template.Library()


@register.filter
def details(value):
    return details_html(value)


@register.filter
def details_line(value, max_chars: int = 120):
    return details_summary(value, int(max_chars))
