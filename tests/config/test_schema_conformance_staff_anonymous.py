"""Schemathesis as staff (the staff-only operations: audit verify, every
org's audit log, staff overrides) and anonymously (every operation refuses,
bar register and login, in the schema's shapes). See
tests/config/schemathesis_app.py for how the run is set up."""

import pytest

from tests.config.schemathesis_app import EXAMPLES, check_operation, operations, shared_world, token_for

# An anonymous caller is refused before its input is read, bar register and
# login: fewer examples find all there is.
ANONYMOUS_EXAMPLES = max(1, EXAMPLES // 3)


@pytest.fixture(scope="module")
def staff(django_db_setup, django_db_blocker, tmp_path_factory):
    with shared_world(django_db_blocker, tmp_path_factory.mktemp("remotes"), is_staff=True,
                      is_superuser=True) as actor:
        yield actor


@pytest.mark.fuzz
@pytest.mark.django_db
@pytest.mark.parametrize("operation", operations())
def test_api_conforms_to_its_schema_for_staff(operation, staff):
    check_operation(operation, max_examples=EXAMPLES, headers=lambda: {"Authorization": f"Token {token_for(staff)}"})


@pytest.mark.fuzz
@pytest.mark.django_db
@pytest.mark.parametrize("operation", operations())
def test_api_conforms_to_its_schema_anonymously(operation, staff):
    # The paths point at the staff world's objects; no credential is sent.
    check_operation(operation, max_examples=ANONYMOUS_EXAMPLES)
