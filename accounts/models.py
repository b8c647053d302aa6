"""Users: seeds 000, 001 and 003 merged (see shared/seeds/README.md)."""

from __future__ import annotations

import uuid

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext, pgettext_lazy
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from knox.models import AbstractAuthToken
from knox.settings import CONSTANTS

USERNAME_PATTERN = r"^[A-Za-z0-9_.-]{3,50}$"
EMAIL_PATTERN = r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$"

username_validator = RegexValidator(
    USERNAME_PATTERN,
    _("Use 3 to 50 characters: letters, digits, underscore, dot or hyphen."),
    code="invalid_username",
)


class UserManager(BaseUserManager):
    use_in_migrations = True

    def get_by_natural_key(self, username):
        return self.get(username=username)

    def _create_user(self, username: str, email: str, password: str | None, **extra):
        if not username:
            raise ValueError("A username is required")
        if not email:
            raise ValueError("An email address is required")
        user = self.model(username=username, email=self.normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, username, email, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(username, email, password, **extra)

    def create_superuser(self, username, email, password=None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        extra.setdefault("role", User.Role.ADMIN)
        return self._create_user(username, email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        INACTIVE = "inactive", _("Inactive")
        BANNED = "banned", _("Banned")

    class Role(models.TextChoices):
        ADMIN = "admin", pgettext_lazy("role", "Admin")
        POWER_USER = "power_user", pgettext_lazy("role", "Power user")
        USER = "user", pgettext_lazy("role", "User")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    username = models.CharField(verbose_name=_("username"), max_length=50, unique=True, validators=[username_validator])
    email = models.EmailField(verbose_name=_("email"), max_length=255)
    status = models.CharField(verbose_name=_("status"), max_length=20, choices=Status.choices, default=Status.ACTIVE)
    role = models.CharField(verbose_name=_("role"), max_length=20, choices=Role.choices, default=Role.USER)
    avatar_url = models.URLField(verbose_name=_("avatar URL"), max_length=500, blank=True)
    is_staff = models.BooleanField(verbose_name=_("staff status"), default=False, help_text=_("May log in to the admin site."))
    # Derived from status in the database, so the two can never disagree, while
    # Django's auth machinery (login checks, password reset) can still filter on it.
    is_active = models.GeneratedField(verbose_name=_("active"),
        expression=models.Case(models.When(status="active", then=True), default=False),
        output_field=models.BooleanField(),
        db_persist=True,
    )
    last_active_at = models.DateTimeField(verbose_name=_("last active at"), null=True, blank=True)
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(verbose_name=_("updated at"), auto_now=True)

    objects = UserManager()

    USERNAME_FIELD = "username"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["email"]

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        db_table = "users"
        constraints = [
            models.UniqueConstraint(Lower("email"), name="users_email_ci_unique"),
            models.CheckConstraint(condition=Q(username__regex=USERNAME_PATTERN), name="users_username_check"),
            models.CheckConstraint(condition=Q(email__regex=EMAIL_PATTERN), name="users_email_check"),
            models.CheckConstraint(condition=Q(status__in=["active", "inactive", "banned"]), name="users_status_check"),
            models.CheckConstraint(condition=Q(role__in=["admin", "power_user", "user"]), name="users_role_check"),
        ]
        indexes = [
            models.Index(fields=["status"], name="idx_users_status"),
            models.Index(fields=["-created_at"], name="idx_users_created_at"),
            models.Index(fields=["-last_active_at"], name="idx_users_last_active"),
            models.Index(fields=["role"], name="idx_users_role", condition=Q(status="active")),
        ]

    def __str__(self) -> str:
        return self.username

    def clean(self):
        super().clean()
        self.email = type(self).objects.normalize_email(self.email)


# --------------------------------------------------------------------------- profiles


def validate_timezone(value: str) -> None:
    """Only real IANA zone names (as zoneinfo knows them)."""
    from zoneinfo import available_timezones

    from django.core.exceptions import ValidationError

    if value not in _iana_zones(available_timezones):
        raise ValidationError(_("Use an IANA time zone name such as Europe/Berlin or UTC."), code="invalid_timezone")


_ZONES: frozenset[str] | None = None


def _iana_zones(loader) -> frozenset[str]:
    # available_timezones() walks the tz database on disk; do it once.
    global _ZONES
    if _ZONES is None:
        _ZONES = frozenset(loader())
    return _ZONES


class Profile(models.Model):
    """user_extensions (seed 000) merged with user_preferences (seed 001)."""

    class Language(models.TextChoices):
        EN = "en", _("English")
        # English names first: readable even where CJK fonts are missing.
        ZH_HANS = "zh-hans", _("Chinese, Simplified (简体中文)")
        KO = "ko", _("Korean (한국어)")

    class Theme(models.TextChoices):
        SYSTEM = "system", pgettext_lazy("theme", "System")
        LIGHT = "light", pgettext_lazy("theme", "Light")
        DARK = "dark", pgettext_lazy("theme", "Dark")

    user = models.OneToOneField(User, verbose_name=_("user"), on_delete=models.CASCADE, primary_key=True, related_name="profile")
    bio = models.TextField(verbose_name=_("bio"), max_length=1000, blank=True)
    location = models.CharField(verbose_name=_("location"), max_length=100, blank=True)
    website = models.URLField(verbose_name=_("website"), max_length=255, blank=True)
    timezone = models.CharField(verbose_name=_("time zone"), max_length=50, default="UTC", validators=[validate_timezone])
    language = models.CharField(verbose_name=_("language"), max_length=10, choices=Language.choices, default=Language.EN)
    theme = models.CharField(verbose_name=_("theme"), max_length=20, choices=Theme.choices, default=Theme.SYSTEM)
    preferences = models.JSONField(verbose_name=_("preferences"), default=dict, blank=True)
    notifications = models.JSONField(verbose_name=_("notifications"), default=dict, blank=True)
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(verbose_name=_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("profile")
        verbose_name_plural = _("profiles")
        db_table = "user_profiles"
        constraints = [
            models.CheckConstraint(condition=Q(language__in=["en", "zh-hans", "ko"]), name="user_profiles_language_check"),
            models.CheckConstraint(condition=Q(theme__in=["system", "light", "dark"]), name="user_profiles_theme_check"),
        ]

    def __str__(self) -> str:
        return gettext("profile of %(user)s") % {"user": self.user_id}


# --------------------------------------------------------------------------- device sessions


class DeviceSession(AbstractAuthToken):
    """One signed-in device: an API token (knox) or a browser's cookie session.

    The sessions of seeds 000/001 merged. This is knox's token model
    (KNOX_TOKEN_MODEL), so knox creates and hashes API tokens; only the hash
    (``digest``) and knox's lookup prefix (``token_key``) are stored. Browser
    sessions get a row too, keyed to the Django session, so "My devices" lists
    both; their ``token_key`` is empty so no API token can ever match them.
    Revoking a session deletes its row (and, for a browser, its Django session).
    """

    class Kind(models.TextChoices):
        API = "api", _("API token")
        WEB = "web", _("Browser")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # knox makes digest the primary key; here it is a unique column instead.
    digest = models.CharField(verbose_name=_("digest"), max_length=CONSTANTS.DIGEST_LENGTH, unique=True)
    user = models.ForeignKey(User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="auth_token_set")
    kind = models.CharField(verbose_name=_("kind"), max_length=10, choices=Kind.choices, default=Kind.API)
    session_key = models.CharField(verbose_name=_("session key"), max_length=40, null=True, blank=True, unique=True)
    device_name = models.CharField(verbose_name=_("device name"), max_length=100, blank=True)
    ip = models.GenericIPAddressField(verbose_name=_("IP address"), null=True, blank=True)
    user_agent = models.CharField(verbose_name=_("user agent"), max_length=500, blank=True)
    created = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True, db_column="created_at")
    expiry = models.DateTimeField(verbose_name=_("expires at"), db_column="expires_at")
    last_used_at = models.DateTimeField(verbose_name=_("last used at"), auto_now_add=True)

    class Meta:
        verbose_name = _("session")
        verbose_name_plural = _("sessions")
        db_table = "sessions"
        ordering = ["-created"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=["api", "web"]), name="sessions_kind_check"),
            models.CheckConstraint(condition=Q(expiry__gt=models.F("created")), name="sessions_expires_check"),
            models.CheckConstraint(
                condition=Q(kind="api", session_key__isnull=True) | Q(kind="web", session_key__isnull=False, token_key=""),
                name="sessions_kind_shape_check",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "-created"], name="idx_sessions_user"),
            models.Index(fields=["expiry"], name="idx_sessions_expires_at"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.device_name or self.user_agent[:40]}".strip()

    @property
    def created_at(self):
        return self.created

    @property
    def expires_at(self):
        return self.expiry


# --------------------------------------------------------------------------- API keys

SCOPES = (
    "chat:read", "chat:write", "jobs:read", "jobs:write", "orgs:read", "orgs:write", "audit:read",
    # One's own notifications (list; mark read): a key that posts chat need not see them.
    "notifications:read", "notifications:write",
)


class ApiKey(models.Model):
    """api_keys (seed 004). The key itself is shown once; only its SHA-256 and
    a display prefix are stored."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="api_keys")
    key_hash = models.CharField(verbose_name=_("key hash"), max_length=64, unique=True)
    prefix = models.CharField(verbose_name=_("prefix"), max_length=16)
    name = models.CharField(verbose_name=_("name"), max_length=100)
    scopes = models.JSONField(verbose_name=_("scopes"), default=list)
    rate_limit_per_minute = models.PositiveIntegerField(verbose_name=_("rate limit per minute"), default=200)
    is_active = models.BooleanField(verbose_name=_("active"), default=True)
    expires_at = models.DateTimeField(verbose_name=_("expires at"), null=True, blank=True)
    last_used_at = models.DateTimeField(verbose_name=_("last used at"), null=True, blank=True)
    usage_count = models.PositiveBigIntegerField(verbose_name=_("usage count"), default=0)
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)
    revoked_at = models.DateTimeField(verbose_name=_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        db_table = "api_keys"
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(rate_limit_per_minute__gt=0), name="api_keys_rate_limit_check"),
            models.CheckConstraint(
                condition=Q(is_active=True, revoked_at__isnull=True) | Q(is_active=False, revoked_at__isnull=False),
                name="api_keys_revoked_check",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="idx_api_keys_user_id"),
            models.Index(fields=["expires_at"], name="idx_api_keys_expires_at", condition=Q(expires_at__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


# --------------------------------------------------------------------------- notifications


class Notification(models.Model):
    """notifications: seeds 000 and 001 merged. Seed 000's types plus
    ``mention`` and the job outcomes (issues 7 and 8); seed 001's priority,
    archive flag and expiry. ``message`` is NOT NULL (seed 000) but may be
    empty. Writes go through accounts.notifications only."""

    class Type(models.TextChoices):
        NEW_MESSAGE = "new_message", _("New message")
        MENTION = "mention", _("Mention")
        ROOM_INVITATION = "room_invitation", _("Room invitation")
        USER_JOINED = "user_joined", _("User joined")
        USER_LEFT = "user_left", _("User left")
        JOB_FINISHED = "job_finished", _("Job finished")
        JOB_FAILED = "job_failed", _("Job failed")
        SYSTEM_ALERT = "system_alert", _("System alert")

    class Priority(models.TextChoices):
        LOW = "low", pgettext_lazy("priority", "Low")
        NORMAL = "normal", pgettext_lazy("priority", "Normal")
        HIGH = "high", pgettext_lazy("priority", "High")
        URGENT = "urgent", pgettext_lazy("priority", "Urgent")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No index of its own: the composite indexes below start with user.
    user = models.ForeignKey(User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="notifications", db_index=False)
    type = models.CharField(verbose_name=_("type"), max_length=50, choices=Type.choices)
    title = models.CharField(verbose_name=_("title"), max_length=255)
    message = models.TextField(verbose_name=_("message"), blank=True, default="")
    data = models.JSONField(verbose_name=_("data"), default=dict, blank=True)
    priority = models.CharField(verbose_name=_("priority"), max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    is_read = models.BooleanField(verbose_name=_("read"), default=False)
    is_archived = models.BooleanField(verbose_name=_("archived"), default=False)
    read_at = models.DateTimeField(verbose_name=_("read at"), null=True, blank=True)
    expires_at = models.DateTimeField(verbose_name=_("expires at"), null=True, blank=True)
    created_at = models.DateTimeField(verbose_name=_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        db_table = "notifications"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(type__in=[
                    "new_message", "mention", "room_invitation", "user_joined", "user_left",
                    "job_finished", "job_failed", "system_alert",
                ]),
                name="notifications_type_check",
            ),
            models.CheckConstraint(
                condition=Q(priority__in=["low", "normal", "high", "urgent"]), name="notifications_priority_check"
            ),
            models.CheckConstraint(
                condition=Q(is_read=False, read_at__isnull=True) | Q(is_read=True, read_at__isnull=False),
                name="notifications_read_at_check",
            ),
        ]
        indexes = [
            # The unread badge: COUNT over (user, unread, not archived).
            models.Index(fields=["user", "is_read", "is_archived"], name="idx_notifications_user"),
            models.Index(fields=["-created_at"], name="idx_notifications_created"),
            models.Index(fields=["type"], name="idx_notifications_type"),
            models.Index(fields=["expires_at"], name="idx_notifications_expires", condition=Q(expires_at__isnull=False)),
            # The list page and API: one user's newest first, by cursor.
            models.Index(fields=["user", "-created_at", "-id"], name="idx_notifications_user_created"),
        ]

    def __str__(self) -> str:
        return gettext("%(type)s for %(user)s: %(title)s") % {"type": self.get_type_display(), "user": self.user_id,
                                                               "title": self.title}


class OnlineTimeStat(models.Model):
    """Seed 000 online_time_stats: time online per user per UTC day, written
    by accounts.online_time when a presence session (the span with at least
    one socket open, across tabs) ends, split at midnight."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey("accounts.User", verbose_name=_("user"), on_delete=models.CASCADE, related_name="online_time_stats")
    date = models.DateField(verbose_name=_("date"))
    total_seconds = models.IntegerField(verbose_name=_("total seconds"), default=0)
    sessions_count = models.IntegerField(verbose_name=_("sessions count"), default=0)
    first_session_at = models.DateTimeField(verbose_name=_("first session at"), null=True, blank=True)
    last_session_at = models.DateTimeField(verbose_name=_("last session at"), null=True, blank=True)
    created_at = models.DateTimeField(verbose_name=_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(verbose_name=_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("online time")
        verbose_name_plural = _("online time")
        db_table = "online_time_stats"
        ordering = ["-date"]
        constraints = [
            models.UniqueConstraint(fields=["user", "date"], name="online_time_stats_unique"),
            models.CheckConstraint(condition=Q(total_seconds__gte=0) & Q(sessions_count__gte=0),
                                   name="online_time_stats_nonnegative"),
        ]
        indexes = [
            models.Index(fields=["user"], name="idx_online_time_stats_user"),
            models.Index(fields=["date"], name="idx_online_time_stats_date"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.date}: " + gettext("%(n)s s") % {"n": self.total_seconds}
