"""The operations tables in the admin: read-only lists for staff. Every row
here is written by the system (the daily task, the sampler, the receivers),
so nobody adds, changes or deletes one here: a wrong daily row is
recomputed (``stats_backfill``), old metrics leave with their partition
(retention). JSON columns are shown as key: value lists (ops.display)."""

from __future__ import annotations

from django.contrib import admin
from django.template.defaultfilters import filesizeformat

from config.admin_actions import ReadOnly
from ops.display import details_html, details_summary
from ops.models import (FANOUT_LATENCY, HTTP_REQUEST_DURATION, METRIC_NAMES, DailyStat, PerformanceMetric,
                        SystemEvent, SystemMetric, UserStatistic)


class MachineWrittenAdmin(ReadOnly, admin.ModelAdmin):
    list_per_page = 100
    # No count(*) over a big (partitioned) table on every page.
    show_full_result_count = False

    class Media:
        css = {"all": ["css/ops.css"]}  # the key: value lists



def fixed_choices_filter(field: str, choices, title: str | None = None,
                         parameter: str | None = None) -> type[admin.SimpleListFilter]:
    """A list filter whose choices are known in code: the default one would
    run SELECT DISTINCT over the whole (big) table on every page."""
    values = [str(c) for c in choices]

    class Filter(admin.SimpleListFilter):
        parameter_name = parameter or field

        def lookups(self, request, model_admin):
            return [(v, v) for v in values]

        def queryset(self, request, queryset):
            return queryset.filter(**{field: self.value()}) if self.value() in values else queryset

    Filter.title = title or field.replace("_", " ")
    Filter.__name__ = f"{(parameter or field).title().replace('_', '')}Filter"
    return Filter


# Web process or Celery worker (the sampler's ``kind`` tag).
KindFilter = fixed_choices_filter("tags__kind", ["web", "worker"], "process kind", parameter="kind")


def _duration(seconds: int) -> str:
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours} h {rest // 60:02d} min" if hours else f"{rest // 60} min {rest % 60:02d} s"


@admin.register(DailyStat)
class DailyStatAdmin(MachineWrittenAdmin):
    list_display = ["stat_date", "total_users", "active_users", "new_users", "total_rooms", "new_rooms",
                    "total_messages", "new_messages", "storage"]
    date_hierarchy = "stat_date"
    search_fields = ["stat_date"]  # "2026-11" finds that month's days
    ordering = ["-stat_date"]
    fields = ["stat_date", "total_users", "active_users", "new_users", "total_rooms", "new_rooms",
              "total_messages", "new_messages", "storage_used_bytes", "created_at"]
    readonly_fields = fields

    @admin.display(description="storage", ordering="storage_used_bytes")
    def storage(self, obj):
        return filesizeformat(obj.storage_used_bytes)


@admin.register(UserStatistic)
class UserStatisticAdmin(MachineWrittenAdmin):
    list_display = ["date", "user", "messages_sent", "files_uploaded", "transferred", "jobs_run", "online"]
    list_filter = [("date", admin.DateFieldListFilter)]
    date_hierarchy = "date"
    search_fields = ["user__username", "user__email"]
    list_select_related = ["user"]
    ordering = ["-date", "user__username"]
    fields = ["date", "user", "messages_sent", "files_uploaded", "bytes_transferred", "jobs_run", "online_seconds",
              "created_at"]
    readonly_fields = fields

    @admin.display(description="bytes transferred", ordering="bytes_transferred")
    def transferred(self, obj):
        return filesizeformat(obj.bytes_transferred)

    @admin.display(description="online", ordering="online_seconds")
    def online(self, obj):
        return _duration(obj.online_seconds)


def _value_with_unit(value, unit: str) -> str:
    number = f"{value:,.2f}".rstrip("0").rstrip(".") if isinstance(value, float) else f"{value.normalize():,f}"
    return f"{number}\N{NO-BREAK SPACE}{unit}" if unit else number


@admin.register(SystemMetric)
class SystemMetricAdmin(MachineWrittenAdmin):
    list_display = ["created_at", "metric_name", "value", "server_id", "kind"]
    list_filter = [fixed_choices_filter("metric_name", METRIC_NAMES), KindFilter]
    search_fields = ["^server_id"]  # a host's processes: "web-1:"
    date_hierarchy = "created_at"
    ordering = ["-created_at"]
    fields = ["created_at", "metric_name", "metric_value", "server_id", "tags_list"]
    readonly_fields = fields

    @admin.display(description="value", ordering="metric_value")
    def value(self, obj):
        unit = (obj.tags or {}).get("unit", "")
        if obj.metric_name == "memory_usage":
            return filesizeformat(obj.metric_value)
        return _value_with_unit(obj.metric_value, unit.replace("_", " "))

    @admin.display(description="kind")
    def kind(self, obj):
        return (obj.tags or {}).get("kind", "")

    @admin.display(description="tags")
    def tags_list(self, obj):
        return details_html(obj.tags)


@admin.register(PerformanceMetric)
class PerformanceMetricAdmin(MachineWrittenAdmin):
    # The service follows from the metric (a filter has it).
    list_display = ["created_at", "metric_name", "endpoint", "p95", "requests", "server"]
    list_filter = [fixed_choices_filter("service_name", ["http", "channels"], "service"),
                   fixed_choices_filter("metric_name", [HTTP_REQUEST_DURATION, FANOUT_LATENCY]), KindFilter]
    search_fields = ["tags__view", "^tags__server_id"]
    date_hierarchy = "created_at"
    ordering = ["-created_at"]
    fields = ["created_at", "service_name", "metric_name", "metric_type", "value", "unit", "tags_list"]
    readonly_fields = fields

    @admin.display(description="endpoint")
    def endpoint(self, obj):
        return (obj.tags or {}).get("view", "—")

    @admin.display(description="p95", ordering="value")
    def p95(self, obj):
        return _value_with_unit(obj.value, obj.unit)

    @admin.display(description="count")
    def requests(self, obj):
        return (obj.tags or {}).get("count", "—")

    @admin.display(description="server")
    def server(self, obj):
        return (obj.tags or {}).get("server_id", "")

    @admin.display(description="tags")
    def tags_list(self, obj):
        return details_html(obj.tags)


@admin.register(SystemEvent)
class SystemEventAdmin(MachineWrittenAdmin):
    list_display = ["created_at", "event_type", "event_name", "summary", "server"]
    list_filter = ["event_type", "event_name"]
    search_fields = ["event_name", "resource_type", "data"]  # data: its text, e.g. a partition's name
    date_hierarchy = "created_at"
    ordering = ["-created_at"]
    fields = ["created_at", "event_type", "event_name", "resource_type", "resource_id", "details", "process"]
    readonly_fields = fields

    @admin.display(description="details")
    def summary(self, obj):
        return details_summary(obj.data)

    @admin.display(description="server")
    def server(self, obj):
        return (obj.metadata or {}).get("server_id", "")

    @admin.display(description="details")
    def details(self, obj):
        return details_html(obj.data)

    @admin.display(description="process")
    def process(self, obj):
        return details_html(obj.metadata)
