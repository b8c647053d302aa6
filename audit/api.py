"""The audit JSON API (v1): GET /api/v1/audit/ and GET /api/v1/audit/verify."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.permissions import HasRequiredScopes
from audit import serializers as s
from audit.selectors import audit_entries, audit_org_ids
from audit.verification import verify
from config.api import paginate
from config.serializers import PAGE_PARAMETERS, page_of, validated
from core.errors import PermissionDenied, parse_uuid
from core.replicas import lag_tolerant


def _acting_for(request) -> User | None:
    """The principal named by X-Act-As (api.md, "Acting for"). Whether the
    caller may read as them is the permission check's call (audit_org_ids)."""
    raw = request.headers.get("X-Act-As", "").strip()
    if not raw:
        return None
    principal = User.objects.filter(pk=parse_uuid(raw, "X-Act-As")).first()
    if principal is None:
        raise PermissionDenied(_("You have no active proxy for that user."))
    return principal


class IsStaff(IsAuthenticated):
    def has_permission(self, request, view):
        if not super().has_permission(request, view):
            return False
        if not request.user.is_staff:
            raise PermissionDenied(_("Staff only."))
        return True


class AuditListView(APIView):
    # An API key needs the audit:read scope (enforced by HasRequiredScopes,
    # accounts/permissions.py); who sees which entries is audit_org_ids's rule.
    required_scopes = {"GET": "audit:read"}

    @extend_schema(
        parameters=[s.AuditListInput, *PAGE_PARAMETERS,
                    OpenApiParameter("X-Act-As", OpenApiTypes.UUID, OpenApiParameter.HEADER,
                                     description="Read as this principal, through your proxy in their orgs")],
        responses=page_of(s.AuditLogSerializer),
    )
    @lag_tolerant
    def get(self, request):
        params = validated(s.AuditListInput, request.query_params)
        user, acting_for = request.user, _acting_for(request)
        org_id = params.get("org_id")
        readable = audit_org_ids(user=user, acting_for=acting_for)  # None: every org (staff)
        if readable is not None and (not readable or (org_id and org_id not in readable)):
            raise PermissionDenied(_("Only staff and the organization's admins can read its audit log."))
        queryset = audit_entries(
            user=user, acting_for=acting_for, org_id=org_id, actor_id=params.get("actor_id"), action=params["action"],
            result=params["result"], since=params.get("since"), until=params.get("until"),
        )
        return paginate(self, request, queryset, s.AuditLogSerializer)


class AuditVerifyView(APIView):
    permission_classes = [IsStaff, HasRequiredScopes]
    required_scopes = {"GET": "audit:read"}

    @extend_schema(parameters=[s.AuditRangeInput], responses=s.AuditVerifySerializer)
    def get(self, request):
        params = validated(s.AuditRangeInput, request.query_params)
        result = verify(since=params.get("since"), until=params.get("until"))
        return Response(s.AuditVerifySerializer(result.as_dict()).data)
