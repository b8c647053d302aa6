"""The digest file with several writers: processes appending at once, and
anchoring runs racing each other (several workers or hosts on one file)."""

import os
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.db import connection

from audit import anchors
from audit.services import audit_record
from audit.verification import anchor_head, verify
from tests.audit.conftest import run_concurrently

WRITERS, PER_WRITER = 6, 150

# Each writer is a fresh interpreter, not a fork of this one: a fork copies
# whatever lock another thread of the test process (the channel layer's loop,
# the metrics sampler) held at that instant, and the child can hang on it.
WRITER = """
import json, sys
import django
django.setup()
from django.db import connections
from audit import anchors
name, writer, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
connections["default"].settings_dict["NAME"] = name  # the test database's file
for n in range(count):
    # A long record, so a torn or interleaved write could not go unseen.
    anchors.append({"kind": "anchor", "head_id": f"{writer}-{n}", "head_hash": "f" * 64,
                    "head_created_at": "2000-01-01T00:00:00.000000Z", "padding": "x" * 3000})
"""


@pytest.mark.django_db
def test_processes_appending_at_once_never_tear_or_interleave_a_record():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings",
           "AUDIT_DIGEST_DIR": str(settings.AUDIT_DIGEST_DIR), "AUDIT_HMAC_KEY": settings.AUDIT_HMAC_KEY}
    name = connection.settings_dict["NAME"]
    children = [subprocess.Popen([sys.executable, "-c", WRITER, name, str(w), str(PER_WRITER)], env=env,
                                 cwd=settings.BASE_DIR, stderr=subprocess.PIPE) for w in range(WRITERS)]
    deadline = time.monotonic() + 240
    for child in children:
        try:
            child.wait(timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            for other in children:
                other.kill()
            raise
    failures = [c.stderr.read().decode()[-2000:] for c in children if c.returncode != 0]
    assert failures == []
    records = anchors.load()
    assert len(records) == WRITERS * PER_WRITER and all(r.valid for r in records)
    assert {r.data["head_id"] for r in records} == {f"{w}-{n}" for w in range(WRITERS) for n in range(PER_WRITER)}
    # Each writer's own records stay in its order.
    for w in range(WRITERS):
        mine = [r.data["head_id"] for r in records if r.data["head_id"].startswith(f"{w}-")]
        assert mine == [f"{w}-{n}" for n in range(PER_WRITER)]


@pytest.mark.django_db(transaction=True)
def test_racing_anchoring_runs_write_one_anchor():
    for n in range(20):
        audit_record(action="test.entry", details={"n": n})
    outcomes, errors = run_concurrently(lambda n: anchor_head(), 6)
    assert errors == []
    written = [o for o in outcomes if o["anchor"] is not None]
    assert len(written) == 1
    assert all(o.get("skipped") in ("locked", "unchanged") for o in outcomes if o["anchor"] is None)
    assert [r.data["head_id"] for r in anchors.load()] == [written[0]["anchor"]["head_id"]]
    assert verify().ok


@pytest.mark.django_db(transaction=True)
def test_a_run_that_finds_the_file_locked_skips_and_the_next_one_anchors():
    first = audit_record(action="test.first")
    with anchors.exclusive() as held:
        assert held
        assert anchor_head()["skipped"] == "locked"  # another writer holds the file
    outcome = anchor_head()
    assert outcome["anchor"]["head_id"] == str(first.pk)
    second = audit_record(action="test.second")
    assert anchor_head()["anchor"]["head_id"] == str(second.pk)


@pytest.mark.django_db
def test_a_record_torn_by_a_crash_is_reported_and_does_not_swallow_the_next():
    audit_record(action="test.entry")
    anchors.write_anchor()
    with open(anchors.digest_path(), "ab") as handle:
        handle.write(b'{"kind": "anchor", "head_id": "torn')  # the crash
    assert len(anchors.load()) == 1  # a line without its newline is not read (yet)
    audit_record(action="test.entry")
    anchors.write_anchor()
    records = anchors.load()
    assert [r.kind for r in records] == ["anchor", "unreadable", "anchor"]
    assert records[2].valid
    assert verify().first_broken.reason == "bad digest record"
