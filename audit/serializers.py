"""Shapes of the audit API (api.md, "Audit"): ``...Input`` checks a request,
``...Serializer`` renders a response (config.serializers)."""

from __future__ import annotations

from rest_framework import serializers
from django.utils.translation import gettext as _

from audit.models import AuditLog
from audit.verification import parse_when
from config.serializers import json_shape

AuditDetails = json_shape(
    "AuditDetails",
    "What the action was about, a JSON object per action: for a change, `{field: {old, new}}` "
    "for the fields that changed; for a creation, the new object's fields.",
)

# ---------------------------------------------------------------- output


class AuditLogSerializer(serializers.ModelSerializer):
    """An audit entry: who did what, when, and the hash chain that makes tampering evident."""

    details = AuditDetails(read_only=True)

    class Meta:
        model = AuditLog
        fields = [
            "id", "created_at", "actor_id", "actor_username", "acting_for_id", "acting_for_username",
            "org_id", "org_name", "action", "resource_type", "resource_id", "result", "level",
            "request_id", "ip", "user_agent", "details", "prev_hash", "hash", "signature", "chain_version",
        ]
        read_only_fields = fields


class AuditBrokenSerializer(serializers.Serializer):
    """The first entry whose link in the chain does not hold."""

    id = serializers.CharField(allow_null=True)
    created_at = serializers.CharField(allow_null=True)
    reason = serializers.CharField()


class AuditVerifySerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    checked = serializers.IntegerField(help_text="How many entries were checked.")
    first_broken = AuditBrokenSerializer(allow_null=True)


# ---------------------------------------------------------------- input


class When(serializers.CharField):
    """An ISO 8601 date or date-time; naive means UTC (audit.verification.parse_when)."""

    def __init__(self, *, end_of_day: bool = False, **kwargs):
        self.end_of_day = end_of_day
        super().__init__(**{"required": False, "allow_blank": True, **kwargs})

    def run_validation(self, data=serializers.empty):
        # CharField answers a blank value as "" without to_internal_value;
        # a blank bound is no bound.
        value = super().run_validation(data)
        return None if value == "" else value

    def to_internal_value(self, data):
        try:
            return parse_when(super().to_internal_value(data), end_of_day=self.end_of_day)
        except ValueError:
            raise serializers.ValidationError(_("Must be an ISO 8601 date or date-time.")) from None


class AuditRangeInput(serializers.Serializer):
    since = When(help_text="ISO 8601, UTC unless an offset is given.")
    until = When(end_of_day=True, help_text="ISO 8601, inclusive (a bare date: to its end).")


def _uuid():
    return serializers.UUIDField(required=False, allow_null=True, error_messages={"invalid": "Must be a UUID."})


class AuditListInput(AuditRangeInput):
    org_id = _uuid()
    actor_id = _uuid()
    action = serializers.CharField(required=False, allow_blank=True, default="")
    result = serializers.ChoiceField(choices=AuditLog.Result.values, required=False, allow_blank=True, default="",
                                     error_messages={"invalid_choice": f"One of {', '.join(AuditLog.Result.values)}."})
