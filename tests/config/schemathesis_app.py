"""Schemathesis against the real application (tests/config/test_schema_*.py).

The OpenAPI document is the one /api/schema/ serves; requests go through
Django's WSGI handler in the test's own thread, so they see the test's
database transaction (real PostgreSQL, real Redis). Each operation is one
pytest test with a bounded number of valid and invalid examples, checked for
no 5xx and for conformance to the schema: documented status codes, content
types and response bodies.

Random UUIDs in paths only ever reach 404s, so each test module builds a
small world once (an org with a department, a position, a role, a member and
a proxy; a room with a message, a reaction, an invite and a join request; a
remote with a grant, a job, a schedule; an API key, a second session, a
notification) and about half the examples address its objects instead.
Nothing is excluded: see ``token_for`` and ``shared_world`` for how
destructive operations are kept from spoiling the ones after them."""

from __future__ import annotations

import contextlib
import json
import os
from datetime import timedelta
from pathlib import Path

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections, transaction
from django.test import override_settings
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts import services as accounts_services
from accounts.models import DeviceSession
from accounts.notifications import notify
from accounts.services import user_create
from chatroom import services as chat_services
from jobs import services as jobs_services
from orgs import services as org_services
from orgs.models import Role

# Examples per operation and caller; SCHEMA_FUZZ_EXAMPLES=200 for a deeper run by hand.
EXAMPLES = int(os.environ.get("SCHEMA_FUZZ_EXAMPLES", "12"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
REACTION = "\N{THUMBS UP SIGN}"


def openapi_document() -> dict:
    """What /api/schema/ serves (built here without a request: at collection
    time there is no test database yet; a test compares the two)."""
    return json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))


# The ids of the current test's world, by path parameter name (for a bare
# {id}, by the collection before it). Read when an example is drawn.
KNOWN: dict[str, str] = {}


def _known(path: str, name: str) -> str | None:
    if name == "id":
        name = path.split("/{id}")[0].rsplit("/", 1)[-1]
    return KNOWN.get(name)


def load():
    config = schemathesis.Config.from_dict({
        "generation": {"database": "none"},
        # Coverage enumerates every boundary of every parameter (hundreds of
        # cases per operation); stateful runs need links the schema lacks.
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
    })
    schema = schemathesis.openapi.from_dict(openapi_document(), config=config)
    schema.app = WSGIHandler()

    @schema.hook
    def flatmap_path_parameters(context, path_parameters):
        if not path_parameters:
            return st.just(path_parameters)
        seeded = {name: _known(context.operation.path, name) or value for name, value in path_parameters.items()}
        return st.sampled_from([seeded, path_parameters]) if seeded != path_parameters else st.just(path_parameters)

    return schema


SCHEMA = load()


def operations() -> list:
    """One pytest parameter per operation, named ``GET /api/v1/me``.
    (Plain pytest parametrization, not schemathesis' own: under pytest 9 its
    items share one node id, and xdist then runs only one of them.)"""
    found = []
    for result in SCHEMA.get_all_operations():
        operation = result.ok()  # an operation the schema cannot describe fails here, loudly
        found.append(pytest.param(operation, id=operation.label))
    assert found, "the schema has no operations"
    return found


def check_operation(operation, *, max_examples: int, headers=dict) -> None:
    """``max_examples`` requests to ``operation``, valid and invalid ones,
    each checked against the schema. ``headers()`` is called per request."""
    cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))

    @settings(
        max_examples=max_examples, deadline=None, database=None, print_blob=False,
        derandomize=True,  # the same examples on every run, so a failure reproduces
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    )
    @given(case=cases)
    def run(case):
        case.call_and_validate(headers=headers(), checks=CHECKS)

    run()


class wsgi_requests_keep_the_connection:
    """Django's test client does this per request: the handler's
    request_started/finished signals would close the test's connection,
    and with it the transaction the test's data lives in."""

    def __enter__(self):
        signals.request_started.disconnect(close_old_connections)
        signals.request_finished.disconnect(close_old_connections)

    def __exit__(self, *exc):
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def token_for(user) -> str:
    """A fresh device token. One per example: logout, logout-all and
    DELETE /auth/sessions/{id} end the caller's own session, and the next
    example must not inherit a dead token."""
    _session, token = DeviceSession.objects.create(user=user, kind=DeviceSession.Kind.API)
    return token


def build_world(*, actor, peer, outsider, root: Path) -> dict[str, str]:
    """The actor's objects, each addressable by the path parameters above."""
    org = org_services.org_create(owner=actor, name="schema-org")
    department = org_services.department_create(actor=actor, org=org, name="Platform")
    position = org_services.position_create(actor=actor, org=org, title="Engineer")
    role = org_services.role_create(actor=actor, org=org, name="reader", permissions={"docs": ["read"]})
    org_services.member_add(actor=actor, org=org, user=peer, role=Role.objects.system("member"),
                            department=department, position=position)
    proxy = org_services.proxy_create(actor=actor, org=org, principal=actor, agent=peer,
                                      permissions={"docs": ["read"]}, expires_at=timezone.now() + timedelta(days=1))

    room = chat_services.room_create(owner=actor, name="schema-room", require_approval=True, org=org)
    invite = chat_services.invite_create(actor=actor, room=room, max_uses=0)
    chat_services.invite_accept(user=peer, code=invite.code)
    message = chat_services.message_post(actor=actor, room=room, content=f"hello @{peer.username}")
    chat_services.reaction_add(actor=actor, message_id=message.id, emoji=REACTION)
    _member, join_request = chat_services.room_join(user=outsider, room=room)

    (root / "data").mkdir(exist_ok=True)
    (root / "data" / "file.txt").write_text("schema")
    remote = jobs_services.remote_create(actor=actor, name="schema_remote", type="local",
                                         options={"root": str(root / "data")})
    grant = jobs_services.permission_grant(actor=actor, remote=remote, user=peer, permissions=["read"])
    job = jobs_services.job_submit(actor=actor, type="delete", source={"remote": remote.name, "path": "/nothing"},
                                   options={"dry_run": True})
    template = {"type": "delete", "source": {"remote": remote.name, "path": "/nothing"}}
    schedule = jobs_services.schedule_create(actor=actor, name="hourly", rule_type="interval",
                                             interval_seconds=3600, job_template=template)

    api_key, _key = accounts_services.api_key_create(user=actor, name="ci", scopes=["chat:read"])
    other_session, _token = DeviceSession.objects.create(user=actor, kind=DeviceSession.Kind.API, device_name="old")
    notification = notify(user=actor, type="system_alert", title="Hello")

    return {
        "org_id": str(org.id), "departments": str(department.id), "positions": str(position.id),
        "roles": str(role.id), "proxies": str(proxy.id), "user_id": str(peer.id),
        "room_id": str(room.id), "message_id": str(message.id), "emoji": REACTION, "code": invite.code,
        "request_id": str(join_request.id) if join_request else "",
        "name": remote.name, "grant_id": str(grant.id), "jobs": str(job.id), "schedules": str(schedule.id),
        "key_id": str(api_key.id), "session_id": str(other_session.id), "notification_id": str(notification.id),
    }


@contextlib.contextmanager
def shared_world(django_db_blocker, root: Path, **actor_fields):
    """The actor's world for a whole test module, in one transaction rolled
    back at its end: each test's own transaction is a savepoint within it,
    so whatever an operation changes (a delete, a logout) is undone before
    the next. Building it once per module rather than per operation keeps
    the run within a few minutes."""
    password_hashers = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # users in bulk, fast
    with override_settings(PASSWORD_HASHERS=password_hashers, RCLONE_LOCAL_ROOTS=[str(root)]), \
            django_db_blocker.unblock(), transaction.atomic():
        try:
            def user(name, **fields):
                return user_create(username=name, email=f"{name}@example.com", password="schema-pass-1", **fields)

            actor = user("actor", **actor_fields)
            KNOWN.update(build_world(actor=actor, peer=user("peer"), outsider=user("outsider"), root=root))
            with wsgi_requests_keep_the_connection():
                yield actor
        finally:
            KNOWN.clear()
            transaction.set_rollback(True)
