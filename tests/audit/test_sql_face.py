"""Audit's face for SQL: the one definition of audit_chain_append()'s
argument list (audit.services.APPEND_ARGS) is what the database holds, and
what every function that appends an entry itself was rendered from."""

import pytest
from django.db import connection

from audit.services import APPEND_ARGS, append_sql_call, append_sql_parameters, append_sql_types

pytestmark = pytest.mark.django_db


def _arguments(function: str) -> list[tuple[str, str]]:
    """(name, type) of each input argument of the one function so named."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.name, format_type(a.type, NULL) FROM pg_proc p, "
            "unnest(p.proargnames[1:p.pronargs], p.proargtypes::oid[]) WITH ORDINALITY AS a(name, type, n) "
            "WHERE p.proname = %s ORDER BY a.n", [function])
        return cursor.fetchall()


def _canonical(sql_type: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT format_type(%s::regtype, NULL)", [sql_type])
        return cursor.fetchone()[0]


def test_the_definition_is_the_deployed_function():
    deployed = _arguments("audit_chain_append")
    assert [(f"p_{name}", _canonical(sql_type)) for name, sql_type in APPEND_ARGS] == deployed
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regprocedure(%s) IS NOT NULL", [f"audit_chain_append({append_sql_types()})"])
        assert cursor.fetchone()[0]


def test_a_function_rendered_from_it_passes_every_argument_on():
    params, call = append_sql_parameters("x_"), append_sql_call("x_")
    assert params.count(",") == call.count(",") == len(APPEND_ARGS) - 1
    for name, sql_type in APPEND_ARGS:
        assert f"x_{name} {sql_type}" in params and f"x_{name}" in call
