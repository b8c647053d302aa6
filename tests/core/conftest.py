# Digest files and partition archives of each test stay in its tmp dir (autouse).
from tests.audit.conftest import audit_dirs  # noqa: F401
