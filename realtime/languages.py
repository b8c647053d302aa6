"""The language a socket speaks (issue 19): its user's (their profile's,
through registry.language_of), or before authentication the handshake's
language cookie or ``Accept-Language``, else the default. Error frames,
the frames handlers answer, and catch-up messages read from the database
are rendered in it; so are live frames holding coded texts (a system
message), which the process decodes once for all its sockets: each is
rendered once per (event, language) here and the result shared."""

from __future__ import annotations

import functools
import json
import logging

from django.conf import settings
from django.utils import translation
from django.utils.functional import lazy
from django.utils.translation.trans_real import parse_accept_lang_header

from realtime import registry

logger = logging.getLogger(__name__)


def _supported(code) -> str | None:
    if not isinstance(code, str) or not code:
        return None
    try:
        return translation.get_supported_language_variant(code)
    except LookupError:
        return None


def scope_language(scope: dict) -> str:
    """The handshake's language: the switcher's cookie, then Accept-Language."""
    cookie = (scope.get("cookies") or {}).get(settings.LANGUAGE_COOKIE_NAME)
    found = _supported(cookie)
    if found:
        return found
    for name, value in scope.get("headers") or ():
        if name == b"accept-language":
            for code, _q in parse_accept_lang_header(value.decode("latin-1")):
                found = _supported(code)
                if found:
                    return found
    return settings.LANGUAGE_CODE


def user_language(user, default: str) -> str:
    """The user's own language (worker thread: it may query), else ``default``."""
    return _supported(registry.language_of(user)) or default


def _interpolate(template, params: dict) -> str:
    return str(template) % params


# A lazy message with its parameters, rendered when the frame is written
# (in the socket's language): for refusals made on the event loop, where no
# language is active.
interpolate = lazy(_interpolate, str)


def in_language(language: str, fn):
    """``fn`` run with ``language`` active (for a worker thread)."""

    def run(*args, **kwargs):
        with translation.override(language):
            return fn(*args, **kwargs)

    return run


@functools.lru_cache(maxsize=1024)
def localized_text(kind: str, text: str, language: str) -> str:
    """An event's frame (its JSON ``text``) rendered in ``language`` by its
    type's localizer. Cached: every socket of a process gets the same text
    object for one event, so a room's sockets share one rendering per
    language. Anything going wrong relays the text as it came."""
    localize = registry.localizer(kind)
    if localize is None:
        return text
    try:
        with translation.override(language):
            return json.dumps(localize(json.loads(text)), default=str)
    except Exception:  # noqa: BLE001 - a frame is never lost to its rendering
        logger.exception("could not render a %s frame in %s", kind, language)
        return text
