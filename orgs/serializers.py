"""Shapes of the orgs API (api.md, "Organizations"). Input serializers check
types only; the rules live in orgs/services.py."""

from __future__ import annotations

from rest_framework import serializers

from accounts.serializers import AvatarUrlField
from orgs.models import Department, Membership, Organization, Position, Proxy, Role

# ---------------------------------------------------------------- output


class OrgSerializer(serializers.ModelSerializer):
    owner_id = serializers.UUIDField(read_only=True)

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
        fields = ["id", "name", "parent_id", "manager_id", "description", "created_at", "updated_at"]
        read_only_fields = fields


class PositionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Position
        fields = ["id", "title", "level", "description", "created_at", "updated_at"]
        read_only_fields = fields


class RoleSerializer(serializers.ModelSerializer):
    class Meta:
        model = Role
        fields = ["id", "name", "description", "permissions", "is_system_role", "created_at", "updated_at"]
        read_only_fields = fields


class MemberUserSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    username = serializers.CharField()
    avatar_url = AvatarUrlField()


class MemberSerializer(serializers.ModelSerializer):
    user_id = serializers.UUIDField(read_only=True)
    user = MemberUserSerializer(read_only=True)
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
    settings = serializers.DictField(required=False)


class OrgUpdateInput(serializers.Serializer):
    name = serializers.CharField(max_length=50, required=False)
    display_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True)
    max_members = serializers.IntegerField(required=False, min_value=1)
    settings = serializers.DictField(required=False)
    is_active = serializers.BooleanField(required=False)


class TransferInput(serializers.Serializer):
    user_id = serializers.UUIDField()


class DepartmentInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)
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
    permissions = serializers.JSONField()


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
    permissions = serializers.JSONField()
    starts_at = serializers.DateTimeField(required=False, allow_null=True)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class PermissionCheckInput(serializers.Serializer):
    resource = serializers.CharField(max_length=50)
    action = serializers.CharField(max_length=50)
    as_user = serializers.UUIDField(required=False)
