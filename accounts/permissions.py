"""Scope checks for API keys.

A view declares what a key needs per method::

    class RoomMessages(APIView):
        required_scopes = {"GET": "chat:read", "POST": "chat:write"}

A key may call a method only when it holds that scope (a tuple means all of
them); a view or method without a declared scope is closed to keys. Requests
made with a device token or the session cookie are not affected. The owner's
own permission checks (in the services) still apply on top.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy
from rest_framework.permissions import BasePermission

from accounts.models import ApiKey


def required_scopes_for(view, method: str) -> tuple[str, ...] | None:
    declared = getattr(view, "required_scopes", None) or {}
    scope = declared.get(method)
    if scope is None and method in ("HEAD", "OPTIONS"):
        scope = declared.get("GET")
    if scope is None:
        return None
    return (scope,) if isinstance(scope, str) else tuple(scope)


class HasRequiredScopes(BasePermission):
    message = gettext_lazy("This API key does not have the scope this call needs.")

    def has_permission(self, request, view):
        api_key = request.auth
        if not isinstance(api_key, ApiKey):
            return True
        needed = required_scopes_for(view, request.method)
        if needed is None:
            return False
        return set(needed) <= set(api_key.scopes)
