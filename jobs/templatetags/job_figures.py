"""Template filters for job pages: the same rules as static/js/figures.js (jobs.figures)."""

from django import template

from jobs import figures

register = template.Library()

register.filter("size", figures.size)
register.filter("speed", figures.speed)
register.filter("duration", figures.duration)
register.filter("eta", figures.eta)
