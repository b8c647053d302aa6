"""The schedule pages: the list with pause/resume/run now/delete, the form
(common choices or raw cron, the job to run as fields, never JSON), and the
JSON preview of the next runs the form asks for as the rule is typed."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from core.errors import ApplicationError, json_error_response
from jobs import schedule_forms, selectors, services
from jobs.models import Job

TYPE_LABELS = dict(Job.Type.choices)

FORM_DEFAULTS = {"repeat": "daily", "at_time": "02:00", "at_minute": "0", "timezone": "UTC", "type": "copy",
                 "source_path": "/", "destination_path": "/", "every_minutes": "60"}


def _where(template: dict) -> str:
    ends = [template.get(side) for side in ("source", "destination")]
    return " → ".join(f"{e.get('remote')}:{e.get('path')}" for e in ends if isinstance(e, dict))


@login_required
def schedule_list(request):
    form = {**FORM_DEFAULTS, **request.POST.dict()} if request.method == "POST" else dict(FORM_DEFAULTS)
    errors, error = {}, ""
    if request.method == "POST":
        form["weekdays"] = request.POST.getlist("weekdays")
        try:
            rule = services.schedule_create(actor=request.user, name=request.POST.get("name", "").strip(),
                                            job_template=schedule_forms.job_template(request.POST),
                                            **schedule_forms.rule_fields(request.POST))
        except ApplicationError as exc:
            errors = dict(exc.fields or {})
            error = exc.message
        else:
            messages.success(request, _("Schedule %(name)s created: %(rule)s.") % {"name": rule.name, "rule": schedule_forms.describe(rule)})
            return redirect("jobs:schedules")
    rules = list(selectors.schedules_for(request.user))
    for rule in rules:
        rule.words = schedule_forms.describe(rule)
        rule.next_label = schedule_forms.label(rule.next_run_at, rule.timezone) if rule.next_run_at else "–"
        rule.where = _where(rule.job_template)
        rule.type_label = TYPE_LABELS.get((rule.job_template or {}).get("type"), (rule.job_template or {}).get("type"))
    return render(request, "jobs/schedules.html", {
        "schedules": rules, "form": form, "errors": errors, "error": error,
        "repeats": schedule_forms.REPEATS, "weekdays": schedule_forms.WEEKDAYS, "zones": schedule_forms.zones(),
        "types": Job.Type.choices, "remotes": selectors.remotes_for(request.user),
    })


@login_required
@require_GET
def schedule_preview(request):
    """``{next_runs: [{at, label}], timezone, rule}`` for the rule the form's
    fields describe (query string), or 400 with the contract's error shape."""
    try:
        return JsonResponse(schedule_forms.preview(request.GET))
    except ApplicationError as exc:
        return json_error_response(exc.code, exc.message, 400, exc.fields)


@login_required
@require_POST
def schedule_action(request, pk, action):
    try:
        rule = selectors.schedule_for(request.user, pk)
        if action in ("pause", "resume"):
            rule = services.schedule_update(actor=request.user, rule=rule, is_active=action == "resume")
            messages.success(request, (_("Schedule %(name)s resumed.") if rule.is_active else _("Schedule %(name)s paused."))
                             % {"name": rule.name})
        elif action == "run":
            job = services.schedule_run_now(actor=request.user, rule=rule)
            messages.success(request, format_html(
                _('Started a {type} job from “{name}”: {where} (<a href="{url}">open job</a>).'),
                type=job.get_type_display().lower(), name=rule.name, where=_where(job.payload),
                url=reverse("jobs:detail", args=[job.pk])))
        elif action == "delete":
            services.schedule_delete(actor=request.user, rule=rule)
            messages.success(request, _("Schedule %(name)s deleted.") % {"name": rule.name})
        else:
            raise Http404
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("jobs:schedules")
