"""Concurrent writers, each on its own connection, leave one linear chain."""

import threading

import pytest
from django.db import connections, transaction

from audit.models import AuditLog
from audit.services import audit_record
from audit.verification import verify


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("in_transaction", [False, True], ids=["own-transaction", "caller-transaction"])
def test_concurrent_writers_leave_one_linear_chain(in_transaction):
    # Both ways an entry is written: alone (one autocommit statement) and as
    # services do, several inside the caller's transaction.
    writers, per_writer = 6, 15
    errors = []
    barrier = threading.Barrier(writers)

    def write(n):
        try:
            barrier.wait()
            for i in range(0, per_writer, 3):
                if in_transaction:
                    with transaction.atomic():
                        for j in range(i, i + 3):
                            audit_record(action="test.concurrent", details={"writer": n, "i": j})
                else:
                    for j in range(i, i + 3):
                        audit_record(action="test.concurrent", details={"writer": n, "i": j})
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    entries = list(AuditLog.objects.filter(action="test.concurrent").order_by("created_at", "id"))
    assert len(entries) == writers * per_writer
    everything = list(AuditLog.objects.order_by("created_at", "id"))
    # No fork: every prev_hash is used once, each one the previous entry's hash.
    assert len({e.prev_hash for e in everything}) == len(everything)
    assert [e.prev_hash for e in everything[1:]] == [e.hash for e in everything[:-1]]
    assert verify().ok
