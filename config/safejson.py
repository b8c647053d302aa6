"""Untrusted JSON, parsed within bounds: the one reader for request bodies
(the API's parser, the pages' JSON fields) and socket frames alike.

Python's json module recurses once per nesting level, so 100,000 levels of
``[`` end in a RecursionError (a 500, or a dead socket) before any validation
runs. The nesting depth is therefore measured before parsing, by a linear
scan that skips string contents. Text PostgreSQL cannot store (NUL) and text
that cannot be encoded as UTF-8 (lone surrogates) is refused here too, so it
never reaches a query as a DataError."""

from __future__ import annotations

import json
import re

from django.utils.translation import gettext as _

from core.errors import ValidationFailed

# Deep enough for every document the product stores (role permissions, job
# options, schedule templates, profile preferences); far from recursion limits.
MAX_DEPTH = 32

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")
_OPENERS = frozenset("[{")


def too_deep(text: str, max_depth: int = MAX_DEPTH) -> bool:
    """Whether arrays/objects in ``text`` (unparsed JSON) nest deeper than ``max_depth``."""
    if text.count("[") + text.count("{") <= max_depth:
        return False  # the common case, without a scan
    depth = 0
    for bracket in _BRACKETS.findall(_STRING.sub("", text)):
        depth += 1 if bracket in _OPENERS else -1
        if depth > max_depth:
            return True
    return False


def check_text(value: str, field: str = "non_field_errors") -> str:
    """``value`` unless it holds a NUL or a lone surrogate (ValidationFailed)."""
    if "\x00" in value:
        raise ValidationFailed(fields={field: [_("Text may not contain NUL characters.")]})
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationFailed(fields={field: [_("Text must be valid Unicode.")]}) from None
    return value


def _check_strings(value, field: str) -> None:
    # Iterative: the depth is already bounded, but a wide document has many strings.
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            check_text(item, field)
        elif isinstance(item, dict):
            for key, sub in item.items():
                check_text(key, field)
                stack.append(sub)
        elif isinstance(item, list):
            stack.extend(item)


def loads(text: str | bytes, *, field: str = "non_field_errors", max_depth: int = MAX_DEPTH):
    """Parse untrusted JSON, or raise ValidationFailed naming ``field``:
    malformed, nested deeper than ``max_depth``, or holding text that
    cannot be stored."""
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationFailed(fields={field: [_("The body is not UTF-8 text.")]}) from None
    if too_deep(text, max_depth):
        raise ValidationFailed(fields={field: [_("JSON may be nested at most %(depth)s levels deep.") % {"depth": max_depth}]})
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise ValidationFailed(fields={field: [_("Not valid JSON.")]}) from None
    _check_strings(value, field)
    return value
