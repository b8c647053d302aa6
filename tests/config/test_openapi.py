"""The OpenAPI schema: the document schemathesis fuzzes is the one
/api/schema/ serves, and every operation documents the contract's errors."""

import pytest

from tests.config.schemathesis_app import openapi_document

pytestmark = pytest.mark.django_db


def _operations(document):
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            yield method, path, operation


def test_the_fuzzed_document_is_the_served_one(client):
    served = client.get("/api/schema/?format=json")
    assert served.status_code == 200
    assert served.json() == openapi_document()


def test_every_operation_documents_the_error_shape():
    document = openapi_document()
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["error"] and error["properties"]["error"]["required"] == ["code", "message"]
    for method, path, operation in _operations(document):
        responses = operation["responses"]
        for status in ("400", "401", "403", "429", "503"):
            assert responses[status]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
        assert ("404" in responses) == ("{" in path), (method, path)
        assert ("409" in responses) == (method != "get"), (method, path)
        assert "Retry-After" in responses["429"]["headers"] and "Retry-After" in responses["503"]["headers"]
    upload = document["paths"]["/api/v1/uploads"]["post"]["responses"]
    assert "413" in upload


def test_ids_are_documented_as_uuids():
    document = openapi_document()
    checks = document["paths"]["/api/v1/orgs/{org_id}/permissions/check"]["get"]["parameters"]
    assert {p["name"]: p["schema"].get("format") for p in checks}["org_id"] == "uuid"
    assert {p["name"]: p["schema"].get("format") for p in checks}["as_user"] == "uuid"


def test_documented_fixes_found_by_schemathesis():
    document = openapi_document()
    assert document["components"]["schemas"]["User"]["properties"]["avatar_url"] == {
        "type": "string", "format": "uri", "readOnly": True, "nullable": True}
    audit = document["paths"]["/api/v1/audit/"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert audit == {"$ref": "#/components/schemas/AuditLogPage"}
    for path in ("/api/v1/messages/{message_id}/pin", "/api/v1/messages/{message_id}/reactions/{emoji}/"):
        assert "200" in document["paths"][path]["delete"]["responses"], path


def test_a_cursor_the_list_did_not_issue_is_a_400(client, make_user):
    client.force_login(make_user())
    response = client.get("/api/v1/api-keys?cursor=not-a-cursor")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"cursor": ["Not a cursor of this list."]}
