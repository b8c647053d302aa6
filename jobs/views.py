"""The jobs pages. Thin: reads through jobs.selectors, writes through
jobs.services; errors come back as messages. The live parts (path picker,
test connection, progress bar, log tail) are static/js/jobs.js calling the
JSON API with the session cookie."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from accounts.models import User
from core.errors import ApplicationError, NotFound, ValidationFailed
from core.replicas import lag_tolerant
from jobs import access, figures, selectors, services
from jobs.models import PERMISSION_CHOICES, PERMISSIONS, Job, Remote, RemotePermission
from jobs.presenters import job_dict


def _error(request, exc: ApplicationError) -> None:
    detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in (exc.fields or {}).items())
    messages.error(request, f"{exc.message} {detail}".strip())


def _job_or_404(request, pk) -> Job:
    try:
        return selectors.job_for(request.user, pk)
    except NotFound:
        raise Http404 from None


@login_required
@lag_tolerant
def job_list(request):
    status = request.GET.get("status") or None
    try:
        jobs = selectors.jobs_for(request.user, status=status)[:200]
    except ApplicationError:
        jobs, status = selectors.jobs_for(request.user)[:200], None
    return render(request, "jobs/job_list.html", {"jobs": jobs, "status": status, "statuses": Job.Status.choices})


def _side(post, prefix):
    remote = post.get(f"{prefix}_remote", "").strip()
    return {"remote": remote, "path": post.get(f"{prefix}_path", "/")} if remote else None


PREVIEW_TYPES = ("sync", "move")  # they delete: the form puts Preview first
PREVIEW_VERBS = (("copy", gettext_lazy("Would copy")), ("move", gettext_lazy("Would move")), ("delete", gettext_lazy("Would delete")))


@login_required
def job_new(request):
    remotes = selectors.remotes_for(request.user)
    form = request.POST if request.method == "POST" else request.GET
    if request.method == "POST":
        preview = "preview" in request.POST  # the Preview button: the same job, with --dry-run
        options = {
            "dry_run": preview,
            "checksum": bool(request.POST.get("checksum")),
            "verbose": bool(request.POST.get("verbose")),
            "bwlimit": request.POST.get("bwlimit", "").strip() or None,
            "include": [p for p in request.POST.get("include", "").splitlines() if p.strip()],
            "exclude": [p for p in request.POST.get("exclude", "").splitlines() if p.strip()],
        }
        if request.POST.get("max_delete", "").strip():
            options["max_delete"] = int(request.POST["max_delete"]) if request.POST["max_delete"].isdigit() else -1
        scheduled = request.POST.get("scheduled_for", "").strip()
        try:
            when = parse_datetime(scheduled) if scheduled else None
            if scheduled and (when is None or when.tzinfo is None):
                raise ApplicationError(_("Give the start time as ISO 8601 with a time zone."))
            job = services.job_submit(
                actor=request.user, type=request.POST.get("type", ""), source=_side(request.POST, "source") or {},
                destination=_side(request.POST, "destination"), priority=int(request.POST.get("priority") or 5),
                scheduled_for=when, options=options,
            )
        except (ApplicationError, ValueError) as exc:
            _error(request, exc if isinstance(exc, ApplicationError) else ApplicationError(str(exc)))
        else:
            return redirect("jobs:detail", pk=job.pk)
    return render(request, "jobs/job_new.html", {"remotes": remotes, "types": Job.Type.choices, "form": form,
                                                 "preview_types": PREVIEW_TYPES})


def _totals(job: Job) -> dict | None:
    """A finished job's totals (static/js/jobs.js computes the same when the
    job finishes while the page is open)."""
    if job.status not in Job.FINISHED:
        return None
    stats = job.result or {}
    end = job.completed_at or job.cancelled_at
    took = (end - job.started_at).total_seconds() if end and job.started_at else None
    size = stats.get("bytes") or 0
    return {"bytes": size, "transfers": stats.get("transfers") or 0, "errors": stats.get("errors") or 0,
            "checks": stats.get("checks") or 0, "took": took,
            "average": size / took if took else None}


def _live_figures(job: Job) -> dict:
    """The progress card's figures as static/js/jobs.js writes them (jobs.figures)."""
    stats = job.result or {}
    return {"bytes": figures.size_of(stats.get("bytes") or 0, stats.get("total_bytes")),
            "transfers": figures.count(stats.get("transfers") or 0, stats.get("total_transfers"))}


@login_required
def job_detail(request, pk):
    job = _job_or_404(request, pk)
    logs, _more = selectors.job_logs(request.user, job.id, limit=500)
    owner = job.user_id == request.user.pk or access.is_superuser(request.user)
    preview = selectors.dry_run_preview(job)
    return render(request, "jobs/job_detail.html", {
        "job": job, "job_json": json.dumps(job_dict(job)), "logs": logs,
        "last_log_id": logs[-1].id if logs else 0,
        "finished": job.status in Job.FINISHED, "totals": _totals(job), "live": _live_figures(job),
        "can_cancel": owner and job.status in Job.ACTIVE,
        "can_retry": owner and job.status in (Job.Status.FAILED, Job.Status.CANCELLED),
        "can_run_for_real": job.user_id == request.user.pk and job.options.get("dry_run")
        and job.status == Job.Status.COMPLETED,
        "preview": preview,
        "preview_groups": [(key, verb, (preview or {}).get(key, [])) for key, verb in PREVIEW_VERBS],
    })


@login_required
@require_POST
def job_action(request, pk, action):
    job = _job_or_404(request, pk)
    try:
        if action == "cancel":
            services.job_cancel(actor=request.user, job=job)
            messages.success(request, _("Cancel requested."))
        elif action == "retry":
            services.job_retry(actor=request.user, job=job)
            messages.success(request, _("Queued again."))
        elif action == "run":
            real = services.job_run_previewed(actor=request.user, preview=job)
            messages.success(request, _("Started the real run of the previewed job."))
            return redirect("jobs:detail", pk=real.pk)
        else:
            raise Http404
    except ApplicationError as exc:
        _error(request, exc)
    return redirect("jobs:detail", pk=job.pk)


def _administered_remote_or_404(request, name) -> Remote:
    try:
        remote, acc = access.get_remote(request.user, name)
        if not acc.is_admin:
            raise NotFound()
    except ApplicationError:
        raise Http404 from None
    return remote


@login_required
@require_POST
def permission_revoke(request, name, grant_id):
    remote = _administered_remote_or_404(request, name)
    grant = RemotePermission.objects.filter(remote=remote, pk=grant_id).first()
    if grant is None:
        raise Http404
    try:
        services.permission_revoke(actor=request.user, grant=grant)
    except ApplicationError as exc:
        _error(request, exc)
    else:
        messages.success(request, _("Grant revoked."))
    return redirect("jobs:permissions", name=remote.name)


RULE_ROWS = 3  # blank path-rule rows the grant form offers (its script adds more)
MAX_RULE_ROWS = 200


def _rules_from_post(post) -> list[dict]:
    """The grant form's rule rows (``rule_path_<i>``, ``rule_allow_<i>``,
    ``rule_deny_<i>``) as path_rules; rows without a path are skipped."""
    rules = []
    for i in range(MAX_RULE_ROWS):
        path = post.get(f"rule_path_{i}", "").strip()
        if path:
            rules.append({"path": path, "allow": post.getlist(f"rule_allow_{i}"),
                          "deny": post.getlist(f"rule_deny_{i}")})
    return rules


@login_required
def remote_permissions(request, name):
    remote = _administered_remote_or_404(request, name)
    form = {"username": "", "permissions": [], "rules": []}
    if request.method == "POST":
        rules = _rules_from_post(request.POST)
        form = {"username": request.POST.get("username", "").strip(),
                "permissions": request.POST.getlist("permissions"), "rules": rules}
        try:
            user = User.objects.filter(username=form["username"]).first()
            if user is None:
                raise ValidationFailed(_("No such user."), fields={"username": [_("No user has this name.")]})
            services.permission_grant(actor=request.user, remote=remote, user=user,
                                      permissions=form["permissions"], path_rules=rules)
        except ApplicationError as exc:
            _error(request, exc)
        else:
            messages.success(request, _("Saved %(username)s's access.") % {"username": user.username})
            return redirect("jobs:permissions", name=remote.name)
    grants = selectors.grants_of(request.user, remote).select_related("user", "role", "department")
    rows = [*form["rules"], *({"path": "", "allow": [], "deny": []} for _ in range(RULE_ROWS))]
    labels = dict(PERMISSION_CHOICES)
    words = lambda names: ", ".join(str(labels.get(n, n)) for n in names)
    for grant in grants:
        grant.may = words(grant.permissions)
        grant.rules_shown = [{"path": r.get("path"), "allow": words(r.get("allow") or ()),
                              "deny": words(r.get("deny") or ())} for r in grant.path_rules or ()]
    return render(request, "jobs/permissions.html", {
        "remote": remote, "grants": grants, "form": form, "rule_rows": rows, "permission_names": PERMISSIONS,
        "permission_choices": PERMISSION_CHOICES})
