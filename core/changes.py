"""The one partial-update convention, and the one shape of "what changed".

A service that updates some fields of a row takes each field as a keyword
argument defaulting to ``UNSET``: ``UNSET`` means "leave it alone", any other
value (``None`` included, where the field allows it) is the new value. It
applies them with ``apply_changes``, which returns the audit detail shape used
everywhere: ``{field: {"old": ..., "new": ...}}`` for the fields whose value
really changed (an empty dict when nothing did).
"""
from __future__ import annotations

from typing import Any


class _Unset:
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Any = _Unset()


def given(**fields) -> dict:
    """The keyword arguments that are not UNSET."""
    return {name: value for name, value in fields.items() if value is not UNSET}


def diff(old: Any, new: Any) -> dict:
    return {"old": old, "new": new}


def apply_changes(instance, fields: dict, *, render: dict | None = None) -> dict:
    """Set every non-UNSET value of ``fields`` on ``instance`` and return
    ``{field: {"old", "new"}}`` for those that differ. ``render`` maps a
    field name to a function giving what the audit detail stores for it; by
    default a model instance is stored as its pk and anything else as is."""
    changed = {}
    for name, value in fields.items():
        if value is UNSET:
            continue
        old = getattr(instance, name)
        if old == value:
            continue
        setattr(instance, name, value)
        show = (render or {}).get(name, _plain)
        changed[name] = diff(show(old), show(value))
    return changed


def _plain(value):
    pk = getattr(value, "pk", None)
    return str(pk) if pk is not None and hasattr(value, "_meta") else value


def snapshot(instance, names, *, render: dict | None = None) -> dict:
    """Some fields of a row as the audit trail stores them (as
    ``apply_changes`` renders them): a relation as its key, without loading it."""
    out = {}
    for name in names:
        field = instance._meta.get_field(name)
        if field.is_relation:
            key = getattr(instance, field.attname)
            out[name] = str(key) if key is not None else None
        else:
            out[name] = (render or {}).get(name, _plain)(getattr(instance, name))
    return out


def created(after: dict, before: dict | None = None) -> dict:
    """A new row (or one renewed in place: ``before`` is what it held) as
    what changed: every field, from what it was (None) to what it is."""
    before = before or {}
    return {name: diff(before.get(name), value) for name, value in after.items()}


def removed(before: dict) -> dict:
    """A deleted row as what changed: every field, from what it was to None."""
    return {name: diff(value, None) for name, value in before.items()}
