"""The operations tables in the admin: read-only lists for staff. Every row
here is written by the system (the daily task, the sampler, the receivers),
so nobody adds, changes or deletes one here: a wrong daily row is
recomputed (``stats_backfill``), old metrics leave with their partition
(retention). JSON columns are shown as key: value lists (ops.display)."""

from __future__ import annotations

from django.contrib import admin
from django.utils.formats import number_format
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from config.admin_actions import ReadOnly
from jobs import figures
from ops.display import METRIC_TEXTS, details_html, details_summary, metric_text, unit_text
from ops.models import (FANOUT_LATENCY, HTTP_REQUEST_DURATION, METRIC_NAMES, DailyStat, PerformanceMetric,
                        SystemEvent, SystemMetric, UserStatistic)


class MachineWrittenAdmin(ReadOnly, admin.ModelAdmin):
    list_per_page = 100
    change_form_template = "admin/machine_change_form.html"  # the row's name is codes
    # No count(*) over a big (partitioned) table on every page.
    show_full_result_count = False

    class Media:
        css = {"all": ["css/ops.css"]}  # the key: value lists



def fixed_choices_filter(field: str, choices, title=None, parameter: str | None = None,
                         texts: dict | None = None) -> type[admin.SimpleListFilter]:
    """A list filter whose choices are known in code: the default one would
    run SELECT DISTINCT over the whole (big) table on every page. ``texts``
    words the values (the codes stay in the query string)."""
    values = [str(c) for c in choices]
    texts = texts or {}

    class Filter(admin.SimpleListFilter):
        parameter_name = parameter or field

        def lookups(self, request, model_admin):
            return [(v, texts.get(v, v)) for v in values]

        def queryset(self, request, queryset):
            return queryset.filter(**{field: self.value()}) if self.value() in values else queryset

    Filter.title = title or field.replace("_", " ")
    Filter.__name__ = f"{(parameter or field).title().replace('_', '')}Filter"
    return Filter


class CodeValuesFilter(admin.AllValuesFieldListFilter):
    """The column's values, which are codes (a task's name), marked as such."""

    template = "admin/code_filter.html"


# Web process or Celery worker (the sampler's ``kind`` tag).
PROCESS_KINDS = {"web": _("web process"), "worker": _("Celery worker")}
SERVICE_TEXTS = {"http": _("HTTP requests"), "channels": _("sockets")}
KindFilter = fixed_choices_filter("tags__kind", ["web", "worker"], _("process kind"), parameter="kind",
                                  texts=PROCESS_KINDS)


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

    @admin.display(description=_("storage"), ordering="storage_used_bytes")
    def storage(self, obj):
        return figures.size(obj.storage_used_bytes)


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

    @admin.display(description=_("bytes transferred"), ordering="bytes_transferred")
    def transferred(self, obj):
        return figures.size(obj.bytes_transferred)

    @admin.display(description=_("online"), ordering="online_seconds")
    def online(self, obj):
        return figures.duration(obj.online_seconds)


def _code(text: str):
    """A code or machine data in a list column: shown as it is, marked as
    not to be translated (tests/i18n_text.py)."""
    return format_html('<span translate="no">{}</span>', text)


def _machine(html):
    """Machine data (an event's details, a metric's tags: keys and values as
    the code wrote them), marked as not to be translated."""
    return format_html('<div translate="no">{}</div>', html)


def _value_with_unit(value, unit: str) -> str:
    """The value in the locale's number format, with its unit in words."""
    if isinstance(value, float):
        value = round(value, 2)
        number = number_format(int(value) if value.is_integer() else value, use_l10n=True, force_grouping=True)
    else:
        number = number_format(value.normalize(), use_l10n=True, force_grouping=True)
    unit = unit_text(unit)
    return f"{number}\N{NO-BREAK SPACE}{unit}" if unit else number


@admin.register(SystemMetric)
class SystemMetricAdmin(MachineWrittenAdmin):
    list_display = ["created_at", "metric", "value", "server", "kind"]
    list_filter = [fixed_choices_filter("metric_name", METRIC_NAMES, _("metric name"), texts=METRIC_TEXTS), KindFilter]
    search_fields = ["^server_id"]  # a host's processes: "web-1:"
    date_hierarchy = "created_at"
    ordering = ["-created_at"]
    fields = ["created_at", "metric", "metric_value", "server", "tags_list"]
    readonly_fields = fields

    @admin.display(description=_("metric name"), ordering="metric_name")
    def metric(self, obj):
        return metric_text(obj.metric_name)

    @admin.display(description=_("value"), ordering="metric_value")
    def value(self, obj):
        unit = (obj.tags or {}).get("unit", "")
        if obj.metric_name == "memory_usage":
            return figures.size(obj.metric_value)
        return _value_with_unit(obj.metric_value, unit)

    @admin.display(description=_("server ID"), ordering="server_id")
    def server(self, obj):
        return _code(obj.server_id)  # host:pid

    @admin.display(description=_("process kind"))
    def kind(self, obj):
        kind = (obj.tags or {}).get("kind", "")
        return PROCESS_KINDS.get(kind, kind)

    @admin.display(description=_("tags"))
    def tags_list(self, obj):
        return _machine(details_html(obj.tags))


@admin.register(PerformanceMetric)
class PerformanceMetricAdmin(MachineWrittenAdmin):
    # The service follows from the metric (a filter has it).
    list_display = ["created_at", "metric", "endpoint", "p95", "requests", "server"]
    list_filter = [fixed_choices_filter("service_name", ["http", "channels"], _("service"), texts=SERVICE_TEXTS),
                   fixed_choices_filter("metric_name", [HTTP_REQUEST_DURATION, FANOUT_LATENCY], _("metric name"),
                                        texts=METRIC_TEXTS), KindFilter]
    search_fields = ["tags__view", "^tags__server_id"]
    date_hierarchy = "created_at"
    ordering = ["-created_at"]
    fields = ["created_at", "service", "metric", "metric_type", "value", "unit", "tags_list"]
    readonly_fields = fields

    @admin.display(description=_("metric name"), ordering="metric_name")
    def metric(self, obj):
        return metric_text(obj.metric_name)

    @admin.display(description=_("service"), ordering="service_name")
    def service(self, obj):
        return SERVICE_TEXTS.get(obj.service_name, obj.service_name)

    @admin.display(description=_("endpoint"))
    def endpoint(self, obj):
        return _code((obj.tags or {}).get("view", "—"))  # a view's name

    @admin.display(description=_("p95"), ordering="value")
    def p95(self, obj):
        return _value_with_unit(obj.value, obj.unit)

    @admin.display(description=_("requests"))
    def requests(self, obj):
        return (obj.tags or {}).get("count", "—")

    @admin.display(description=_("server"))
    def server(self, obj):
        return _code((obj.tags or {}).get("server_id", ""))

    @admin.display(description=_("tags"))
    def tags_list(self, obj):
        return _machine(details_html(obj.tags))


@admin.register(SystemEvent)
class SystemEventAdmin(MachineWrittenAdmin):
    list_display = ["created_at", "event_type", "event", "summary", "server"]
    list_filter = ["event_type", ("event_name", CodeValuesFilter)]
    search_fields = ["event_name", "resource_type", "data"]  # data: its text, e.g. a partition's name
    date_hierarchy = "created_at"
    ordering = ["-created_at"]
    fields = ["created_at", "event_type", "event", "resource_type", "resource_id", "details", "process"]
    readonly_fields = fields

    @admin.display(description=_("event name"), ordering="event_name")
    def event(self, obj):
        return _code(obj.event_name)  # a task's or a process's own name

    @admin.display(description=_("details"))
    def summary(self, obj):
        return _code(details_summary(obj.data))  # machine data: keys and states as the code wrote them

    @admin.display(description=_("server"))
    def server(self, obj):
        return _code((obj.metadata or {}).get("server_id", ""))

    @admin.display(description=_("details"))
    def details(self, obj):
        return _machine(details_html(obj.data))

    @admin.display(description=_("process"))
    def process(self, obj):
        return _machine(details_html(obj.metadata))
