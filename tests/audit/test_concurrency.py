"""Concurrent writers, each on its own connection, leave one linear chain."""

import pytest
from django.db import transaction

from audit.models import AuditLog
from audit.services import audit_record
from audit.verification import verify
from tests.audit.conftest import run_concurrently


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("in_transaction", [False, True], ids=["own-transaction", "caller-transaction"])
def test_concurrent_writers_leave_one_linear_chain(in_transaction):
    # Both ways an entry is written: alone (one autocommit statement) and as
    # services do, several inside the caller's transaction.
    writers, per_writer = 6, 15

    def write(n):
        for i in range(0, per_writer, 3):
            if in_transaction:
                with transaction.atomic():
                    for j in range(i, i + 3):
                        audit_record(action="test.concurrent", details={"writer": n, "i": j})
            else:
                for j in range(i, i + 3):
                    audit_record(action="test.concurrent", details={"writer": n, "i": j})

    _, errors = run_concurrently(write, writers)
    assert errors == []
    entries = list(AuditLog.objects.filter(action="test.concurrent").order_by("created_at", "id"))
    assert len(entries) == writers * per_writer
    everything = list(AuditLog.objects.order_by("created_at", "id"))
    # No fork: every prev_hash is used once, each one the previous entry's hash.
    assert len({e.prev_hash for e in everything}) == len(everything)
    assert [e.prev_hash for e in everything[1:]] == [e.hash for e in everything[:-1]]
    assert verify().ok
