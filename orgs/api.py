"""The orgs JSON API (api.md, "Organizations"). Thin: validate input, call one
selector or service, render.

- Every org-scoped view first resolves the org for the caller: someone with
  no access gets 404 not_found on every endpoint, exactly like a missing org.
- `X-Act-As: <principal user id>` makes the request run for that principal
  through the caller's proxy: allowed only inside the proxy's window and
  permissions, and audit entries record both users.
- API keys need the `orgs:read` scope for GET and `orgs:write` for writes
  (accounts.permissions.HasRequiredScopes reads `required_scopes`).
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from config.api import paginate
from config.serializers import PAGE_PARAMETERS, page_of, validated
from core.errors import PermissionDenied, ValidationFailed, parse_uuid
from orgs import selectors, services
from orgs import serializers as s
from orgs.models import Role
from orgs.permissions import acting_for_principal, check_permission

ACT_AS_HEADER = "X-Act-As"
ACT_AS_PARAM = OpenApiParameter(
    ACT_AS_HEADER,
    OpenApiTypes.UUID,
    OpenApiParameter.HEADER,
    required=False,
    description="Act for this principal through your proxy in this org. The audit entry records both users.",
)


def resolve_acting_for(request, org) -> User | None:
    """The principal named by X-Act-As, if the caller holds an active proxy for them."""
    raw = request.headers.get(ACT_AS_HEADER, "").strip()
    if not raw:
        return None
    return acting_for_principal(request.user, org, parse_uuid(raw, ACT_AS_HEADER))


NO_SUCH = {"user": gettext_lazy("No such user."), "department": gettext_lazy("No such department."),
           "role": gettext_lazy("No such role."), "position": gettext_lazy("No such position.")}


def _ref(queryset, value, field: str, label: str):
    """A referenced row by id within the given scope, or a validation error."""
    if value is None:
        return None
    obj = queryset.filter(pk=value).first()
    if obj is None:
        raise ValidationFailed(fields={field: [str(NO_SUCH[label])]})
    return obj


class OrgsAPIView(APIView):
    required_scopes = {
        "GET": "orgs:read",
        "POST": "orgs:write",
        "PATCH": "orgs:write",
        "PUT": "orgs:write",
        "DELETE": "orgs:write",
    }

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authentication, scopes, throttling first
        self.org = None
        self.acting_for = None
        if "org_id" in kwargs:
            self.org = self.resolve_org(request, kwargs["org_id"])
            self.acting_for = resolve_acting_for(request, self.org)

    def resolve_org(self, request, org_id):
        return selectors.org_get(actor=request.user, org_id=org_id)

    @property
    def who(self) -> dict:
        """The actor keywords every service and selector takes."""
        return {"actor": self.request.user, "acting_for": self.acting_for}


# --------------------------------------------------------------------------- organizations


class OrgListView(OrgsAPIView):
    @extend_schema(operation_id="orgs_list", responses=page_of(s.OrgSerializer), parameters=PAGE_PARAMETERS)
    def get(self, request):
        return paginate(self, request, selectors.orgs_for_user(user=request.user), s.OrgSerializer)

    @extend_schema(request=s.OrgCreateInput, responses={201: s.OrgSerializer})
    def post(self, request):
        data = validated(s.OrgCreateInput, request.data)
        org = services.org_create(owner=request.user, **data)
        return Response(s.OrgSerializer(org).data, status=201)


class OrgDetailView(OrgsAPIView):
    @extend_schema(responses=s.OrgSerializer, parameters=[ACT_AS_PARAM])
    def get(self, request, org_id):
        return Response(s.OrgSerializer(self.org).data)

    @extend_schema(request=s.OrgUpdateInput, responses=s.OrgSerializer, parameters=[ACT_AS_PARAM])
    def patch(self, request, org_id):
        data = validated(s.OrgUpdateInput, request.data, partial=True)
        org = services.org_update(org=self.org, **self.who, **data)
        return Response(s.OrgSerializer(org).data)


class OrgTransferView(OrgsAPIView):
    """Addition to api.md: POST /orgs/{org_id}/transfer-ownership {user_id}."""

    @extend_schema(request=s.TransferInput, responses=s.OrgSerializer)
    def post(self, request, org_id):
        data = validated(s.TransferInput, request.data)
        if self.acting_for is not None:
            raise PermissionDenied(_("Ownership cannot be transferred through a proxy."))
        new_owner = _ref(User.objects.all(), data["user_id"], "user_id", "user")
        org = services.org_transfer_ownership(actor=request.user, org=self.org, new_owner=new_owner)
        return Response(s.OrgSerializer(org).data)


# --------------------------------------------------------------------------- departments


def _department_kwargs(view, data: dict) -> dict:
    kwargs = {k: data[k] for k in ("name", "handle", "description") if k in data}
    if "parent_id" in data:
        kwargs["parent"] = _ref(view.org.departments.all(), data["parent_id"], "parent_id", "department")
    if "manager_id" in data:
        kwargs["manager"] = _ref(User.objects.all(), data["manager_id"], "manager_id", "user")
    return kwargs


class DepartmentListView(OrgsAPIView):
    @extend_schema(
        operation_id="orgs_departments_list", responses=page_of(s.DepartmentNodeSerializer),
        parameters=[ACT_AS_PARAM, *PAGE_PARAMETERS, s.DepartmentListInput],
        description="With `?tree=1`, the whole forest in one page, each department with its `children`.",
    )
    def get(self, request, org_id):
        if validated(s.DepartmentListInput, request.query_params)["tree"]:
            tree = selectors.department_tree(org=self.org, **self.who)
            return Response(page_of(s.DepartmentNodeSerializer)({"results": tree, "next": None}).data)
        return paginate(self, request, selectors.departments_for(org=self.org, **self.who), s.DepartmentNodeSerializer)

    @extend_schema(request=s.DepartmentInput, responses={201: s.DepartmentSerializer}, parameters=[ACT_AS_PARAM])
    def post(self, request, org_id):
        data = validated(s.DepartmentInput, request.data)
        department = services.department_create(org=self.org, **self.who, **_department_kwargs(self, data))
        return Response(s.DepartmentSerializer(department).data, status=201)


class DepartmentDetailView(OrgsAPIView):
    def _get(self, pk):
        return selectors.department_get(org=self.org, department_id=pk, **self.who)

    @extend_schema(responses=s.DepartmentSerializer, parameters=[ACT_AS_PARAM])
    def get(self, request, org_id, pk):
        return Response(s.DepartmentSerializer(self._get(pk)).data)

    @extend_schema(request=s.DepartmentInput, responses=s.DepartmentSerializer, parameters=[ACT_AS_PARAM])
    def patch(self, request, org_id, pk):
        department = self._get(pk)
        data = validated(s.DepartmentInput, request.data, partial=True)
        department = services.department_update(
            department=department, **self.who, **_department_kwargs(self, data)
        )
        return Response(s.DepartmentSerializer(department).data)

    @extend_schema(responses={204: None}, parameters=[ACT_AS_PARAM])
    def delete(self, request, org_id, pk):
        services.department_delete(department=self._get(pk), **self.who)
        return Response(status=204)


# --------------------------------------------------------------------------- positions


class PositionListView(OrgsAPIView):
    @extend_schema(
        operation_id="orgs_positions_list",
        responses=page_of(s.PositionSerializer),
        parameters=[ACT_AS_PARAM, *PAGE_PARAMETERS],
    )
    def get(self, request, org_id):
        return paginate(self, request, selectors.positions_for(org=self.org, **self.who), s.PositionSerializer)

    @extend_schema(request=s.PositionInput, responses={201: s.PositionSerializer}, parameters=[ACT_AS_PARAM])
    def post(self, request, org_id):
        data = validated(s.PositionInput, request.data)
        position = services.position_create(org=self.org, **self.who, **data)
        return Response(s.PositionSerializer(position).data, status=201)


class PositionDetailView(OrgsAPIView):
    """Addition to api.md: GET, PATCH and DELETE one position."""

    def _get(self, pk):
        return selectors.position_get(org=self.org, position_id=pk, **self.who)

    @extend_schema(responses=s.PositionSerializer, parameters=[ACT_AS_PARAM])
    def get(self, request, org_id, pk):
        return Response(s.PositionSerializer(self._get(pk)).data)

    @extend_schema(request=s.PositionInput, responses=s.PositionSerializer, parameters=[ACT_AS_PARAM])
    def patch(self, request, org_id, pk):
        position = self._get(pk)
        data = validated(s.PositionInput, request.data, partial=True)
        return Response(s.PositionSerializer(services.position_update(position=position, **self.who, **data)).data)

    @extend_schema(responses={204: None}, parameters=[ACT_AS_PARAM])
    def delete(self, request, org_id, pk):
        services.position_delete(position=self._get(pk), **self.who)
        return Response(status=204)


# --------------------------------------------------------------------------- roles


class RoleListView(OrgsAPIView):
    @extend_schema(
        operation_id="orgs_roles_list", responses=page_of(s.RoleSerializer), parameters=[ACT_AS_PARAM, *PAGE_PARAMETERS]
    )
    def get(self, request, org_id):
        return paginate(self, request, selectors.roles_for(org=self.org, **self.who), s.RoleSerializer)

    @extend_schema(request=s.RoleInput, responses={201: s.RoleSerializer}, parameters=[ACT_AS_PARAM])
    def post(self, request, org_id):
        data = validated(s.RoleInput, request.data)
        role = services.role_create(org=self.org, **self.who, **data)
        return Response(s.RoleSerializer(role).data, status=201)


class RoleDetailView(OrgsAPIView):
    """Addition to api.md: GET, PATCH and DELETE one org role (system roles are read-only)."""

    def _get(self, pk):
        return selectors.role_get(org=self.org, role_id=pk, **self.who)

    @extend_schema(responses=s.RoleSerializer, parameters=[ACT_AS_PARAM])
    def get(self, request, org_id, pk):
        return Response(s.RoleSerializer(self._get(pk)).data)

    @extend_schema(request=s.RoleInput, responses=s.RoleSerializer, parameters=[ACT_AS_PARAM])
    def patch(self, request, org_id, pk):
        role = self._get(pk)
        data = validated(s.RoleInput, request.data, partial=True)
        return Response(s.RoleSerializer(services.role_update(role=role, **self.who, **data)).data)

    @extend_schema(responses={204: None}, parameters=[ACT_AS_PARAM])
    def delete(self, request, org_id, pk):
        services.role_delete(role=self._get(pk), **self.who)
        return Response(status=204)


# --------------------------------------------------------------------------- members


def _member_refs(view, data: dict) -> dict:
    kwargs = {}
    if "role_id" in data:
        kwargs["role"] = _ref(Role.objects.available_to(view.org), data["role_id"], "role_id", "role")
    if "department_id" in data:
        kwargs["department"] = _ref(view.org.departments.all(), data["department_id"], "department_id", "department")
    if "position_id" in data:
        kwargs["position"] = _ref(view.org.positions.all(), data["position_id"], "position_id", "position")
    for key in ("expires_at", "is_active"):
        if key in data:
            kwargs[key] = data[key]
    return kwargs


class MemberListView(OrgsAPIView):
    @extend_schema(
        operation_id="orgs_members_list", responses=page_of(s.MemberSerializer),
        parameters=[
            ACT_AS_PARAM,
            *PAGE_PARAMETERS,
            OpenApiParameter("q", str, description="name, username, department or position"),
        ],
    )
    def get(self, request, org_id):
        qs = selectors.members_for(org=self.org, q=request.query_params.get("q", ""), **self.who)
        return paginate(self, request, qs, s.MemberSerializer, ordering=("assigned_at", "id"))

    @extend_schema(request=s.MemberInput, responses={201: s.MemberSerializer}, parameters=[ACT_AS_PARAM])
    def post(self, request, org_id):
        data = validated(s.MemberInput, request.data)
        user = _ref(User.objects.all(), data["user_id"], "user_id", "user")
        membership = services.member_add(org=self.org, user=user, **self.who, **_member_refs(self, data))
        return Response(s.MemberSerializer(membership).data, status=201)


class MemberDetailView(OrgsAPIView):
    def _get(self, user_id):
        return selectors.member_get(org=self.org, user_id=user_id, **self.who)

    @extend_schema(responses=s.MemberSerializer, parameters=[ACT_AS_PARAM])
    def get(self, request, org_id, user_id):
        return Response(s.MemberSerializer(self._get(user_id)).data)

    @extend_schema(request=s.MemberUpdateInput, responses=s.MemberSerializer, parameters=[ACT_AS_PARAM])
    def patch(self, request, org_id, user_id):
        membership = self._get(user_id)
        data = validated(s.MemberUpdateInput, request.data, partial=True)
        membership = services.member_update(membership=membership, **self.who, **_member_refs(self, data))
        return Response(s.MemberSerializer(membership).data)

    @extend_schema(responses={204: None}, parameters=[ACT_AS_PARAM])
    def delete(self, request, org_id, user_id):
        services.member_remove(membership=self._get(user_id), **self.who)
        return Response(status=204)


# --------------------------------------------------------------------------- proxies


class ProxyListView(OrgsAPIView):
    @extend_schema(
        operation_id="orgs_proxies_list", responses=page_of(s.ProxySerializer), parameters=[ACT_AS_PARAM, *PAGE_PARAMETERS]
    )
    def get(self, request, org_id):
        return paginate(self, request, selectors.proxies_for(org=self.org, **self.who), s.ProxySerializer)

    @extend_schema(request=s.ProxyInput, responses={201: s.ProxySerializer}, parameters=[ACT_AS_PARAM])
    def post(self, request, org_id):
        data = validated(s.ProxyInput, request.data)
        proxy = services.proxy_create(
            org=self.org,
            principal=_ref(User.objects.all(), data["principal_id"], "principal_id", "user"),
            agent=_ref(User.objects.all(), data["agent_id"], "agent_id", "user"),
            permissions=data["permissions"],
            starts_at=data.get("starts_at"),
            expires_at=data.get("expires_at"),
            **self.who,
        )
        return Response(s.ProxySerializer(proxy).data, status=201)


class ProxyDetailView(OrgsAPIView):
    def _get(self, pk):
        return selectors.proxy_get(org=self.org, proxy_id=pk, **self.who)

    @extend_schema(responses=s.ProxySerializer, parameters=[ACT_AS_PARAM])
    def get(self, request, org_id, pk):
        return Response(s.ProxySerializer(self._get(pk)).data)

    @extend_schema(responses={204: None}, parameters=[ACT_AS_PARAM])
    def delete(self, request, org_id, pk):
        services.proxy_delete(proxy=self._get(pk), **self.who)
        return Response(status=204)


# --------------------------------------------------------------------------- permission check


class PermissionCheckView(OrgsAPIView):
    """About the caller; with X-Act-As about what the caller may do for that
    principal through their proxy (via "proxy"); with `as_user` about that
    user's own grant, which takes the members.write power
    (orgs.permissions.check_permission). Any active member may ask; a
    non-member gets 404 as on every org endpoint."""

    def resolve_org(self, request, org_id):
        return selectors.org_for_member(actor=request.user, org_id=org_id)

    @extend_schema(
        parameters=[
            ACT_AS_PARAM,
            OpenApiParameter("resource", str, required=True),
            OpenApiParameter("action", str, required=True),
            OpenApiParameter("as_user", OpenApiTypes.UUID,
                             description="ask about this user's own grant (needs members.write)"),
        ],
        responses=s.PermissionCheckSerializer,
    )
    def get(self, request, org_id):
        data = validated(s.PermissionCheckInput, request.query_params)
        about = None
        if data.get("as_user"):
            about = User.objects.filter(pk=data["as_user"]).first()
            if about is None:
                raise ValidationFailed(fields={"as_user": [_("No such user.")]})
        result = check_permission(request.user, self.org, data["resource"], data["action"], self.acting_for, about=about)
        return Response(s.PermissionCheckSerializer(result).data)
