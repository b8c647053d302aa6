"""The statistics JSON API (v1, api.md "Operations")."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from config.serializers import validated
from core.errors import parse_uuid
from ops import serializers as s
from ops.selectors import daily_stats_for, metric_rows_for, user_daily_for


class DailyStatsView(APIView):
    @extend_schema(parameters=[s.RangeInput], responses=s.DailyStatListSerializer)
    def get(self, request):
        params = validated(s.RangeInput, request.query_params)
        rows = daily_stats_for(actor=request.user, since=params.get("since"), until=params.get("until"))
        return Response({"results": s.DailyStatSerializer(rows, many=True).data})


class UserDailyView(APIView):
    @extend_schema(parameters=[s.RangeInput], responses=s.UserDailyListSerializer)
    def get(self, request, user_id):
        params = validated(s.RangeInput, request.query_params)
        rows = user_daily_for(actor=request.user, user_id=parse_uuid(user_id, "user_id"),
                              since=params.get("since"), until=params.get("until"))
        return Response({"results": s.UserDailySerializer(rows, many=True).data})


class MetricsView(APIView):
    @extend_schema(parameters=[s.MetricsInput], responses=s.SystemMetricListSerializer)
    def get(self, request):
        params = validated(s.MetricsInput, request.query_params)
        rows = metric_rows_for(actor=request.user, **params)
        return Response({"results": s.SystemMetricSerializer(rows, many=True).data})
