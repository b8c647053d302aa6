from __future__ import annotations

from rest_framework import serializers
from django.utils.translation import gettext as _

from config.serializers import json_shape
from ops.models import METRIC_NAMES


class RangeInput(serializers.Serializer):
    since = serializers.DateField(required=False)
    until = serializers.DateField(required=False)

    def validate(self, attrs):
        if attrs.get("since") and attrs.get("until") and attrs["since"] > attrs["until"]:
            raise serializers.ValidationError({"since": _("since must not be after until.")})
        return attrs


class MetricsInput(serializers.Serializer):
    name = serializers.ChoiceField(choices=METRIC_NAMES, required=False)
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)
    server_id = serializers.CharField(required=False, max_length=100)


class DailyStatSerializer(serializers.Serializer):
    stat_date = serializers.DateField()
    total_users = serializers.IntegerField()
    active_users = serializers.IntegerField()
    new_users = serializers.IntegerField()
    total_rooms = serializers.IntegerField()
    new_rooms = serializers.IntegerField()
    total_messages = serializers.IntegerField()
    new_messages = serializers.IntegerField()
    storage_used_bytes = serializers.IntegerField()


class DailyStatListSerializer(serializers.Serializer):
    results = DailyStatSerializer(many=True)


class UserDailySerializer(serializers.Serializer):
    date = serializers.DateField()
    messages_sent = serializers.IntegerField()
    files_uploaded = serializers.IntegerField()
    bytes_transferred = serializers.IntegerField()
    jobs_run = serializers.IntegerField()
    online_seconds = serializers.IntegerField()


class UserDailyListSerializer(serializers.Serializer):
    results = UserDailySerializer(many=True)


MetricTags = json_shape("MetricTags", "What a sample's value means: its unit, the process kind (web or worker), ...")


class SystemMetricSerializer(serializers.Serializer):
    metric_name = serializers.ChoiceField(choices=METRIC_NAMES)
    metric_value = serializers.FloatField()
    tags = MetricTags()
    timestamp = serializers.DateTimeField(source="created_at")
    server_id = serializers.CharField()


class SystemMetricListSerializer(serializers.Serializer):
    results = SystemMetricSerializer(many=True)
