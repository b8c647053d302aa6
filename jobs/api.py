"""The rclone jobs JSON API (api.md, "rclone jobs"). Thin: parse, call one
service or selector, render with jobs.presenters. API keys need
``jobs:read`` for reads and ``jobs:write`` for writes."""

from __future__ import annotations

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from config.api import CursorPage
from config.errors import NotFound, ValidationFailed, parse_uuid
from jobs import access, selectors, services
from jobs.models import RemotePermission
from jobs.presenters import grant_dict, job_dict, log_dict, remote_dict, schedule_dict
from orgs.models import Department, Role

SCOPES = {"GET": "jobs:read", "POST": "jobs:write", "PATCH": "jobs:write", "DELETE": "jobs:write"}


class NamePage(CursorPage):
    ordering = ("name", "id")


class CreatedPage(CursorPage):
    ordering = ("created_at", "id")


def _body(request) -> dict:
    if not isinstance(request.data, dict):
        raise ValidationFailed(fields={"non_field_errors": ["Send a JSON object."]})
    return request.data


def _datetime(value, field: str):
    if value in (None, ""):
        return None
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None or parsed.tzinfo is None:
        raise ValidationFailed(fields={field: ["An ISO 8601 time with a time zone."]})
    return parsed


def _paginate(view, request, queryset, present, page_class=CursorPage):
    paginator = page_class()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response([present(item) for item in page])


class BaseView(APIView):
    required_scopes = SCOPES


# --------------------------------------------------------------------------- remotes


class RemoteListView(BaseView):
    @extend_schema(summary="Remotes you can use", responses=OpenApiTypes.OBJECT)
    def get(self, request):
        return _paginate(self, request, selectors.remotes_for(request.user), remote_dict, NamePage)

    @extend_schema(summary="Create a remote (staff and power users)", request=OpenApiTypes.OBJECT,
                   responses={201: OpenApiTypes.OBJECT})
    def post(self, request):
        data = _body(request)
        remote = services.remote_create(actor=request.user, name=data.get("name"), type=data.get("type"),
                                        options=data.get("options") or {}, description=data.get("description", ""))
        return Response(remote_dict(remote), status=201)


class RemoteDetailView(BaseView):
    @extend_schema(summary="One remote (secret options only by name)", responses=OpenApiTypes.OBJECT)
    def get(self, request, name):
        remote, _ = access.get_remote(request.user, name)
        return Response(remote_dict(remote))

    @extend_schema(
        summary="Change a remote (staff and power users who administer it)",
        description="Body: any of {name, options, description, remove_secrets}. `options` replaces the non-secret "
                    "options, validated as at create; a secret option left out or sent blank keeps its stored value; "
                    "`remove_secrets` lists secret option names to drop. The type cannot change.",
        request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT,
    )
    def patch(self, request, name):
        remote, _ = access.get_remote(request.user, name)
        data = _body(request)
        allowed = ("name", "options", "description", "remove_secrets")
        unknown = sorted(set(data) - set(allowed))
        if unknown:
            raise ValidationFailed(fields={k: ["The type cannot be changed." if k == "type" else "Unknown field."]
                                           for k in unknown})
        remote = services.remote_update(actor=request.user, remote=remote,
                                        **{k: data[k] for k in allowed if k in data and data[k] is not None})
        return Response(remote_dict(remote))


class RemoteTestView(BaseView):
    required_scopes = {"POST": "jobs:read"}

    @extend_schema(summary="Test connection: a real listing of the remote's root", request=None,
                   responses=OpenApiTypes.OBJECT)
    def post(self, request, name):
        return Response(selectors.remote_test(request.user, name))


class RemoteBrowseView(BaseView):
    @extend_schema(summary="List one directory", parameters=[OpenApiParameter("path", str)],
                   responses=OpenApiTypes.OBJECT)
    def get(self, request, name):
        return Response({"entries": selectors.remote_browse(request.user, name, request.query_params.get("path", "/"))})


class RemotePermissionListView(BaseView):
    @extend_schema(summary="Grants on a remote (remote admins)", responses=OpenApiTypes.OBJECT)
    def get(self, request, name):
        remote, _ = access.get_remote(request.user, name)
        return _paginate(self, request, selectors.grants_of(request.user, remote), grant_dict, CreatedPage)

    @extend_schema(summary="Grant or replace permissions", request=OpenApiTypes.OBJECT,
                   responses={201: OpenApiTypes.OBJECT})
    def post(self, request, name):
        remote, _ = access.get_remote(request.user, name)
        data = _body(request)
        grantee = {}
        if data.get("user_id") is not None:
            grantee["user"] = User.objects.filter(pk=parse_uuid(data["user_id"], "user_id")).first()
            if grantee["user"] is None:
                raise ValidationFailed(fields={"user_id": ["No such user."]})
        if data.get("role_id") is not None:
            grantee["role"] = Role.objects.filter(pk=parse_uuid(data["role_id"], "role_id")).first()
            if grantee["role"] is None:
                raise ValidationFailed(fields={"role_id": ["No such role."]})
        if data.get("department_id") is not None:
            grantee["department"] = Department.objects.filter(pk=parse_uuid(data["department_id"], "department_id")).first()
            if grantee["department"] is None:
                raise ValidationFailed(fields={"department_id": ["No such department."]})
        grant = services.permission_grant(actor=request.user, remote=remote, permissions=data.get("permissions"),
                                          path_rules=data.get("path_rules"), **grantee)
        return Response(grant_dict(grant), status=201)


class RemotePermissionDetailView(BaseView):
    @extend_schema(summary="Revoke a grant (remote admins)", responses={204: None})
    def delete(self, request, name, grant_id):
        remote, _ = access.get_remote(request.user, name)
        grant = RemotePermission.objects.filter(remote=remote, pk=grant_id).first()
        if grant is None:
            raise NotFound("No such grant.")
        services.permission_revoke(actor=request.user, grant=grant)
        return Response(status=204)


# --------------------------------------------------------------------------- jobs


class JobListView(BaseView):
    @extend_schema(summary="Your jobs", parameters=[OpenApiParameter("status", str)], responses=OpenApiTypes.OBJECT)
    def get(self, request):
        qs = selectors.jobs_for(request.user, status=request.query_params.get("status") or None)
        return _paginate(self, request, qs, job_dict)

    @extend_schema(summary="Submit a job", request=OpenApiTypes.OBJECT, responses={201: OpenApiTypes.OBJECT},
                   description="Body as api.md. `options` also takes `verbose` (addition): true adds a log line "
                               "per file (rclone -v).")
    def post(self, request):
        data = _body(request)
        job = services.job_submit(
            actor=request.user, type=data.get("type"), source=data.get("source"),
            destination=data.get("destination"), priority=data.get("priority", 5),
            scheduled_for=_datetime(data.get("scheduled_for"), "scheduled_for"), options=data.get("options"),
        )
        return Response({"id": str(job.id), "status": job.status}, status=201)


class JobDetailView(BaseView):
    @extend_schema(summary="One job", responses=OpenApiTypes.OBJECT)
    def get(self, request, pk):
        return Response(job_dict(selectors.job_for(request.user, pk)))


class JobCancelView(BaseView):
    @extend_schema(summary="Cancel a job", request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request, pk):
        job = services.job_cancel(actor=request.user, job=selectors.job_for(request.user, pk))
        return Response(job_dict(job))


class JobRetryView(BaseView):
    @extend_schema(summary="Run a failed or cancelled job again", request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request, pk):
        job = services.job_retry(actor=request.user, job=selectors.job_for(request.user, pk))
        return Response(job_dict(job))


class JobLogsView(BaseView):
    @extend_schema(summary="A job's log lines, oldest first",
                   parameters=[OpenApiParameter("after", int), OpenApiParameter("limit", int)],
                   responses=OpenApiTypes.OBJECT)
    def get(self, request, pk):
        try:
            after = int(request.query_params["after"]) if request.query_params.get("after") else None
            limit = min(500, max(1, int(request.query_params.get("limit", 100))))
        except ValueError:
            raise ValidationFailed(fields={"after": ["A log id (integer)."]}) from None
        rows, next_after = selectors.job_logs(request.user, pk, after=after, limit=limit)
        return Response({"results": [log_dict(r) for r in rows], "next": str(next_after) if next_after else None})


# --------------------------------------------------------------------------- schedules


def _schedule_fields(data: dict, *, partial: bool) -> dict:
    out = {}
    for key in ("name", "description", "rule_type", "cron_expression", "interval_seconds", "job_template", "is_active"):
        if key in data:
            out[key] = data[key]
    if "run_at" in data:
        out["run_at"] = _datetime(data["run_at"], "run_at")
    if "timezone" in data:
        out["timezone"] = data["timezone"]
    if not partial:
        missing = [k for k in ("name", "rule_type", "job_template") if k not in out]
        if missing:
            raise ValidationFailed(fields={k: ["This field is required."] for k in missing})
    return out


class ScheduleListView(BaseView):
    @extend_schema(summary="Your schedules", responses=OpenApiTypes.OBJECT)
    def get(self, request):
        return _paginate(self, request, selectors.schedules_for(request.user), schedule_dict)

    @extend_schema(summary="Create a schedule", request=OpenApiTypes.OBJECT, responses={201: OpenApiTypes.OBJECT})
    def post(self, request):
        fields = _schedule_fields(_body(request), partial=False)
        rule = services.schedule_create(
            actor=request.user, name=fields["name"], rule_type=fields["rule_type"], job_template=fields["job_template"],
            timezone_name=fields.get("timezone", "UTC"), cron_expression=fields.get("cron_expression"),
            interval_seconds=fields.get("interval_seconds"), run_at=fields.get("run_at"),
            is_active=fields.get("is_active", True), description=fields.get("description", ""),
        )
        return Response(schedule_dict(rule), status=201)


class ScheduleDetailView(BaseView):
    @extend_schema(summary="One schedule", responses=OpenApiTypes.OBJECT)
    def get(self, request, pk):
        return Response(schedule_dict(selectors.schedule_for(request.user, pk)))

    @extend_schema(summary="Change, pause (is_active=false) or resume a schedule", request=OpenApiTypes.OBJECT,
                   responses=OpenApiTypes.OBJECT)
    def patch(self, request, pk):
        rule = selectors.schedule_for(request.user, pk)
        rule = services.schedule_update(actor=request.user, rule=rule, **_schedule_fields(_body(request), partial=True))
        return Response(schedule_dict(rule))

    @extend_schema(summary="Delete a schedule", responses={204: None})
    def delete(self, request, pk):
        services.schedule_delete(actor=request.user, rule=selectors.schedule_for(request.user, pk))
        return Response(status=204)


class SchedulePreviewView(BaseView):
    @extend_schema(summary="The next 5 run times", responses=OpenApiTypes.OBJECT)
    def get(self, request, pk):
        rule = selectors.schedule_for(request.user, pk)
        runs = services.next_runs(rule, after=timezone.now(), count=5)
        return Response({"next_runs": [r.isoformat().replace("+00:00", "Z") for r in runs]})
