"""Recording an audit entry from an app below audit (accounts).

The entry is written in the caller's transaction, exactly as
``audit.services.audit_record`` writes it: audit registers that function in
its ``AuditConfig.ready``. With no recorder registered, ``record`` raises
rather than let a change go unrecorded.
"""

from __future__ import annotations

from core.hooks import Hook

recorder = Hook("the audit recorder", provider="audit")


def record(*, action: str, **fields):
    """Append one audit entry in the caller's transaction; ``fields`` as
    ``audit.services.audit_record`` takes them (actor, acting_for, org,
    resource_type, resource_id, result, level, details)."""
    return recorder(action=action, **fields)
