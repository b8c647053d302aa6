"""The realtime app sits at the bottom of the layers (architecture.md): the
apps above plug their frames, rooms and logins into its registry, and it
imports none of them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from realtime import registry

ROOT = Path(__file__).resolve().parents[2]
ABOVE_REALTIME = {"accounts", "orgs", "audit", "chatroom", "jobs"}


def _imports(package: str):
    """(module path, imported top-level package, at module level?) for every
    import in a package's modules."""
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        top = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                yield path.relative_to(ROOT), name.split(".")[0], id(node) in top


def test_realtime_imports_no_app_above_it_and_nothing_inside_functions():
    found = list(_imports("realtime"))
    assert [(str(p), name) for p, name, _ in found if name in ABOVE_REALTIME] == []
    assert [str(p) for p, _, at_top in found if not at_top] == []


def test_accounts_does_not_import_chatroom():
    assert [str(p) for p, name, _ in _imports("accounts") if name == "chatroom"] == []


def test_the_apps_registered_their_frames_rooms_and_logins():
    for frame_type in ("message.send", "message.edit", "message.delete", "reaction.add", "reaction.remove",
                       "read", "typing", "job.subscribe"):
        assert registry.frame_handler(frame_type) is not None, frame_type
    assert registry.frame_handler("message.send").write and not registry.frame_handler("typing").write
    assert registry.rooms() != registry.Rooms()
    assert registry.logins() != registry.Logins()
    assert registry.online_time() != registry.OnlineTime()


def test_a_frame_type_has_one_handler():
    handler = registry.frame_handler("typing").handle
    registry.register_frame("typing", handler)  # the same again (a second ready()): fine
    with pytest.raises(ImproperlyConfigured):
        registry.register_frame("typing", lambda user, frame: None)
    with pytest.raises(ImproperlyConfigured):
        registry.register_frame("resume", lambda user, frame: None)  # the socket's own
    with pytest.raises(ImproperlyConfigured):
        registry.register_rooms(registry.Rooms())
