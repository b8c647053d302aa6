"""Shapes of the orgs API (api.md, "Organizations"): ``...Input`` checks a
request (types only; the rules live in the services), ``...Serializer``
renders a response (config.serializers)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.serializers import UserRefSerializer
from config.serializers import QueryFlag, json_shape
from orgs.models import Department, Membership, Organization, Position, Proxy, Role

OrgSettings = json_shape("OrgSettings", "The organization's own settings, a JSON object its admins define.")
Permissions = json_shape(
    "Permissions",
    '{"<resource>": ["<action>", ...]}: what a role or a proxy allows; "*" is a wildcard in either place.',
    {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
    base=serializers.JSONField,  # orgs.permissions.permissions_errors words a wrong shape
)

# ---------------------------------------------------------------- output


class OrgSerializer(serializers.ModelSerializer):
    owner_id = serializers.UUIDField(read_only=True)
    settings = OrgSettings(read_only=True)

    class Meta:
        model = Organization
        fields = [
            "id",
            "name",
            "display_name",
            "description",
            "owner_id",
            "settings",
            "max_members",
            "is_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class DepartmentSerializer(serializers.ModelSerializer):
    parent_id = serializers.UUIDField(read_only=True, allow_null=True)
    manager_id = serializers.UUIDField(read_only=True, allow_null=True)

    class Meta:
        model = Department
        fields = ["id", "name", "handle", "parent_id", "manager_id", "description", "created_at", "updated_at"]
        read_only_fields = fields


@extend_schema_field({"type": "array", "items": {"$ref": "#/components/schemas/DepartmentNode"}})
class _Children(serializers.ListField):
    # Each a DepartmentNode, by name: a serializer cannot name itself while it is being declared.
    pass


class DepartmentNodeSerializer(DepartmentSerializer):
    """A department; with `?tree=1`, with its `children` nested."""

    # Rendered from a Department, or from a node of orgs.selectors.department_tree ({department, children}).
    children = _Children(required=False, help_text="Only with `?tree=1`: the child departments, by name.")

    class Meta(DepartmentSerializer.Meta):
        fields = [*DepartmentSerializer.Meta.fields, "children"]
        read_only_fields = DepartmentSerializer.Meta.fields

    def to_representation(self, node):
        if isinstance(node, Department):
            return DepartmentSerializer(node).data
        children = DepartmentNodeSerializer(node["children"], many=True).data
        return {**DepartmentSerializer(node["department"]).data, "children": children}


class PositionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Position
        fields = ["id", "title", "level", "description", "created_at", "updated_at"]
        read_only_fields = fields


class RoleSerializer(serializers.ModelSerializer):
    permissions = Permissions(read_only=True)

    class Meta:
        model = Role
        fields = ["id", "name", "description", "permissions", "is_system_role", "created_at", "updated_at"]
        read_only_fields = fields


class MemberSerializer(serializers.ModelSerializer):
    user_id = serializers.UUIDField(read_only=True)
    user = UserRefSerializer(read_only=True)
    role_id = serializers.UUIDField(read_only=True)
    role_name = serializers.CharField(source="role.name", read_only=True)
    department_id = serializers.UUIDField(read_only=True, allow_null=True)
    position_id = serializers.UUIDField(read_only=True, allow_null=True)
    assigned_by_id = serializers.UUIDField(read_only=True, allow_null=True)

    class Meta:
        model = Membership
        fields = [
            "id",
            "user_id",
            "user",
            "role_id",
            "role_name",
            "department_id",
            "position_id",
            "assigned_by_id",
            "assigned_at",
            "expires_at",
            "is_active",
        ]
        read_only_fields = fields


class ProxySerializer(serializers.ModelSerializer):
    principal_id = serializers.UUIDField(read_only=True)
    agent_id = serializers.UUIDField(read_only=True)
    permissions = Permissions(read_only=True)

    class Meta:
        model = Proxy
        fields = [
            "id",
            "principal_id",
            "agent_id",
            "permissions",
            "starts_at",
            "expires_at",
            "is_active",
            "created_at",
        ]
        read_only_fields = fields


class PermissionCheckSerializer(serializers.Serializer):
    allowed = serializers.BooleanField()
    via = serializers.ChoiceField(choices=["role", "proxy"], allow_null=True)


# ---------------------------------------------------------------- input


class OrgCreateInput(serializers.Serializer):
    name = serializers.CharField(max_length=50)
    display_name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    description = serializers.CharField(required=False, allow_blank=True, default="")
    max_members = serializers.IntegerField(required=False, min_value=1)
    settings = OrgSettings(required=False)


class OrgUpdateInput(serializers.Serializer):
    name = serializers.CharField(max_length=50, required=False)
    display_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True)
    max_members = serializers.IntegerField(required=False, min_value=1)
    settings = OrgSettings(required=False)
    is_active = serializers.BooleanField(required=False)


class TransferInput(serializers.Serializer):
    user_id = serializers.UUIDField()


class DepartmentInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    handle = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=51,
                                   help_text="The @handle that mentions the department in chat: a slug unique "
                                             "in the organization; null or empty for none.")
    description = serializers.CharField(required=False, allow_blank=True)
    parent_id = serializers.UUIDField(required=False, allow_null=True)
    manager_id = serializers.UUIDField(required=False, allow_null=True)


class PositionInput(serializers.Serializer):
    title = serializers.CharField(max_length=100)
    level = serializers.IntegerField(required=False, min_value=1)
    description = serializers.CharField(required=False, allow_blank=True)


class RoleInput(serializers.Serializer):
    name = serializers.CharField(max_length=50)
    description = serializers.CharField(required=False, allow_blank=True)
    permissions = Permissions()


class MemberInput(serializers.Serializer):
    user_id = serializers.UUIDField()
    role_id = serializers.UUIDField()
    department_id = serializers.UUIDField(required=False, allow_null=True)
    position_id = serializers.UUIDField(required=False, allow_null=True)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class MemberUpdateInput(serializers.Serializer):
    role_id = serializers.UUIDField(required=False)
    department_id = serializers.UUIDField(required=False, allow_null=True)
    position_id = serializers.UUIDField(required=False, allow_null=True)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    is_active = serializers.BooleanField(required=False)


class ProxyInput(serializers.Serializer):
    principal_id = serializers.UUIDField()
    agent_id = serializers.UUIDField()
    permissions = Permissions()
    starts_at = serializers.DateTimeField(required=False, allow_null=True)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class DepartmentListInput(serializers.Serializer):
    tree = QueryFlag(help_text="`1` nests the children (one page).")


class PermissionCheckInput(serializers.Serializer):
    resource = serializers.CharField(max_length=50)
    action = serializers.CharField(max_length=50)
    as_user = serializers.UUIDField(required=False)
