"""Hostile JSON bodies: nested deep, NUL, lone surrogates, answer 400 in the
contract's shape (config.safejson through the API's default parser)."""

import pytest

from config import safejson
from core.errors import ValidationFailed


@pytest.mark.parametrize("depth", [33, 1_000, 100_000])
def test_deep_nesting_is_refused_before_parsing(depth):
    with pytest.raises(ValidationFailed) as caught:
        safejson.loads("[" * depth + "]" * depth)
    assert "nested" in caught.value.fields["non_field_errors"][0]


def test_brackets_inside_strings_do_not_count():
    text = '{"a": "' + "[" * 5000 + '\\"{{{"}'
    assert safejson.loads(text) == {"a": "[" * 5000 + '"{{{'}


def test_nesting_within_the_bound_parses():
    assert safejson.loads("[" * 32 + "]" * 32) is not None


@pytest.mark.parametrize("text", ['{"a": "x\\u0000y"}', '{"\\u0000": 1}', '["\\ud800"]', '{"a": {"b": ["\\udfff"]}}'])
def test_text_the_database_cannot_store_is_refused(text):
    with pytest.raises(ValidationFailed):
        safejson.loads(text)


def test_surrogate_pairs_are_ordinary_text():
    assert safejson.loads('{"e": "\\ud83d\\ude00"}') == {"e": "\N{GRINNING FACE}"}


@pytest.mark.django_db
@pytest.mark.parametrize("body", ["[" * 100_000 + "]" * 100_000, '{"login": "a\\u0000", "password": "x"}', '{"login": "\\ud800", "password": "x"}'])
def test_api_answers_400_validation_error(client, body):
    response = client.post("/api/v1/auth/login", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
