"""Chat rooms (seed 000). Members, messages and the rest join this module
with the chat feature."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

ROOM_NAME_PATTERN = r"^[a-zA-Z0-9_-]{3,50}$"


class Room(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(
        max_length=50,
        validators=[RegexValidator(ROOM_NAME_PATTERN, "Use 3 to 50 letters, digits, _ or -.")],
    )
    description = models.TextField(blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="owned_rooms")
    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, null=True, blank=True, related_name="rooms")
    is_private = models.BooleanField(default=False)
    # Argon2 hash of the room password; set exactly when the room is private.
    password_hash = models.CharField(max_length=255, null=True, blank=True)
    max_members = models.PositiveIntegerField(default=1000)
    allow_invites = models.BooleanField(default=True)
    require_approval = models.BooleanField(default=False)
    settings = models.JSONField(default=dict, blank=True)
    archived = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "chat_rooms"
        constraints = [
            models.CheckConstraint(condition=Q(name__regex=ROOM_NAME_PATTERN), name="chat_rooms_name_check"),
            models.CheckConstraint(
                condition=(Q(is_private=True) & Q(password_hash__isnull=False))
                | (Q(is_private=False) & Q(password_hash__isnull=True)),
                name="chat_rooms_password_check",
            ),
        ]
        indexes = [
            models.Index(fields=["owner"], name="idx_chat_rooms_owner"),
            models.Index(fields=["is_private"], name="idx_chat_rooms_is_private"),
            models.Index(fields=["-created_at"], name="idx_chat_rooms_created_at"),
        ]

    def __str__(self) -> str:
        return self.name
