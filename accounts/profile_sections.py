"""Sections that higher apps add to one's own profile page (ops adds the
user's daily statistics). Each is ``func(request) -> html`` (a safe string
rendered from a template), registered from the app's AppConfig.ready()."""

from __future__ import annotations

from collections.abc import Callable

_sections: list[Callable] = []


def register(func: Callable) -> Callable:
    if func not in _sections:
        _sections.append(func)
    return func


def render_all(request) -> list[str]:
    return [func(request) for func in _sections]
