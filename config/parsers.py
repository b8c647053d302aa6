"""The API's request body parser (REST_FRAMEWORK's DEFAULT_PARSER_CLASSES).

A module of its own: DRF reads its default classes while rest_framework.views
is first imported, so the module naming them must not import that itself
(config.api does, and importing it before DRF had loaded failed).
"""

from __future__ import annotations

from rest_framework.parsers import JSONParser

from config import safejson


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser through config.safejson: a body nested too deep, or
    holding NUL or lone surrogates, is a 400 validation_error, not a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        return safejson.loads(stream.read() if stream is not None else b"")
