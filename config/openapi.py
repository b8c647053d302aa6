"""The OpenAPI schema's shared parts: the error responses every operation
can answer, documented once here rather than per view, and the schema view
itself answering its own errors in the contract's JSON."""

from __future__ import annotations

from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
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

def _always(method, path, operation):
    return True


def _names_an_object(method, path, operation):
    return "{" in path


def _writes(method, path, operation):
    return method != "get"


def _uploads(method, path, operation):
    return "multipart/form-data" in operation.get("requestBody", {}).get("content", {})


# status: (description, which operations can answer it). Any request can be
# malformed (a NUL in the query, a bad Host), unauthenticated (a bad token is
# refused even where none is needed), refused, throttled or caught by an outage.
_ERRORS = {
    "400": ("validation_error, or another refusal of the input with a code of its own.", _always),
    "401": ("not_authenticated (no or a bad credential), invalid_credentials.", _always),
    "403": ("permission_denied, account_inactive, account_banned, registration_closed.", _always),
    "404": ("not_found: no such object, or one the caller may not see.", _names_an_object),
    "409": ("conflict with the current state.", _writes),
    "413": ("too_large.", _uploads),
    "429": ("throttled.", _always),
    "503": ("service_unavailable: a part the request needs (Redis, the database) is down.", _always),
}
_WITH_RETRY_AFTER = {"429", "503"}
_METHODS = {"get", "put", "post", "patch", "delete", "head", "options", "trace"}


def _type_ids(operation) -> None:
    """The contract: "Ids are UUID strings". Views that take an id as text (and
    answer 400 for anything else) would otherwise document a bare string."""
    for parameter in operation.get("parameters", []):
        schema = parameter.get("schema", {})
        name = parameter.get("name", "")
        if (name == "id" or name.endswith("_id")) and schema.get("type") == "string" and "format" not in schema:
            schema["format"] = "uuid"


def document_errors(result, generator, request, public):
    """drf-spectacular POSTPROCESSING_HOOKS entry: adds the contract's error
    responses (components/schemas/Error) to every operation that does not
    document that status itself, and types id parameters as UUIDs."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"$ref": "#/components/schemas/Error"}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in _METHODS:
                continue
            _type_ids(operation)
            responses = operation.setdefault("responses", {})
            for status, (description, applies) in _ERRORS.items():
                if status in responses or not applies(method, path, operation):
                    continue
                response = {"description": description, "content": {"application/json": {"schema": ref}}}
                if status in _WITH_RETRY_AFTER:
                    response["headers"] = _RETRY_AFTER
                responses[status] = response
    return result


class _JSONErrors:
    """Errors (405, an unknown ?format=) in the contract's JSON, not in the
    view's own format (an OpenAPI document, a Swagger page)."""

    def handle_exception(self, exc):
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)


class SchemaView(_JSONErrors, SpectacularAPIView):
    """/api/schema/"""


class DocsView(_JSONErrors, SpectacularSwaggerView):
    """/api/docs/"""
