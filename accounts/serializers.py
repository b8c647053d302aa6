"""Shapes of the accounts API (api.md, "Auth and accounts")."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts import selectors
from accounts.models import SCOPES, ApiKey, DeviceSession, Profile, User


class ProfileSerializer(serializers.ModelSerializer):
    class Meta:
        model = Profile
        fields = ["bio", "location", "website", "timezone", "language", "theme", "preferences", "notifications"]


class AvatarUrlField(serializers.URLField):
    """A user's avatar: a URL, or null when the user has none (never "",
    which is no URL)."""

    def __init__(self, **kwargs):
        super().__init__(**{"read_only": True, "allow_null": True, **kwargs})

    def to_representation(self, value):
        return value or None


class UserSerializer(serializers.ModelSerializer):
    avatar_url = AvatarUrlField()
    profile = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "username", "email", "status", "role", "avatar_url", "profile"]
        read_only_fields = fields

    @extend_schema_field(ProfileSerializer)
    def get_profile(self, user) -> dict:
        return ProfileSerializer(selectors.profile_of(user)).data


class ProfileUpdateSerializer(serializers.Serializer):
    """PATCH /me: the profile's fields (type checks here, rules in the service)."""

    bio = serializers.CharField(allow_blank=True, max_length=1000, required=False)
    location = serializers.CharField(allow_blank=True, max_length=100, required=False)
    website = serializers.CharField(allow_blank=True, max_length=255, required=False)
    timezone = serializers.CharField(max_length=50, required=False)
    language = serializers.CharField(max_length=10, required=False)
    theme = serializers.CharField(max_length=20, required=False)
    preferences = serializers.DictField(required=False)
    notifications = serializers.DictField(required=False)
    avatar_url = serializers.CharField(allow_blank=True, max_length=500, required=False)


class RegisterSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=50)
    email = serializers.CharField(max_length=255)
    password = serializers.CharField(max_length=256, trim_whitespace=False, write_only=True)


class LoginSerializer(serializers.Serializer):
    login = serializers.CharField(max_length=255)
    password = serializers.CharField(max_length=256, trim_whitespace=False, write_only=True)
    device_name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


class RegisterResultSerializer(serializers.Serializer):
    user = UserSerializer()


class LoginResultSerializer(serializers.Serializer):
    token = serializers.CharField()
    expires_at = serializers.DateTimeField()
    session_id = serializers.UUIDField()
    user = UserSerializer()


class DeviceSessionSerializer(serializers.ModelSerializer):
    created_at = serializers.DateTimeField(source="created")
    expires_at = serializers.DateTimeField(source="expiry")
    current = serializers.SerializerMethodField()

    class Meta:
        model = DeviceSession
        fields = ["id", "kind", "device_name", "ip", "user_agent", "created_at", "last_used_at", "expires_at", "current"]
        read_only_fields = fields

    def get_current(self, session) -> bool:
        current = self.context.get("current")
        return current is not None and current.pk == session.pk


class ApiKeyCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=SCOPES), allow_empty=False, max_length=len(SCOPES))
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    rate_limit_per_minute = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1, max_value=100000)


class ApiKeySerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiKey
        fields = [
            "id", "prefix", "name", "scopes", "expires_at", "rate_limit_per_minute",
            "is_active", "last_used_at", "usage_count", "created_at", "revoked_at",
        ]
        read_only_fields = fields


class ApiKeyCreatedSerializer(serializers.ModelSerializer):
    key = serializers.SerializerMethodField()

    class Meta:
        model = ApiKey
        fields = ["id", "key", "prefix", "name", "scopes", "expires_at", "rate_limit_per_minute"]
        read_only_fields = fields

    def get_key(self, api_key) -> str:
        return self.context["key"]


class DeviceSessionPageSerializer(serializers.Serializer):
    results = DeviceSessionSerializer(many=True)
    next = serializers.CharField(allow_null=True)


class ApiKeyPageSerializer(serializers.Serializer):
    results = ApiKeySerializer(many=True)
    next = serializers.CharField(allow_null=True)


# --------------------------------------------------------------------------- notifications
# Schema shapes only: responses are rendered by accounts.notifications.notification_dict,
# the one presenter the API and the socket share.


class NotificationSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    type = serializers.ChoiceField(choices=["new_message", "mention", "room_invitation", "user_joined", "user_left",
                                            "job_finished", "job_failed", "system_alert"])
    title = serializers.CharField()
    message = serializers.CharField(allow_blank=True)
    data = serializers.DictField(help_text="Ids for the type (room_id, message_id, excerpt, invite_code, job_id, ...).")
    priority = serializers.ChoiceField(choices=["low", "normal", "high", "urgent"])
    is_read = serializers.BooleanField()
    is_archived = serializers.BooleanField()
    read_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    url = serializers.CharField(allow_null=True, help_text="A page to open, when there is one.")


class NotificationPageSerializer(serializers.Serializer):
    results = NotificationSerializer(many=True)
    next = serializers.CharField(allow_null=True)


class NotificationReadAllSerializer(serializers.Serializer):
    marked = serializers.IntegerField()
    unread = serializers.IntegerField()
