"""One function that a higher app provides to a lower one.

Imports only go down the layers (architecture.md), so a lower layer that
must call into a higher one (core asking audit to record an entry, or to
alert staff) declares a ``Hook`` and the higher app registers the function
in its ``AppConfig.ready()``. Calling a hook nothing has registered raises,
loudly: an audit entry or an alert is never dropped silently.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ImproperlyConfigured


class Hook:
    def __init__(self, name: str, *, provider: str):
        self.name = name
        self.provider = provider  # the app expected to register it, for the error message
        self._func: Callable[..., Any] | None = None

    def register(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Provide the function (once; registering the same one again is a no-op)."""
        if self._func is not None and self._func is not func:
            raise ImproperlyConfigured(f"{self.name} is already provided by {self._func.__module__}.{self._func.__qualname__}")
        self._func = func
        return func

    @property
    def registered(self) -> bool:
        return self._func is not None

    def __call__(self, *args, **kwargs):
        if self._func is None:
            raise ImproperlyConfigured(
                f"Nothing provides {self.name}: the {self.provider} app registers it in its AppConfig.ready() "
                "(is it in INSTALLED_APPS?)")
        return self._func(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<Hook {self.name}>"
