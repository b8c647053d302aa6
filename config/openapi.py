"""The OpenAPI schema's shared parts: the error responses every operation
can answer, documented once here rather than per view, and the schema view
itself answering its own errors in the contract's JSON."""

from __future__ import annotations

from drf_spectacular.views import SpectacularAPIView
from rest_framework.renderers import JSONRenderer

ERROR_SCHEMA = {
    "type": "object",
    "description": "Every error: `code` is snake_case; `fields` is present only for validation errors.",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
            },
        },
    },
}

_RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait before trying again."}}

# status: (description, which operations can answer it)
_ERRORS = {
    "400": ("validation_error, or another refusal of the input (a code of its own such as receipts_unavailable).",
            lambda op, path: True),
    "401": ("not_authenticated (no or a bad credential), invalid_credentials.", lambda op, path: True),
    "403": ("permission_denied, account_inactive, account_banned, registration_closed, blocked.",
            lambda op, path: True),
    "404": ("not_found: no such object, or one the caller may not see.",
            lambda op, path: "{" in path),
    "409": ("conflict with the current state.", lambda op, path: True),
    "413": ("too_large.", lambda op, path: "multipart/form-data" in op.get("requestBody", {}).get("content", {})),
    "429": ("throttled.", lambda op, path: True),
    "503": ("service_unavailable: a part the request needs (Redis, the database) is down.", lambda op, path: True),
}
_WITH_RETRY_AFTER = {"429", "503"}
_METHODS = {"get", "put", "post", "patch", "delete", "head", "options", "trace"}


def document_errors(result, generator, request, public):
    """drf-spectacular POSTPROCESSING_HOOKS entry: adds the contract's error
    responses (components/schemas/Error) to every operation that does not
    document that status itself."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"$ref": "#/components/schemas/Error"}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in _METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for status, (description, applies) in _ERRORS.items():
                if status in responses or not applies(operation, path):
                    continue
                response = {"description": description, "content": {"application/json": {"schema": ref}}}
                if status in _WITH_RETRY_AFTER:
                    response["headers"] = _RETRY_AFTER
                responses[status] = response
    return result


class SchemaView(SpectacularAPIView):
    """/api/schema/: its errors (405, an unknown ?format=) in the contract's
    JSON, not rendered as a YAML or JSON OpenAPI document."""

    def handle_exception(self, exc):
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)
