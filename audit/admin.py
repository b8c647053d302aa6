"""The audit trail in the admin: read-only, filterable, exportable; plus the
chain check (a button) and the partitions page for staff."""

from __future__ import annotations

import csv
import json
from datetime import datetime

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.serializers.json import DjangoJSONEncoder
from django.http import StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from audit import verification
from audit.models import AuditLog
from audit.services import audit_record
from audit.verification import parse_when, verify
from config.admin_actions import ReadOnly
from core import partitions

EXPORT_FIELDS = [
    "id", "created_at", "actor_id", "actor_username", "acting_for_id", "acting_for_username", "org_id", "org_name",
    "action", "resource_type", "resource_id", "result", "level", "request_id", "ip", "user_agent", "details",
    "prev_hash", "hash", "signature", "chain_version",
]

# What a broken chain means, for the verify page (the reason codes stay
# English in the API, the alerts and the command's output).
REASON_TEXTS = {
    verification.HASH_MISMATCH: gettext_lazy("hash mismatch: the entry's fields do not match its hash."),
    verification.BAD_SIGNATURE: gettext_lazy("bad signature: the entry was changed without the key."),
    verification.BROKEN_LINK: gettext_lazy("broken link: an entry before it was deleted or reordered."),
    verification.UNKNOWN_FORMAT: gettext_lazy("unknown chain version: this code cannot check the entry."),
    verification.DUPLICATE: gettext_lazy("duplicate entry: a signed entry was copied."),
    verification.TRUNCATED: gettext_lazy("truncated: an anchored chain head is missing from the log."),
    verification.ANCHOR_MISMATCH: gettext_lazy("anchor mismatch: an anchored chain head has a different hash."),
    verification.BAD_DIGEST: gettext_lazy("bad digest record: a digest record fails its signature."),
}


def reason_text(reason: str) -> str:
    return str(REASON_TEXTS.get(reason, reason))


class InputFilter(admin.ListFilter):
    """A list filter with text inputs (one form), for values too many to list.
    Subclasses set ``title``, ``inputs`` [(parameter, label, input type)] and
    ``filter(queryset, values)``."""

    template = "admin/audit/input_filter.html"
    inputs: list[tuple[str, str, str]] = []

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        self.values = {}
        for name, _label, _type in self.inputs:
            if name in params:
                value = params.pop(name)
                value = value[-1] if isinstance(value, list) else value
                if value.strip():
                    self.values[name] = value.strip()

    def has_output(self):
        return True

    def expected_parameters(self):
        return [name for name, _label, _type in self.inputs]

    def choices(self, changelist):
        own = set(self.expected_parameters())
        hidden = []
        for key, value in changelist.get_filters_params().items():
            if key in own:
                continue
            for item in value if isinstance(value, list) else [value]:
                hidden.append((key, item))
        if changelist.query:
            hidden.append(("q", changelist.query))
        yield {
            "hidden": hidden,
            "fields": [(name, label, kind, self.values.get(name, "")) for name, label, kind in self.inputs],
            "clear": changelist.get_query_string(remove=list(own)),
            "selected": bool(self.values),
        }

    def queryset(self, request, queryset):
        try:
            return self.filter(queryset, self.values) if self.values else queryset
        except ValueError:
            raise admin.options.IncorrectLookupParameters(_("Bad filter value.")) from None

    def filter(self, queryset, values):  # pragma: no cover - abstract
        raise NotImplementedError


class ActorFilter(InputFilter):
    title = gettext_lazy("actor")
    inputs = [("actor", gettext_lazy("username"), "text")]

    def filter(self, queryset, values):
        # The snapshot, so entries of deleted users are found too.
        return queryset.filter(actor_username=values["actor"])


class OrgFilter(InputFilter):
    title = gettext_lazy("organization")
    inputs = [("org", gettext_lazy("organization name"), "text")]

    def filter(self, queryset, values):
        return queryset.filter(org_name=values["org"])


class ActionFilter(InputFilter):
    title = gettext_lazy("action")
    inputs = [("action", gettext_lazy("code or prefix (auth.)"), "text")]

    def filter(self, queryset, values):
        value = values["action"]
        return queryset.filter(action__startswith=value) if value.endswith(".") else queryset.filter(action=value)


class DateRangeFilter(InputFilter):
    title = gettext_lazy("date range (UTC)")
    inputs = [("since", gettext_lazy("from"), "date"), ("until", gettext_lazy("to (inclusive)"), "date")]

    def filter(self, queryset, values):
        if "since" in values:
            queryset = queryset.filter(created_at__gte=parse_when(values["since"]))
        if "until" in values:
            queryset = queryset.filter(created_at__lte=parse_when(values["until"], end_of_day=True))
        return queryset


CODE_FIELDS = ("actor_id", "acting_for_id", "org_id", "action", "resource_type", "resource_id", "request_id",
               "user_agent", "prev_hash", "hash", "signature")


def _code_field(name: str):
    def show(self, obj):
        return format_html('<span translate="no">{}</span>', getattr(obj, name))

    return admin.display(description=AuditLog._meta.get_field(name).verbose_name, ordering=name)(show)


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnly, admin.ModelAdmin):
    # Read-only: the table is append-only and entries come from services only.
    list_display = ["created_at", "actor_username", "acting_for_username", "org_name", "action_code", "resource",
                    "result", "level", "ip", "request_id"]
    list_filter = [DateRangeFilter, ActorFilter, OrgFilter, ActionFilter, "result", "level"]
    search_fields = ["=id", "=request_id", "=resource_id"]
    ordering = ["-created_at", "-id"]
    list_per_page = 100
    # COUNT(*) over every partition is slow on a big log; don't.
    show_full_result_count = False
    actions = ["export_selected_csv", "export_selected_jsonl"]
    change_list_template = "admin/audit/auditlog/change_list.html"
    change_form_template = "admin/machine_change_form.html"  # the entry's name has its action code
    fields = [f"{f}_code" if f in CODE_FIELDS else f for f in EXPORT_FIELDS if f != "details"] + ["details_pretty"]
    readonly_fields = fields

    # Codes and machine values (auth.login, hashes, the user agent) are shown
    # as the trail stores them, marked as not to be translated.
    actor_id_code = _code_field("actor_id")
    acting_for_id_code = _code_field("acting_for_id")
    org_id_code = _code_field("org_id")
    action_code = _code_field("action")
    resource_type_code = _code_field("resource_type")
    resource_id_code = _code_field("resource_id")
    request_id_code = _code_field("request_id")
    user_agent_code = _code_field("user_agent")
    prev_hash_code = _code_field("prev_hash")
    hash_code = _code_field("hash")
    signature_code = _code_field("signature")

    def action_checkbox(self, obj):
        # Django labels the box with the entry's name, which holds its action code: the time and who instead.
        who = obj.actor_username or _("system")
        label = _("Select this object for an action - {}").replace("{}", f"{obj.created_at:%Y-%m-%d %H:%M:%S} {who}")
        box = forms.CheckboxInput({"class": "action-select", "aria-label": label}, lambda value: False)
        return box.render(helpers.ACTION_CHECKBOX_NAME, str(obj.pk))

    @admin.display(description=gettext_lazy("resource"))
    def resource(self, obj):
        text = f"{obj.resource_type}:{obj.resource_id}" if obj.resource_type else obj.resource_id
        return format_html('<span translate="no">{}</span>', text)


    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path("export.csv", self.admin_site.admin_view(self.export_view), {"fmt": "csv"},
                 name="%s_%s_export_csv" % info),
            path("export.jsonl", self.admin_site.admin_view(self.export_view), {"fmt": "jsonl"},
                 name="%s_%s_export_jsonl" % info),
            path("verify/", self.admin_site.admin_view(self.verify_view), name="%s_%s_verify" % info),
            path("partitions/", self.admin_site.admin_view(self.partitions_view), name="%s_%s_partitions" % info),
        ] + super().get_urls()

    # ----------------------------------------------------------------- export

    def export_response(self, request, queryset, fmt: str):
        queryset = queryset.order_by("created_at", "id").values_list(*EXPORT_FIELDS)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")

        def csv_rows():
            class Echo:
                def write(self, value):
                    return value

            writer = csv.writer(Echo())
            yield writer.writerow(EXPORT_FIELDS)
            for row in queryset.iterator(chunk_size=2000):
                yield writer.writerow([json.dumps(v) if isinstance(v, dict) else v for v in row])

        def jsonl_rows():
            for row in queryset.iterator(chunk_size=2000):
                yield json.dumps(dict(zip(EXPORT_FIELDS, row)), cls=DjangoJSONEncoder, ensure_ascii=False) + "\n"

        if fmt == "csv":
            response = StreamingHttpResponse(csv_rows(), content_type="text/csv; charset=utf-8")
        else:
            response = StreamingHttpResponse(jsonl_rows(), content_type="application/x-ndjson; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.{fmt}"'
        return response

    def export_view(self, request, fmt):
        """The whole filtered list (the changelist's own filters and search)."""
        if not self.has_view_permission(request):
            raise admin.options.PermissionDenied
        changelist = self.get_changelist_instance(request)
        # Exporting the trail is itself on the trail (the export actions are
        # recorded as admin actions by the audited admin site).
        audit_record(action="audit.exported", actor=request.user, resource_type="audit_log",
                     details={"format": fmt, "filters": dict(request.GET.items())})
        return self.export_response(request, changelist.get_queryset(request), fmt)

    @admin.action(description=gettext_lazy("Export selected entries as CSV"))
    def export_selected_csv(self, request, queryset):
        return self.export_response(request, queryset, "csv")

    @admin.action(description=gettext_lazy("Export selected entries as JSON lines"))
    def export_selected_jsonl(self, request, queryset):
        return self.export_response(request, queryset, "jsonl")

    # ----------------------------------------------------------------- verify

    def verify_view(self, request):
        if not request.user.is_staff or not self.has_view_permission(request):
            raise admin.options.PermissionDenied
        result = None
        if request.method == "POST":
            try:
                since = parse_when(request.POST.get("since"))
                until = parse_when(request.POST.get("until"), end_of_day=True)
            except ValueError:
                self.message_user(request, _("Dates must be YYYY-MM-DD."), messages.ERROR)
            else:
                result = verify(since=since, until=until)
                if result.ok:
                    self.message_user(request, ngettext("Audit chain intact: %(count)s entry checked.",
                                                        "Audit chain intact: %(count)s entries checked.",
                                                        result.checked) % {"count": result.checked},
                                      messages.SUCCESS)
                else:
                    b = result.first_broken
                    self.message_user(
                        request,
                        ngettext("Audit chain BROKEN after %(count)s entry, at entry %(id)s (%(time)s): %(reason)s",
                                 "Audit chain BROKEN after %(count)s entries, at entry %(id)s (%(time)s): %(reason)s",
                                 result.checked)
                        % {"count": result.checked, "id": b.id, "time": b.created_at, "reason": reason_text(b.reason)},
                        messages.ERROR,
                    )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Verify the audit chain"),
            "result": result,
            "reason": reason_text(result.first_broken.reason) if result and result.first_broken else "",
        }
        return TemplateResponse(request, "admin/audit/verify.html", context)

    # ----------------------------------------------------------------- partitions

    def partitions_view(self, request):
        if not request.user.is_staff or not self.has_view_permission(request):
            raise admin.options.PermissionDenied
        tables = partitions.status()
        for table in tables:
            # The plan's steps themselves (their describe() is English), so the page words them.
            table.steps = partitions.plan_table(table.config)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Partitioned tables"),
            "tables": tables,
        }
        return TemplateResponse(request, "admin/audit/partitions.html", context)

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "export_query": request.GET.urlencode(),
            "verify_url": reverse("admin:audit_auditlog_verify"),
            "partitions_url": reverse("admin:audit_auditlog_partitions"),
        }
        return super().changelist_view(request, extra_context)

    @admin.display(description=gettext_lazy("details"))
    def details_pretty(self, obj):
        return format_html('<pre translate="no">{}</pre>', json.dumps(obj.details, indent=2, ensure_ascii=False))
