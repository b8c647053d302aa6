"""Schemathesis, authenticated as an ordinary (power) user with a device
token: every operation of /api/schema/ answers no 5xx and conforms to the
schema (tests/config/schemathesis_app.py says how)."""

import pytest

from tests.config.schemathesis_app import EXAMPLES, check_operation, operations, shared_world, token_for


@pytest.fixture(scope="module")
def member(django_db_setup, django_db_blocker, tmp_path_factory):
    with shared_world(django_db_blocker, tmp_path_factory.mktemp("remotes"), role="power_user") as actor:
        yield actor


@pytest.mark.fuzz
@pytest.mark.django_db
@pytest.mark.parametrize("operation", operations())
def test_api_conforms_to_its_schema_for_a_member(operation, member):
    check_operation(operation, max_examples=EXAMPLES, headers=lambda: {"Authorization": f"Token {token_for(member)}"})
