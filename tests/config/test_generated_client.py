"""The typed schema proven the way a mobile or script developer meets it: a
Python client is generated from the live /api/schema/ by
openapi-python-client (pinned in requirements.txt; no network), imported,
and used against a real uvicorn server with a real Celery worker for a whole
flow: log in, create a room, post, read the history, create remotes and a
copy job, and follow its progress until it completes. The client parses
every answer into its typed models, so a response that does not match the
schema fails here."""

import importlib
import os
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path

import pytest

from accounts.services import user_create
from tests.processes import asgi_servers, celery_worker, stop, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PACKAGE = "teamhub_generated_client"
GENERATOR = Path(sys.executable).with_name("openapi-python-client")
PASSWORD = "client-pass-words-1"


def generate_client(schema_url: str, into: Path):
    """The client package generated from the schema at ``schema_url``, imported."""
    schema = into / "schema.json"
    with urllib.request.urlopen(f"{schema_url}?format=json", timeout=30) as response:
        schema.write_bytes(response.read())
    # The generator formats its output with ruff, which it finds on PATH (installed beside it).
    env = {**os.environ, "PATH": f"{GENERATOR.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(
        [str(GENERATOR), "generate", "--path", str(schema), "--meta", "none", "--output-path", str(into / PACKAGE)],
        cwd=into, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # Anything the generator could not express is a gap in the schema.
    assert "Warning" not in result.stdout + result.stderr, result.stdout + result.stderr
    sys.path.insert(0, str(into))
    try:
        return importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(into))


@pytest.fixture
def generated():
    yield
    for name in [n for n in sys.modules if n == PACKAGE or n.startswith(f"{PACKAGE}.")]:
        del sys.modules[name]


def test_a_client_generated_from_the_schema_runs_a_whole_flow(tmp_path, generated):
    allowed = tmp_path / "remotes"
    (allowed / "src" / "docs").mkdir(parents=True)
    (allowed / "dst").mkdir()
    (allowed / "src" / "docs" / "report.txt").write_text("quarterly figures\n")
    (allowed / "src" / "photo.bin").write_bytes(os.urandom(50_000))
    runs = tmp_path / "runs"
    runs.mkdir()
    logs = tmp_path / "logs"
    logs.mkdir()
    user_create(username="mobile", email="mobile@example.com", password=PASSWORD, role="power_user")
    env = {"RCLONE_LOCAL_ROOTS": str(allowed), "JOBS_RUN_DIR_ROOT": str(runs)}

    worker = celery_worker(logs, "client-worker", **env)
    try:
        with asgi_servers(1, logs, **env) as (base,):
            client_module = generate_client(f"{base}/api/schema/", tmp_path)
            run_flow(client_module, base, allowed)
    finally:
        stop(worker)


def run_flow(tc, base: str, allowed: Path) -> None:
    from importlib import import_module

    def api(name):
        return import_module(f"{PACKAGE}.api.v1.{name}")

    m = import_module(f"{PACKAGE}.models")

    anonymous = tc.Client(base_url=base, raise_on_unexpected_status=True)
    # A refusal is a typed Error too.
    refused = api("v1_auth_login_create").sync_detailed(client=anonymous,
                                                         body=m.LoginInput(login="mobile", password="wrong"))
    assert refused.status_code == 401
    assert isinstance(refused.parsed, m.Error) and refused.parsed.error.code == "invalid_credentials"

    login = api("v1_auth_login_create").sync(client=anonymous, body=m.LoginInput(login="mobile", password=PASSWORD,
                                                                                 device_name="generated client"))
    assert isinstance(login, m.LoginResult) and login.user.username == "mobile"
    assert isinstance(login.user.profile.preferences, m.ProfilePreferences)
    client = tc.AuthenticatedClient(base_url=base, token=login.token, prefix="Token", raise_on_unexpected_status=True)
    me = api("v1_me_retrieve").sync(client=client)
    assert isinstance(me, m.User) and me.id == login.user.id and me.role == m.UserRoleEnum.POWER_USER

    # Chat: a room, a message, the history.
    room = api("v1_rooms_create").sync(client=client, body=m.RoomCreateInput(name="client-room",
                                                                             description="made by a client"))
    assert isinstance(room, m.Room) and room.is_member and room.role == m.RoomRoleEnum.OWNER
    client_id = f"c-{uuid.uuid4()}"
    posted = api("v1_rooms_messages_create").sync_detailed(
        room.id, client=client, body=m.MessageInput(content="hello from a generated client", client_id=client_id))
    assert posted.status_code == 201 and isinstance(posted.parsed, m.Message)
    message = posted.parsed
    assert message.user.username == "mobile" and message.reply_to is None
    again = api("v1_rooms_messages_create").sync_detailed(
        room.id, client=client, body=m.MessageInput(content="hello from a generated client", client_id=client_id))
    assert again.status_code == 200 and again.parsed.id == message.id  # the same message, not a second copy
    history = api("v1_rooms_messages_retrieve").sync(room.id, client=client)
    assert isinstance(history, m.MessagePage)
    assert [(x.id, x.content) for x in history.results][-1] == (message.id, "hello from a generated client")
    assert history.results[-1].cursor == message.cursor and history.next_ is None

    # Jobs: two local remotes and a copy between them, followed until it completes.
    for name in ("src", "dst"):
        remote = api("v1_remotes_create").sync(client=client, body=m.RemoteCreateInput(
            name=name, type_=m.RemoteTypeEnum.LOCAL, options=m.RemoteOptions.from_dict({"root": str(allowed / name)})))
        assert isinstance(remote, m.Remote) and remote.options["root"] == str(allowed / name)
    created = api("v1_jobs_create").sync(client=client, body=m.JobSubmitInput(
        type_=m.JobTypeEnum.COPY, source=m.JobEnd(remote="src", path="/"),
        destination=m.JobEnd(remote="dst", path="/"), options=m.JobOptions(checksum=True, verbose=True)))
    assert isinstance(created, m.JobCreated) and created.status == m.JobStatusEnum.QUEUED

    seen = []

    def finished():
        job = api("v1_jobs_retrieve").sync(created.id, client=client)
        assert isinstance(job, m.Job) and isinstance(job.stats, m.JobStats)
        seen.append((job.status, job.progress))
        return job if job.status in (m.JobStatusEnum.COMPLETED, m.JobStatusEnum.FAILED) else None

    job = wait_for(finished, 120, interval=0.3)
    assert job is not None, f"the job did not finish: {seen[-5:]}"
    assert job.status == m.JobStatusEnum.COMPLETED, (job.error, seen[-5:])
    assert job.progress == 100 and job.stats.transfers == 2 and job.stats.errors == 0
    assert job.completed_at is not None and job.source.remote == "src"
    assert all(0 <= progress <= 100 for _status, progress in seen)
    assert (allowed / "dst" / "docs" / "report.txt").read_text() == "quarterly figures\n"
    logs = api("v1_jobs_logs_retrieve").sync(created.id, client=client)
    assert isinstance(logs, m.JobLogPage) and any("Copied" in line.message for line in logs.results)
    listed = api("v1_jobs_list").sync(client=client)
    assert isinstance(listed, m.JobPage) and [j.id for j in listed.results] == [created.id]
