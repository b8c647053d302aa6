"""Organizations (seed 000). Departments, positions, roles, memberships and
proxies join this module with the organizations feature."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

ORG_NAME_PATTERN = r"^[a-zA-Z0-9_-]{3,50}$"


class Organization(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # The handle, per the seed rule; display_name carries names in any script.
    name = models.CharField(
        max_length=50,
        unique=True,
        validators=[RegexValidator(ORG_NAME_PATTERN, "Use 3 to 50 letters, digits, _ or -.")],
    )
    display_name = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_orgs")
    settings = models.JSONField(default=dict, blank=True)
    max_members = models.PositiveIntegerField(default=1000)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "organizations"
        constraints = [
            models.CheckConstraint(condition=Q(name__regex=ORG_NAME_PATTERN), name="organizations_name_check"),
        ]
        indexes = [
            models.Index(fields=["owner"], name="idx_organizations_owner"),
            models.Index(fields=["is_active"], name="idx_organizations_active"),
        ]

    def __str__(self) -> str:
        return self.display_name or self.name
