"""Staff admin for jobs. Remotes are created, changed and deleted through
jobs.services (the same validation: name, type, option allow-list, local
roots); secret options are never shown, only which ones are set, and their
edit fields are always blank. Deleting a grant revokes it through the
service. Jobs and logs are read-only here, with actions that call the
services: cancel, retry, re-enqueue, run a schedule now."""

from __future__ import annotations

import json
from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from config import forms as json_form
from config.admin_actions import refusal_text, run_service_action
from core.errors import ApplicationError
from jobs import rclone, services
from jobs.models import Job, JobLog, Remote, RemotePermission, ScheduleRule
from jobs.secrets import decrypt_options


class OptionsJsonMixin:
    def clean_options_json(self):
        return json_form.loads(self.cleaned_data["options_json"] or "{}", expect=dict)


class RemoteAddForm(OptionsJsonMixin, forms.ModelForm):
    options_json = forms.CharField(
        label=gettext_lazy("Options (JSON)"), widget=forms.Textarea(attrs={"rows": 4}), initial="{}",
        help_text=gettext_lazy('e.g. {"root": "/srv/data"} for local, {"url": ..., "user": ..., "pass": ...} for webdav. '
                        "Secret options are encrypted and never shown again."),
    )

    class Meta:
        model = Remote
        fields = ["name", "type", "description"]


class RemoteChangeForm(OptionsJsonMixin, forms.ModelForm):
    """Edits go through services.remote_update. The secret fields are always
    blank (render_value=False: a stored secret never reaches the page); a
    blank one keeps the stored value."""

    options_json = forms.CharField(label=gettext_lazy("Options (JSON)"), widget=forms.Textarea(attrs={"rows": 4}),
                                   help_text=gettext_lazy("Replaces the non-secret options."))
    remove_secrets = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple,
                                               label=gettext_lazy("Remove secret options"))
    secret_fields: list[str] = []  # set per type by remote_change_form

    class Meta:
        model = Remote
        fields = ["name", "description", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial["options_json"] = json.dumps(self.instance.options, indent=2, sort_keys=True)
        self.fields["remove_secrets"].choices = [(k, k) for k in sorted(rclone.BACKENDS[self.instance.type].secrets)]

    def service_options(self) -> dict:
        options = dict(self.cleaned_data["options_json"])
        for name in self.secret_fields:
            if self.cleaned_data.get(name):
                options[name[len(SECRET_PREFIX):]] = self.cleaned_data[name]
        return options


SECRET_PREFIX = "secret_"


def remote_change_form(remote_type: str) -> type[RemoteChangeForm]:
    """The change form for one type: a password field per secret option."""
    names = sorted(rclone.BACKENDS[remote_type].secrets)
    attrs = {
        f"{SECRET_PREFIX}{name}": forms.CharField(
            required=False, label=_("%(name)s (secret)") % {"name": name}, strip=False,
            widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
            help_text=gettext_lazy("Never shown. Leave blank to keep the stored value."),
        )
        for name in names
    }
    attrs["secret_fields"] = [f"{SECRET_PREFIX}{name}" for name in names]
    return type(f"RemoteChangeForm_{remote_type}", (RemoteChangeForm,), attrs)


class ServiceRefused(Exception):
    """A service refused an admin save; the view shows it and rolls back."""


def _refusal(exc: ApplicationError) -> ServiceRefused:
    return ServiceRefused(refusal_text(exc))


@admin.register(Remote)
class RemoteAdmin(admin.ModelAdmin):
    list_display = ["name", "type", "is_active", "created_by", "created_at"]
    list_filter = ["type", "is_active"]
    search_fields = ["name"]
    # secret_options is never a field here: only the names of the set secrets.
    readonly_fields = ["type", "secrets_set", "created_by", "created_at"]

    @admin.display(description=gettext_lazy("Secret options set"))
    def secrets_set(self, obj):
        return ", ".join(sorted(decrypt_options(obj.secret_options))) or "-"

    def _change_fields(self, obj):
        return ["name", "description", "is_active", "options_json",
                *[f"{SECRET_PREFIX}{n}" for n in sorted(rclone.BACKENDS[obj.type].secrets)], "remove_secrets"]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = RemoteAddForm
            kwargs["fields"] = ["name", "type", "description", "options_json"]
        else:
            kwargs["form"] = remote_change_form(obj.type)
            kwargs["fields"] = self._change_fields(obj)
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "type", "description", "options_json"]
        return ["type", *self._change_fields(obj), "secrets_set", "created_by", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        try:
            if change:
                services.remote_update(
                    actor=request.user, remote=obj, name=form.cleaned_data["name"],
                    description=form.cleaned_data["description"], is_active=form.cleaned_data["is_active"],
                    options=form.service_options(), remove_secrets=form.cleaned_data["remove_secrets"],
                )
                return
            created = services.remote_create(actor=request.user, name=obj.name, type=obj.type,
                                             options=form.cleaned_data["options_json"], description=obj.description)
        except ApplicationError as exc:
            raise _refusal(exc) from exc
        obj.pk = created.pk

    def delete_model(self, request, obj):
        try:
            services.remote_delete(actor=request.user, remote=obj)
        except ApplicationError as exc:
            raise _refusal(exc) from exc

    def delete_queryset(self, request, queryset):
        run_service_action(self, request, queryset, lambda r: services.remote_delete(actor=request.user, remote=r),
                    _("Deleted through the service"))

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # The save runs inside the admin's transaction: a refusal rolls it
        # all back (no half-written change, no admin log entry).
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ServiceRefused as exc:
            self.message_user(request, str(exc), level=messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except ServiceRefused as exc:
            self.message_user(request, str(exc), level=messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


@admin.register(RemotePermission)
class RemotePermissionAdmin(admin.ModelAdmin):
    list_display = ["remote", "user", "role", "department", "permissions", "is_active", "created_at"]
    list_filter = ["remote"]
    raw_id_fields = ["user", "role", "department", "created_by"]
    readonly_fields = ["remote", "user", "role", "department", "permissions", "path_rules", "is_active",
                       "created_by", "created_at"]

    def has_add_permission(self, request):
        return False  # grants are made through the API and pages (jobs.services.permission_grant)

    # Deleting a grant is revoking it: through the service (its check and audit entry).
    def delete_model(self, request, obj):
        services.permission_revoke(actor=request.user, grant=obj)

    def delete_queryset(self, request, queryset):
        run_service_action(self, request, queryset, lambda g: services.permission_revoke(actor=request.user, grant=g),
                    _("Revoked"))


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["id", "type", "status", "user", "priority", "progress", "retry_count", "created_at", "completed_at"]
    list_filter = ["status", "type"]
    search_fields = ["id", "user__username"]
    actions = ["cancel_jobs", "retry_jobs", "requeue_jobs"]
    readonly_fields = [f.name for f in Job._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description=gettext_lazy("Cancel the selected jobs"))
    def cancel_jobs(self, request, queryset):
        run_service_action(self, request, queryset, lambda job: services.job_cancel(actor=request.user, job=job), _("Cancelled"))

    @admin.action(description=gettext_lazy("Retry the selected jobs"))
    def retry_jobs(self, request, queryset):
        run_service_action(self, request, queryset, lambda job: services.job_retry(actor=request.user, job=job), _("Retried"))

    @admin.action(description=gettext_lazy("Re-enqueue the selected pending/queued jobs (their task was lost)"))
    def requeue_jobs(self, request, queryset):
        # The beat sweep does this after JOBS_LOST_QUEUED_SECONDS; staff may
        # not want to wait (e.g. right after a broker flush). Safe: claims are once-only.
        try:
            done = services.job_requeue_lost(actor=request.user, job_ids=list(queryset.values_list("id", flat=True)),
                                             lost_after=timedelta(0))
        except ApplicationError as exc:
            self.message_user(request, exc.message, level=messages.ERROR)
            return
        self.message_user(request, _("Re-enqueued: %(count)s (running, finished and not yet due jobs are skipped).")
                          % {"count": len(done)})


@admin.register(JobLog)
class JobLogAdmin(admin.ModelAdmin):
    list_display = ["created_at", "job", "level", "message"]
    list_filter = ["level"]
    raw_id_fields = ["job"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ScheduleRule)
class ScheduleRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "rule_type", "cron_expression", "interval_seconds", "timezone", "is_active",
                    "next_run_at", "last_run_at"]
    list_filter = ["rule_type", "is_active"]
    readonly_fields = [f.name for f in ScheduleRule._meta.fields]
    actions = ["run_now", "pause", "resume"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description=gettext_lazy("Run the selected schedules now"))
    def run_now(self, request, queryset):
        run_service_action(self, request, queryset, lambda r: services.schedule_run_now(actor=request.user, rule=r), _("Started"))

    @admin.action(description=gettext_lazy("Pause the selected schedules"))
    def pause(self, request, queryset):
        run_service_action(self, request, queryset,
                    lambda r: services.schedule_update(actor=request.user, rule=r, is_active=False), _("Paused"))

    @admin.action(description=gettext_lazy("Resume the selected schedules"))
    def resume(self, request, queryset):
        run_service_action(self, request, queryset,
                    lambda r: services.schedule_update(actor=request.user, rule=r, is_active=True), _("Resumed"))
