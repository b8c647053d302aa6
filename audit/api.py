"""The audit JSON API (v1): GET /api/v1/audit/ and GET /api/v1/audit/verify."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from accounts.permissions import HasRequiredScopes
from audit.models import AuditLog
from audit.selectors import audit_entries, audit_org_ids
from audit.verification import parse_when, verify
from config.api import CursorPage
from config.errors import PermissionDenied, ValidationFailed, parse_uuid


class AuditLogSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditLog
        fields = [
            "id", "created_at", "actor_id", "actor_username", "acting_for_id", "acting_for_username",
            "org_id", "org_name", "action", "resource_type", "resource_id", "result", "level",
            "request_id", "ip", "user_agent", "details", "prev_hash", "hash", "signature", "chain_version",
        ]


def _acting_for(request) -> User | None:
    """The principal named by X-Act-As (api.md, "Acting for"). Whether the
    caller may read as them is the permission check's call (audit_org_ids)."""
    raw = request.headers.get("X-Act-As", "").strip()
    if not raw:
        return None
    principal = User.objects.filter(pk=parse_uuid(raw, "X-Act-As")).first()
    if principal is None:
        raise PermissionDenied("You have no active proxy for that user.")
    return principal


def _when(request, name: str, *, end_of_day: bool = False):
    try:
        return parse_when(request.query_params.get(name), end_of_day=end_of_day)
    except ValueError:
        raise ValidationFailed(fields={name: ["Must be an ISO 8601 date or date-time."]}) from None


class IsStaff(IsAuthenticated):
    def has_permission(self, request, view):
        if not super().has_permission(request, view):
            return False
        if not request.user.is_staff:
            raise PermissionDenied("Staff only.")
        return True


class AuditListView(APIView):
    # An API key needs the audit:read scope (enforced by HasRequiredScopes,
    # accounts/permissions.py); who sees which entries is audit_org_ids's rule.
    required_scopes = {"GET": "audit:read"}

    @extend_schema(
        parameters=[
            OpenApiParameter("org_id", str), OpenApiParameter("actor_id", str), OpenApiParameter("action", str),
            OpenApiParameter("result", str, enum=AuditLog.Result.values),
            OpenApiParameter("since", str, description="ISO 8601, UTC unless an offset is given"),
            OpenApiParameter("until", str, description="ISO 8601, inclusive"),
            OpenApiParameter("cursor", str), OpenApiParameter("limit", int),
            OpenApiParameter("X-Act-As", OpenApiTypes.UUID, OpenApiParameter.HEADER,
                             description="Read as this principal, through your proxy in their orgs"),
        ],
        responses=inline_serializer("AuditLogPage", fields={
            "results": AuditLogSerializer(many=True), "next": serializers.CharField(allow_null=True)}),
    )
    def get(self, request):
        params = request.query_params
        result = params.get("result", "")
        if result and result not in AuditLog.Result.values:
            raise ValidationFailed(fields={"result": [f"One of {', '.join(AuditLog.Result.values)}."]})
        user, acting_for = request.user, _acting_for(request)
        org_id = parse_uuid(params.get("org_id"), "org_id", optional=True)
        readable = audit_org_ids(user=user, acting_for=acting_for)  # None: every org (staff)
        if readable is not None and (not readable or (org_id and org_id not in readable)):
            raise PermissionDenied("Only staff and the organization's admins can read its audit log.")
        queryset = audit_entries(
            user=user, acting_for=acting_for, org_id=org_id,
            actor_id=parse_uuid(params.get("actor_id"), "actor_id", optional=True),
            action=params.get("action", "").strip(), result=result,
            since=_when(request, "since"), until=_when(request, "until", end_of_day=True),
        )
        paginator = CursorPage()
        page = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response(AuditLogSerializer(page, many=True).data)


class AuditVerifyView(APIView):
    permission_classes = [IsStaff, HasRequiredScopes]
    required_scopes = {"GET": "audit:read"}

    @extend_schema(
        parameters=[OpenApiParameter("since", str), OpenApiParameter("until", str)],
        responses=inline_serializer("AuditVerify", {
            "ok": serializers.BooleanField(),
            "checked": serializers.IntegerField(),
            "first_broken": inline_serializer("AuditBroken", {
                "id": serializers.CharField(), "created_at": serializers.CharField(),
                "reason": serializers.CharField(),
            }, allow_null=True),
        }),
    )
    def get(self, request):
        result = verify(since=_when(request, "since"), until=_when(request, "until", end_of_day=True))
        return Response(result.as_dict())
