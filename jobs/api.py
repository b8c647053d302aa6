"""The rclone jobs JSON API (api.md, "rclone jobs"). Thin: validate with an
input serializer, call one service or selector, render with an output
serializer (jobs/serializers.py). API keys need ``jobs:read`` for reads and
``jobs:write`` for writes."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from config.api import paginate
from config.serializers import PAGE_PARAMETERS, page_of, validated
from core.errors import NotFound, ValidationFailed
from core.replicas import lag_tolerant
from jobs import access, selectors, services
from jobs import serializers as s
from jobs.models import RemotePermission
from orgs.models import Department, Role

SCOPES = {"GET": "jobs:read", "POST": "jobs:write", "PATCH": "jobs:write", "DELETE": "jobs:write"}


def _grantee(data: dict) -> dict:
    """The user, role or department a grant names, by id."""
    grantee = {}
    for field, key, model, missing in (("user_id", "user", User, gettext_lazy("No such user.")),
                                       ("role_id", "role", Role, gettext_lazy("No such role.")),
                                       ("department_id", "department", Department, gettext_lazy("No such department."))):
        if data.get(field) is not None:
            grantee[key] = model.objects.filter(pk=data[field]).first()
            if grantee[key] is None:
                raise ValidationFailed(fields={field: [str(missing)]})
    return grantee


class BaseView(APIView):
    required_scopes = SCOPES


# --------------------------------------------------------------------------- remotes


class RemoteListView(BaseView):
    @extend_schema(operation_id="v1_remotes_list", summary="Remotes you can use", parameters=PAGE_PARAMETERS,
                   responses=page_of(s.RemoteSerializer))
    def get(self, request):
        return paginate(self, request, selectors.remotes_for(request.user), s.RemoteSerializer, ordering=("name", "id"))

    @extend_schema(summary="Create a remote (staff and power users)", request=s.RemoteCreateInput,
                   responses={201: s.RemoteSerializer})
    def post(self, request):
        data = validated(s.RemoteCreateInput, request.data)
        remote = services.remote_create(actor=request.user, name=data["name"], type=data["type"],
                                        options=data["options"] or {}, description=data["description"])
        return Response(s.RemoteSerializer(remote).data, status=201)


class RemoteDetailView(BaseView):
    @extend_schema(summary="One remote (secret options only by name)", responses=s.RemoteSerializer)
    def get(self, request, name):
        remote, _access = access.get_remote(request.user, name)
        return Response(s.RemoteSerializer(remote).data)

    @extend_schema(summary="Change a remote (staff and power users who administer it)",
                   request=s.RemoteUpdateInput, responses=s.RemoteSerializer)
    def patch(self, request, name):
        remote, _access = access.get_remote(request.user, name)
        changes = validated(s.RemoteUpdateInput, request.data, partial=True)
        remote = services.remote_update(actor=request.user, remote=remote, **changes)
        return Response(s.RemoteSerializer(remote).data)


class RemoteTestView(BaseView):
    required_scopes = {"POST": "jobs:read"}

    @extend_schema(summary="Test connection: a real listing of the remote's root", request=None,
                   responses=s.RemoteTestSerializer)
    def post(self, request, name):
        return Response(s.RemoteTestSerializer(selectors.remote_test(request.user, name)).data)


class RemoteBrowseView(BaseView):
    @extend_schema(summary="List one directory", parameters=[s.BrowseInput], responses=s.BrowseSerializer)
    def get(self, request, name):
        path = validated(s.BrowseInput, request.query_params)["path"]
        entries = selectors.remote_browse(request.user, name, path)
        return Response(s.BrowseSerializer({"entries": entries}).data)


class RemotePermissionListView(BaseView):
    @extend_schema(summary="Grants on a remote (remote admins)", parameters=PAGE_PARAMETERS,
                   responses=page_of(s.GrantSerializer))
    def get(self, request, name):
        remote, _access = access.get_remote(request.user, name)
        return paginate(self, request, selectors.grants_of(request.user, remote), s.GrantSerializer,
                        ordering=("created_at", "id"))

    @extend_schema(summary="Grant or replace permissions", request=s.GrantInput, responses={201: s.GrantSerializer})
    def post(self, request, name):
        remote, _access = access.get_remote(request.user, name)
        data = validated(s.GrantInput, request.data)
        grant = services.permission_grant(actor=request.user, remote=remote, permissions=data.get("permissions"),
                                          path_rules=data.get("path_rules"), **_grantee(data))
        return Response(s.GrantSerializer(grant).data, status=201)


class RemotePermissionDetailView(BaseView):
    @extend_schema(summary="Revoke a grant (remote admins)", responses={204: None})
    def delete(self, request, name, grant_id):
        remote, _access = access.get_remote(request.user, name)
        grant = RemotePermission.objects.filter(remote=remote, pk=grant_id).first()
        if grant is None:
            raise NotFound(_("No such grant."))
        services.permission_revoke(actor=request.user, grant=grant)
        return Response(status=204)


# --------------------------------------------------------------------------- jobs


class JobListView(BaseView):
    @extend_schema(operation_id="v1_jobs_list", summary="Your jobs", parameters=[s.JobListInput, *PAGE_PARAMETERS],
                   responses=page_of(s.JobSerializer))
    @lag_tolerant
    def get(self, request):
        status = validated(s.JobListInput, request.query_params).get("status") or None
        return paginate(self, request, selectors.jobs_for(request.user, status=status), s.JobSerializer)

    @extend_schema(summary="Submit a job", request=s.JobSubmitInput, responses={201: s.JobCreatedSerializer},
                   description="Body as api.md. `options` also takes `verbose` (addition): true adds a log line "
                               "per file (rclone -v).")
    def post(self, request):
        job = services.job_submit(actor=request.user, **validated(s.JobSubmitInput, request.data))
        return Response(s.JobCreatedSerializer(job).data, status=201)


class JobDetailView(BaseView):
    @extend_schema(summary="One job", responses=s.JobSerializer)
    def get(self, request, pk):
        return Response(s.JobSerializer(selectors.job_for(request.user, pk)).data)


class JobCancelView(BaseView):
    @extend_schema(summary="Cancel a job", request=None, responses=s.JobSerializer)
    def post(self, request, pk):
        job = services.job_cancel(actor=request.user, job=selectors.job_for(request.user, pk))
        return Response(s.JobSerializer(job).data)


class JobRetryView(BaseView):
    @extend_schema(summary="Run a failed or cancelled job again", request=None, responses=s.JobSerializer)
    def post(self, request, pk):
        job = services.job_retry(actor=request.user, job=selectors.job_for(request.user, pk))
        return Response(s.JobSerializer(job).data)


class JobLogsView(BaseView):
    @extend_schema(summary="A job's log lines, oldest first", parameters=[s.JobLogsInput],
                   responses=s.JobLogPageSerializer)
    @lag_tolerant
    def get(self, request, pk):
        rows, next_after = selectors.job_logs(request.user, pk, **validated(s.JobLogsInput, request.query_params))
        page = {"results": rows, "next": str(next_after) if next_after else None}
        return Response(s.JobLogPageSerializer(page).data)


# --------------------------------------------------------------------------- schedules


class ScheduleListView(BaseView):
    @extend_schema(operation_id="v1_schedules_list", summary="Your schedules", parameters=PAGE_PARAMETERS,
                   responses=page_of(s.ScheduleSerializer))
    def get(self, request):
        return paginate(self, request, selectors.schedules_for(request.user), s.ScheduleSerializer)

    @extend_schema(summary="Create a schedule", request=s.ScheduleInput, responses={201: s.ScheduleSerializer})
    def post(self, request):
        fields = validated(s.ScheduleInput, request.data)
        rule = services.schedule_create(actor=request.user, timezone_name=fields.pop("timezone"), **fields)
        return Response(s.ScheduleSerializer(rule).data, status=201)


class ScheduleDetailView(BaseView):
    @extend_schema(summary="One schedule", responses=s.ScheduleSerializer)
    def get(self, request, pk):
        return Response(s.ScheduleSerializer(selectors.schedule_for(request.user, pk)).data)

    @extend_schema(summary="Change, pause (is_active=false) or resume a schedule", request=s.ScheduleInput,
                   responses=s.ScheduleSerializer)
    def patch(self, request, pk):
        rule = selectors.schedule_for(request.user, pk)
        changes = validated(s.ScheduleInput, request.data, partial=True)
        rule = services.schedule_update(actor=request.user, rule=rule, **changes)
        return Response(s.ScheduleSerializer(rule).data)

    @extend_schema(summary="Delete a schedule", responses={204: None})
    def delete(self, request, pk):
        services.schedule_delete(actor=request.user, rule=selectors.schedule_for(request.user, pk))
        return Response(status=204)


class SchedulePreviewView(BaseView):
    @extend_schema(summary="The next 5 run times", responses=s.SchedulePreviewSerializer)
    def get(self, request, pk):
        rule = selectors.schedule_for(request.user, pk)
        runs = services.next_runs(rule, after=timezone.now(), count=5)
        return Response(s.SchedulePreviewSerializer({"next_runs": runs}).data)
