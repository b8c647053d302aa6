"""Staff admin for jobs. Remotes are created through jobs.services (the same
validation: name, type, option allow-list, local roots); secret options are
never shown, only which ones are set. Jobs and logs are read-only here, with
actions that call the services: cancel, retry, run a schedule now."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages

from config.errors import ApplicationError
from jobs import services
from jobs.models import Job, JobLog, Remote, RemotePermission, ScheduleRule
from jobs.secrets import decrypt_options


def _run_action(modeladmin, request, queryset, func, label):
    done = 0
    for obj in queryset:
        try:
            func(obj)
            done += 1
        except ApplicationError as exc:
            modeladmin.message_user(request, f"{obj}: {exc.message}", level=messages.ERROR)
    if done:
        modeladmin.message_user(request, f"{label}: {done}.")


class RemoteAddForm(forms.ModelForm):
    options_json = forms.CharField(
        label="Options (JSON)", widget=forms.Textarea(attrs={"rows": 4}), initial="{}",
        help_text='e.g. {"root": "/srv/data"} for local, {"url": ..., "user": ..., "pass": ...} for webdav. '
                  "Secret options are encrypted and never shown again.",
    )

    class Meta:
        model = Remote
        fields = ["name", "type", "description"]

    def clean_options_json(self):
        try:
            value = json.loads(self.cleaned_data["options_json"] or "{}")
        except ValueError:
            raise forms.ValidationError("Not valid JSON.") from None
        if not isinstance(value, dict):
            raise forms.ValidationError("Must be a JSON object.")
        return value


@admin.register(Remote)
class RemoteAdmin(admin.ModelAdmin):
    list_display = ["name", "type", "is_active", "created_by", "created_at"]
    list_filter = ["type", "is_active"]
    search_fields = ["name"]
    # secret_options is never a field here: only the names of the set secrets.
    fields = ["name", "type", "options", "secrets_set", "description", "is_active", "created_by", "created_at"]
    readonly_fields = ["name", "type", "options", "secrets_set", "created_by", "created_at"]

    @admin.display(description="Secret options set")
    def secrets_set(self, obj):
        return ", ".join(sorted(decrypt_options(obj.secret_options))) or "-"

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = RemoteAddForm
            kwargs["fields"] = ["name", "type", "description", "options_json"]
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        return ["name", "type", "description", "options_json"] if obj is None else self.fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        try:
            created = services.remote_create(actor=request.user, name=obj.name, type=obj.type,
                                             options=form.cleaned_data["options_json"], description=obj.description)
        except ApplicationError as exc:
            detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in (exc.fields or {}).items())
            raise forms.ValidationError(f"{exc.message} {detail}") from exc
        obj.pk = created.pk

    def add_view(self, request, form_url="", extra_context=None):
        try:
            return super().add_view(request, form_url, extra_context)
        except forms.ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), level=messages.ERROR)
            from django.http import HttpResponseRedirect

            return HttpResponseRedirect(request.get_full_path())


@admin.register(RemotePermission)
class RemotePermissionAdmin(admin.ModelAdmin):
    list_display = ["remote", "user", "role", "department", "permissions", "is_active", "created_at"]
    list_filter = ["remote"]
    raw_id_fields = ["user", "role", "department", "created_by"]
    readonly_fields = ["remote", "user", "role", "department", "permissions", "path_rules", "created_by", "created_at"]

    def has_add_permission(self, request):
        return False  # grants are made through the API and pages (jobs.services.permission_grant)


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["id", "type", "status", "user", "priority", "progress", "retry_count", "created_at", "completed_at"]
    list_filter = ["status", "type"]
    search_fields = ["id", "user__username"]
    actions = ["cancel_jobs", "retry_jobs"]
    readonly_fields = [f.name for f in Job._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Cancel the selected jobs")
    def cancel_jobs(self, request, queryset):
        _run_action(self, request, queryset, lambda job: services.job_cancel(actor=request.user, job=job), "Cancelled")

    @admin.action(description="Retry the selected jobs")
    def retry_jobs(self, request, queryset):
        _run_action(self, request, queryset, lambda job: services.job_retry(actor=request.user, job=job), "Retried")


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

    @admin.action(description="Run the selected schedules now")
    def run_now(self, request, queryset):
        _run_action(self, request, queryset, lambda r: services.schedule_run_now(actor=request.user, rule=r), "Started")

    @admin.action(description="Pause the selected schedules")
    def pause(self, request, queryset):
        _run_action(self, request, queryset,
                    lambda r: services.schedule_update(actor=request.user, rule=r, is_active=False), "Paused")

    @admin.action(description="Resume the selected schedules")
    def resume(self, request, queryset):
        _run_action(self, request, queryset,
                    lambda r: services.schedule_update(actor=request.user, rule=r, is_active=True), "Resumed")
