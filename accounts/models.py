"""Users: seeds 000, 001 and 003 merged (see shared/seeds/README.md)."""

from __future__ import annotations

import uuid

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

USERNAME_PATTERN = r"^[A-Za-z0-9_.-]{3,50}$"
EMAIL_PATTERN = r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$"

username_validator = RegexValidator(
    USERNAME_PATTERN,
    "Use 3 to 50 characters: letters, digits, underscore, dot or hyphen.",
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
        ACTIVE = "active", "Active"
        INACTIVE = "inactive", "Inactive"
        BANNED = "banned", "Banned"

    class Role(models.TextChoices):
        ADMIN = "admin", "Admin"
        POWER_USER = "power_user", "Power user"
        USER = "user", "User"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    username = models.CharField(max_length=50, unique=True, validators=[username_validator])
    email = models.EmailField(max_length=255)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.USER)
    avatar_url = models.URLField(max_length=500, blank=True)
    is_staff = models.BooleanField(default=False, help_text="May log in to the admin site.")
    # Derived from status in the database, so the two can never disagree, while
    # Django's auth machinery (login checks, password reset) can still filter on it.
    is_active = models.GeneratedField(
        expression=models.Case(models.When(status="active", then=True), default=False),
        output_field=models.BooleanField(),
        db_persist=True,
    )
    last_active_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = UserManager()

    USERNAME_FIELD = "username"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["email"]

    class Meta:
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
