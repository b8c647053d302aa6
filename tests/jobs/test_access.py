"""Path safety, remote validation, secrets at rest, and permission rules."""

import json

import pytest
from django.db import connection

from core.errors import NotFound, PermissionDenied, ValidationFailed
from jobs import access, command, rclone, runner, services
from jobs.models import Remote

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("bad", ["../etc", "a/../../b", "a\\b", "a\x00b", "a\nb", "x/\x7f", "/..", "a/.."])
def test_traversal_and_control_characters_refused(bad):
    with pytest.raises(ValidationFailed):
        access.canonical_path(bad)


def test_paths_are_canonical():
    assert access.canonical_path("") == "/"
    assert access.canonical_path("a//b/./c/") == "/a/b/c"


@pytest.mark.parametrize("name", ["x:y", "a/b", "-flag", "a b", "", "x" * 65, "é", "a\nb", "../x"])
def test_remote_name_injection_refused(power, roots, name):
    with pytest.raises(ValidationFailed):
        services.remote_create(actor=power, name=name, type="memory", options={})
    assert not Remote.objects.exists()


def test_job_with_injected_remote_name_refused(power, make_local):
    make_local("src")
    with pytest.raises(ValidationFailed):
        services.job_submit(actor=power, type="delete", source={"remote": "src:/etc", "path": "/"})
    with pytest.raises(ValidationFailed):
        services.job_submit(actor=power, type="delete", source={"remote": "src", "path": "../../etc"})


def test_remote_string_is_name_colon_relative_path(power, make_local):
    remote, _ = make_local("src")
    assert access.remote_string(remote, "/a/b") == "src:a/b"
    assert access.remote_string(remote, "/") == "src:"


def test_local_remote_outside_roots_refused(power, roots, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (roots / "link").symlink_to(outside)  # a symlink inside the roots pointing out
    for root in [str(outside), "/etc", str(roots / "link"), "relative/dir", str(roots) + "/../outside"]:
        with pytest.raises(ValidationFailed) as exc:
            services.remote_create(actor=power, name="loc", type="local", options={"root": root})
        assert "options.root" in exc.value.fields
    assert not Remote.objects.exists()


@pytest.mark.parametrize("options", [
    {"url": "http://x/", "bearer_token_command": "cat /etc/passwd"},
    {"host": "h", "ssh": "sh -c 'id'"},
    {"host": "h", "server_command": "/bin/sh"},
    {"url": "http://x/", "pass": "a\n[evil]\ntype = local"},
    {"url": "http://x/", "made_up_option": "1"},
])
def test_program_running_unknown_and_injecting_options_refused(power, roots, options):
    remote_type = "sftp" if "host" in options else "webdav"
    with pytest.raises(ValidationFailed):
        services.remote_create(actor=power, name="r1", type=remote_type, options=options)


def test_only_staff_and_power_users_create_remotes(make_user, roots):
    with pytest.raises(PermissionDenied):
        services.remote_create(actor=make_user("plain"), name="m", type="memory", options={})
    staff = make_user("staffer", is_staff=True)
    assert services.remote_create(actor=staff, name="m", type="memory", options={}).name == "m"


def test_secret_options_encrypted_at_rest_and_never_presented(power, roots):
    from jobs.presenters import remote_dict

    remote = services.remote_create(actor=power, name="dav", type="webdav",
                                    options={"url": "http://h/", "user": "u", "pass": "hunter2-secret"})
    with connection.cursor() as cursor:
        cursor.execute("SELECT options::text, secret_options FROM remotes WHERE id = %s", [remote.id])
        row = cursor.fetchone()
    assert "hunter2-secret" not in row[0] and "hunter2-secret" not in row[1]
    assert remote.options == {"url": "http://h/", "user": "u"}
    shown = json.dumps(remote_dict(remote))
    assert "hunter2-secret" not in shown and '"pass"' in shown  # the name only, under secret_options_set
    # The audit entry names the secret option but holds no value.
    from audit.models import AuditLog

    entry = AuditLog.objects.get(action="remote.created", resource_id=str(remote.id))
    assert "hunter2-secret" not in json.dumps(entry.details)
    # rclone gets it obscured in a 0600 file that is removed afterwards.
    with rclone.RunDir([remote]) as run_dir:
        text = run_dir.config.read_text()
        assert oct(run_dir.config.stat().st_mode & 0o777) == "0o600"
        assert "hunter2-secret" not in text and "pass = " in text
        path = run_dir.path
    assert not path.exists()


def test_redactor_removes_secrets_from_log_lines():
    redact = runner.Redactor(["s3cret-value"])
    _, entry = runner.parse_line('{"level":"error","msg":"auth s3cret-value failed","object":"s3cret-value/x"}', redact)
    assert "s3cret" not in json.dumps(entry, default=str)
    assert entry["level"] == "error"


@pytest.mark.parametrize("options", [{"flags": "--config /etc"}, {"bwlimit": "10M --delete"}, {"max_delete": -1},
                                     {"include": ["a\nb"]}, {"dry_run": "yes"},
                                     {"verbose": 1}])
def test_job_options_are_an_allow_list(options):
    with pytest.raises(ValidationFailed):
        command.validate_options(options)


def test_rules_deny_wins_and_apply_to_subtrees():
    acc = access.Access(permissions={"read", "write"}, rules=[
        {"path": "/private/*", "allow": [], "deny": ["read"]},
        {"path": "/private/open", "allow": ["read"], "deny": []},
        {"path": "/public", "allow": ["delete"], "deny": []},
    ])
    assert acc.allows("read", "/docs/x")
    assert not acc.allows("read", "/private/a/b/c")
    assert not acc.allows("read", "/private/open")  # deny wins over an allow
    assert acc.allows("read", "/private")  # the glob needs a child
    assert acc.allows("delete", "/public/x") and not acc.allows("delete", "/docs")
    assert acc.deny_globs_below("read", "/") == ["/private/*"]
    assert acc.deny_globs_below("read", "/private") == ["/*"]
    assert acc.deny_globs_below("read", "/docs") == []


def test_filter_file_puts_denies_before_includes():
    lines = command.filter_lines(["/secret"], {"include": ["*.txt"], "exclude": ["*.tmp"]})
    assert lines == ["- /secret", "- /secret/**", "- *.tmp", "+ *.txt", "- **"]


def test_permissions_checked_per_side(power, make_user, make_local):
    user = make_user("bob")
    src, _ = make_local("src")
    dst, _ = make_local("dst")
    with pytest.raises(NotFound):  # no grant at all: the remote is invisible
        services.job_submit(actor=user, type="copy", source={"remote": "src", "path": "/"},
                            destination={"remote": "dst", "path": "/"})
    services.permission_grant(actor=power, remote=src, user=user, permissions=["read"])
    services.permission_grant(actor=power, remote=dst, user=user, permissions=["read", "write"])
    job = services.job_submit(actor=user, type="copy", source={"remote": "src", "path": "/"},
                              destination={"remote": "dst", "path": "/"})
    assert job.status == "queued"
    # move deletes from the source, sync from the destination: both need delete there.
    with pytest.raises(PermissionDenied):
        services.job_submit(actor=user, type="move", source={"remote": "src", "path": "/"},
                            destination={"remote": "dst", "path": "/"})
    with pytest.raises(PermissionDenied):
        services.job_submit(actor=user, type="sync", source={"remote": "src", "path": "/"},
                            destination={"remote": "dst", "path": "/"})
    services.permission_grant(actor=power, remote=dst, user=user, permissions=["read", "write"],
                              path_rules=[{"path": "/mirror", "allow": ["delete"]}])
    job = services.job_submit(actor=user, type="sync", source={"remote": "src", "path": "/"},
                              destination={"remote": "dst", "path": "/mirror"})
    assert job.type == "sync"
    with pytest.raises(PermissionDenied):  # granting is for remote admins only
        services.permission_grant(actor=user, remote=dst, user=user, permissions=["admin"])


def test_grant_to_an_org_role_reaches_its_members(power, make_user, make_local):
    from orgs.models import Membership, Organization, Role

    member = make_user("carol")
    org = Organization.objects.create(name="acme", owner=power)
    role = Role.objects.create(org=org, name="movers", permissions={})
    Membership.objects.create(user=member, org=org, role=role)
    src, _ = make_local("src")
    with pytest.raises(NotFound):
        access.get_remote(member, "src")
    services.permission_grant(actor=power, remote=src, role=role, permissions=["read"])
    _, acc = access.get_remote(member, "src")
    assert acc.allows("read", "/x") and not acc.allows("write", "/x")
    Membership.objects.filter(user=member).update(is_active=False)
    with pytest.raises(NotFound):
        access.get_remote(member, "src")


def test_secret_key_rotation_keeps_old_secrets_readable(settings):
    from cryptography.fernet import Fernet

    from jobs.secrets import decrypt_options, encrypt_options

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.REMOTE_SECRETS_KEYS = [old]
    token = encrypt_options({"pass": "rotating-secret"})
    settings.REMOTE_SECRETS_KEYS = [new, old]  # newest first
    assert decrypt_options(token) == {"pass": "rotating-secret"}
    settings.REMOTE_SECRETS_KEYS = [new]
    with pytest.raises(RuntimeError):
        decrypt_options(token)
