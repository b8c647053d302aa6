"""What audit needs to know about organizations, which sit above it.

Audit records and reads entries per org, but orgs is the higher layer (its
services record through audit.services), so audit never imports it. Instead
orgs provides these two in ``OrgsConfig.ready()``:

- ``readable_org_ids(user=, acting_for=None)``: the orgs whose entries a
  non-staff user may read, decided by orgs' one permission check (proxies,
  membership expiry and all);
- ``org_of(obj)``: the organization a model instance belongs to (itself, for
  an organization), or None: the org an admin change is recorded under.
"""

from __future__ import annotations

from core.hooks import Hook

readable_org_ids = Hook("the orgs whose audit entries a user may read", provider="orgs")
org_of = Hook("the organization an object belongs to", provider="orgs")
