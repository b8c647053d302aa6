import pytest
from django.db import connection


@pytest.fixture(autouse=True)
def audit_dirs(settings, tmp_path):
    """Digest files and partition archives of each test stay in its tmp dir."""
    settings.AUDIT_DIGEST_DIR = tmp_path / "digests"
    settings.PARTITION_ARCHIVE_DIR = tmp_path / "archive"
    return tmp_path


def tamper(sql, params=()):
    """Run SQL with triggers bypassed, as an attacker with database access could."""
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        try:
            cursor.execute(sql, params)
        finally:
            cursor.execute("SET session_replication_role = origin")
