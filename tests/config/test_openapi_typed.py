"""/api/schema/ types every response: no operation answers (2xx or a
documented error) with an object the schema says nothing about. A JSON
value that is genuinely open (a room's settings, an audit entry's details)
is a named component with a description, so a client sees a name and a
meaning rather than a bare object."""

import pytest
from django.core.management import call_command

from tests.config.schemathesis_app import openapi_document

COMPOSED = ("allOf", "oneOf", "anyOf")
SCALARS = {"string", "integer", "number", "boolean"}


def _is_free_object(schema: dict) -> bool:
    """An object (or a schema without a type) whose members are not described."""
    if "$ref" in schema or "enum" in schema or any(k in schema for k in COMPOSED):
        return False
    if schema.get("type") in SCALARS or schema.get("type") == "array" or schema.get("properties"):
        return False
    values = schema.get("additionalProperties")
    return not (isinstance(values, dict) and values and not _is_free_object(values))


def untyped(schema: dict, where: str, components: dict, seen: set) -> list[str]:
    """Every place under ``schema`` that is an untyped object, but for named
    components that describe themselves."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        component = components[name]
        if _is_free_object(component):
            return [] if component.get("description") else [f"{where}: {name} is a free object without a description"]
        if name in seen:
            return []
        seen.add(name)
        return untyped(component, f"{where} > {name}", components, seen)
    if any(k in schema for k in COMPOSED):
        return [p for k in COMPOSED for i, sub in enumerate(schema.get(k, []))
                for p in untyped(sub, f"{where}.{k}[{i}]", components, seen)]
    if _is_free_object(schema):
        return [f"{where}: an untyped object {schema}"]
    found = []
    if schema.get("type") == "array":
        found += untyped(schema.get("items", {}), f"{where}[]", components, seen)
    for name, sub in (schema.get("properties") or {}).items():
        found += untyped(sub, f"{where}.{name}", components, seen)
    values = schema.get("additionalProperties")
    if isinstance(values, dict) and values:
        found += untyped(values, f"{where}{{*}}", components, seen)
    return found


def _responses(document):
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation.get("responses", {}).items():
                for media_type, content in (response.get("content") or {}).items():
                    yield f"{method.upper()} {path} {status} {media_type}", content.get("schema", {})


def test_no_response_is_an_untyped_object():
    document = openapi_document()
    components = document["components"]["schemas"]
    found = []
    for where, schema in _responses(document):
        found += untyped(schema, where, components, set())
    assert found == []


def test_the_walker_finds_bare_and_nested_free_objects():
    components = {"Named": {"type": "object", "additionalProperties": {}, "description": "Open, and says so."},
                  "Nameless": {"type": "object", "additionalProperties": {}}}
    assert untyped({"type": "object", "additionalProperties": {}}, "r", components, set())
    assert untyped({"type": "object", "properties": {"a": {}}}, "r", components, set())
    assert untyped({"type": "array", "items": {"type": "object"}}, "r", components, set())
    assert untyped({"$ref": "#/components/schemas/Nameless"}, "r", components, set())
    assert untyped({"allOf": [{"$ref": "#/components/schemas/Nameless"}]}, "r", components, set())
    assert not untyped({"type": "object", "properties": {"a": {"$ref": "#/components/schemas/Named"}}}, "r",
                       components, set())
    assert not untyped({"type": "object", "additionalProperties": {"type": "boolean"}}, "r", components, set())


def test_every_reference_resolves_and_every_component_is_used():
    import json
    import re

    document = openapi_document()
    text = json.dumps(document)
    named = set(re.findall(r"#/components/schemas/(\w+)", text))
    assert named == set(document["components"]["schemas"])


def test_free_form_values_are_named_components():
    components = openapi_document()["components"]["schemas"]
    for name in ("RoomSettings", "OrgSettings", "ProfilePreferences", "AuditDetails", "MessageMetadata"):
        assert components[name]["type"] == "object" and components[name]["description"], name


@pytest.mark.django_db
def test_the_schema_generates_without_warnings(tmp_path):
    # Two serializers of one name, or an enum name picked by hash, make a
    # wrong or unstable schema: drf-spectacular says so as a warning.
    call_command("spectacular", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))
