"""Shapes of the accounts API (api.md, "Auth and accounts"): ``...Input``
checks a request, ``...Serializer`` renders a response (config.serializers)."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts import selectors
from accounts.models import SCOPES, ApiKey, DeviceSession, Notification, Profile, User
from accounts.notifications import notification_dict
from config.serializers import Presented, QueryFlag, json_shape

ProfilePreferences = json_shape(
    "ProfilePreferences",
    "The user's own settings, a JSON object the clients define. Keys the server reads: "
    "`send_read_receipts` (bool, default true), `email_notifications` (bool, default true).",
)
NotificationSettings = json_shape(
    "NotificationSettings",
    "Which notifications the user wants, a JSON object: a notification type set to false is not delivered.",
)


# ---------------------------------------------------------------- output


class AvatarUrlField(serializers.URLField):
    """A user's avatar: a URL, or null when the user has none (never "",
    which is no URL)."""

    def __init__(self, **kwargs):
        super().__init__(**{"read_only": True, "allow_null": True, **kwargs})

    def to_representation(self, value):
        return value or None


class UserRefSerializer(serializers.Serializer):
    """A user, as other objects show them."""

    # The shape of chatroom.presenters.user_dict, which the socket's frames share.
    id = serializers.UUIDField()
    username = serializers.CharField()
    avatar_url = AvatarUrlField()


class ProfileSerializer(serializers.ModelSerializer):
    website = serializers.CharField(read_only=True, help_text="A URL, or empty when none is set.")
    preferences = ProfilePreferences(read_only=True)
    notifications = NotificationSettings(read_only=True)

    class Meta:
        model = Profile
        fields = ["bio", "location", "website", "timezone", "language", "theme", "preferences", "notifications"]
        read_only_fields = fields


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


class RegisterResultSerializer(serializers.Serializer):
    user = UserSerializer()


class LoginResultSerializer(serializers.Serializer):
    # Rendered from {"session": DeviceSession, "token": str, "user": User}.

    token = serializers.CharField()
    expires_at = serializers.DateTimeField(source="session.expiry")
    session_id = serializers.UUIDField(source="session.pk")
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


class ApiKeySerializer(serializers.ModelSerializer):
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=SCOPES), read_only=True)

    class Meta:
        model = ApiKey
        fields = [
            "id", "prefix", "name", "scopes", "expires_at", "rate_limit_per_minute",
            "is_active", "last_used_at", "usage_count", "created_at", "revoked_at",
        ]
        read_only_fields = fields


class ApiKeyCreatedSerializer(serializers.ModelSerializer):
    """A new API key, with the key itself: shown only this once."""

    key = serializers.SerializerMethodField()
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=SCOPES), read_only=True)

    class Meta:
        model = ApiKey
        fields = ["id", "key", "prefix", "name", "scopes", "expires_at", "rate_limit_per_minute"]
        read_only_fields = fields

    def get_key(self, api_key) -> str:
        return self.context["key"]


NotificationData = json_shape(
    "NotificationData",
    "Ids for the notification's type (room_id, message_id, excerpt, invite_code, job_id, ...), "
    "and `url` where there is a page to open.",
)


class NotificationSerializer(Presented):
    """A notification, as the API and the socket's `notification` frame show it."""

    def present(self, notification):
        return notification_dict(notification)

    id = serializers.UUIDField()
    type = serializers.ChoiceField(choices=Notification.Type.choices)
    title = serializers.CharField()
    message = serializers.CharField(allow_blank=True)
    data = NotificationData()
    priority = serializers.ChoiceField(choices=Notification.Priority.choices)
    is_read = serializers.BooleanField()
    is_archived = serializers.BooleanField()
    read_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    url = serializers.CharField(allow_null=True, help_text="A page to open, when there is one.")


class NotificationReadAllSerializer(serializers.Serializer):
    marked = serializers.IntegerField()
    unread = serializers.IntegerField()


# ---------------------------------------------------------------- input


class ProfileUpdateInput(serializers.Serializer):
    """Any of the profile's fields."""

    # Types here, rules in accounts.services.profile_update.
    bio = serializers.CharField(allow_blank=True, max_length=1000, required=False)
    location = serializers.CharField(allow_blank=True, max_length=100, required=False)
    website = serializers.CharField(allow_blank=True, max_length=255, required=False)
    timezone = serializers.CharField(max_length=50, required=False)
    language = serializers.CharField(max_length=10, required=False)
    theme = serializers.CharField(max_length=20, required=False)
    preferences = ProfilePreferences(required=False)
    notifications = NotificationSettings(required=False)
    avatar_url = serializers.CharField(allow_blank=True, max_length=500, required=False)


class RegisterInput(serializers.Serializer):
    username = serializers.CharField(max_length=50)
    email = serializers.CharField(max_length=255)
    password = serializers.CharField(max_length=256, trim_whitespace=False, write_only=True)


class LoginInput(serializers.Serializer):
    login = serializers.CharField(max_length=255)
    password = serializers.CharField(max_length=256, trim_whitespace=False, write_only=True)
    device_name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


class ApiKeyCreateInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=SCOPES), allow_empty=False, max_length=len(SCOPES))
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    rate_limit_per_minute = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1, max_value=100000)


class NotificationListInput(serializers.Serializer):

    unread = QueryFlag(help_text="`1`: only unread ones.")
    archived = QueryFlag(help_text="`1`: the archive instead of the inbox.")
