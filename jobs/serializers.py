"""Shapes of the rclone jobs API (api.md, "rclone jobs"): ``...Input``
checks a request, ``...Serializer`` renders a response (config.serializers).

The objects are built by jobs.presenters, which the pages and the socket's
``job.progress`` frames share; their serializers declare them and render
what it builds. The services check the bodies' types and rules themselves,
in the contract's words (jobs.access, jobs.rclone, jobs.runner), so most
input fields pass what was sent on as it is (``service_checked``)."""

from __future__ import annotations

from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from rest_framework import serializers

from config.serializers import Number, Presented, json_shape, service_checked
from jobs.models import PERMISSIONS, Job, JobLog, Remote, ScheduleRule
from jobs.presenters import grant_dict, job_dict, log_dict, remote_dict, schedule_dict

_END = {
    "type": "object",
    "required": ["remote", "path"],
    "properties": {"remote": {"type": "string"}, "path": {"type": "string"}},
}
_OPTIONS = {
    "type": "object",
    "properties": {
        "dry_run": {"type": "boolean"},
        "bwlimit": {"type": "string", "description": "A rate such as 512K, 10M or off."},
        "checksum": {"type": "boolean"},
        "max_delete": {"type": "integer", "minimum": 0},
        "include": {"type": "array", "items": {"type": "string"}},
        "exclude": {"type": "array", "items": {"type": "string"}},
        "verbose": {"type": "boolean", "description": "A log line per file (rclone -v)."},
    },
}
_PATH_RULE = {
    "type": "object",
    "required": ["path"],
    "properties": {
        "path": {"type": "string", "description": "A path on the remote; * and ? are wildcards."},
        "allow": {"type": "array", "items": {"$ref": "#/components/schemas/RemotePermissionEnum"}},
        "deny": {"type": "array", "items": {"$ref": "#/components/schemas/RemotePermissionEnum"}},
    },
}
# Enums by the names config.settings gives them (SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]).
_TEMPLATE = {
    "type": "object",
    "required": ["type", "source"],
    "properties": {
        "type": {"$ref": "#/components/schemas/JobTypeEnum"},
        "source": {"$ref": "#/components/schemas/JobEnd"},
        "destination": {"allOf": [{"$ref": "#/components/schemas/JobEnd"}], "nullable": True},
        "options": {"$ref": "#/components/schemas/JobOptions"},
        "priority": {"type": "integer", "minimum": 1, "maximum": 10},
    },
}

JobEnd = json_shape("JobEnd", "A place on a remote: the remote's name and a path inside it.", _END)
JobOptions = json_shape("JobOptions", "The job's rclone options (an allow-list; never raw flags).", _OPTIONS)
RemoteOptions = json_shape(
    "RemoteOptions",
    "The backend's non-secret options, as rclone names them (for `local`, `root`: an absolute directory). "
    "Secret ones are never shown.",
)
JobTemplate = json_shape("JobTemplate", "The job a schedule submits, as POST /jobs/ takes it.", _TEMPLATE)
LogDetails = json_shape("LogDetails", "What the log line is about (for a file, its name and size), or null.")

# ---------------------------------------------------------------- output


class RemoteSerializer(Presented):
    """A remote (secret options only by name)."""

    id = serializers.UUIDField()
    name = serializers.CharField()
    type = serializers.ChoiceField(choices=Remote.Type.choices)
    options = RemoteOptions()
    secret_options_set = serializers.ListField(child=serializers.CharField(),
                                               help_text="The names of the secret options that are set.")
    description = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()

    def present(self, remote):
        return remote_dict(remote)


class PathRuleSerializer(serializers.Serializer):
    path = serializers.CharField(help_text="A path on the remote; * and ? are wildcards.")
    allow = serializers.ListField(child=serializers.ChoiceField(choices=PERMISSIONS), required=False)
    deny = serializers.ListField(child=serializers.ChoiceField(choices=PERMISSIONS), required=False)


class GrantSerializer(Presented):
    """Permissions on a remote for one user, role or department."""

    id = serializers.UUIDField()
    remote = serializers.CharField(help_text="The remote's name.")
    user_id = serializers.UUIDField(allow_null=True)
    role_id = serializers.UUIDField(allow_null=True)
    department_id = serializers.UUIDField(allow_null=True)
    permissions = serializers.ListField(child=serializers.ChoiceField(choices=PERMISSIONS))
    path_rules = PathRuleSerializer(many=True)
    created_at = serializers.DateTimeField()

    def present(self, grant):
        return grant_dict(grant)


class JobStatsSerializer(serializers.Serializer):
    bytes = serializers.IntegerField()
    total_bytes = serializers.IntegerField()
    speed = Number(help_text="Bytes per second.")
    eta = serializers.IntegerField(allow_null=True, help_text="Seconds left, when rclone can tell.")
    transfers = serializers.IntegerField()
    total_transfers = serializers.IntegerField()
    errors = serializers.IntegerField()
    checks = serializers.IntegerField()


class FileTransferSerializer(serializers.Serializer):
    name = serializers.CharField(allow_null=True)
    bytes = serializers.IntegerField(allow_null=True)
    size = serializers.IntegerField(allow_null=True)
    percentage = serializers.IntegerField(allow_null=True)


class JobSerializer(Presented):
    """A job and its progress (the socket's `job.progress` frames carry the same)."""

    id = serializers.UUIDField()
    type = serializers.ChoiceField(choices=Job.Type.choices)
    status = serializers.ChoiceField(choices=Job.Status.choices)
    priority = serializers.IntegerField(help_text="1 to 10; 10 is the most urgent.")
    progress = serializers.IntegerField(help_text="Percent done, 0 to 100.")
    source = JobEnd()
    destination = JobEnd(allow_null=True)
    options = JobOptions()
    stats = JobStatsSerializer()
    transferring = FileTransferSerializer(many=True, help_text="The files being transferred now (at most 20).")
    error = serializers.CharField(allow_null=True)
    retry_count = serializers.IntegerField()
    max_retries = serializers.IntegerField()
    scheduled_for = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)
    cancelled_at = serializers.DateTimeField(allow_null=True)
    schedule_id = serializers.UUIDField(allow_null=True, help_text="The schedule that submitted it, if any.")

    def present(self, job):
        return job_dict(job)


class JobCreatedSerializer(serializers.ModelSerializer):
    class Meta:
        model = Job
        fields = ["id", "status"]
        read_only_fields = fields


class JobLogSerializer(Presented):
    id = serializers.IntegerField(help_text="Increasing; pass the last one as `after=`.")
    level = serializers.ChoiceField(choices=JobLog.Level.choices)
    message = serializers.CharField(allow_blank=True)
    details = LogDetails(allow_null=True)
    created_at = serializers.DateTimeField()

    def present(self, log):
        return log_dict(log)


class JobLogPageSerializer(serializers.Serializer):
    """A job's log lines, oldest first."""

    results = JobLogSerializer(many=True)
    next = serializers.CharField(allow_null=True, help_text="The `after=` of the next page, or null.")


class ScheduleSerializer(Presented):
    """A schedule that submits a job by a cron rule, an interval or once."""

    id = serializers.UUIDField()
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    rule_type = serializers.ChoiceField(choices=ScheduleRule.RuleType.choices)
    cron_expression = serializers.CharField(allow_null=True)
    interval_seconds = serializers.IntegerField(allow_null=True)
    run_at = serializers.DateTimeField(allow_null=True)
    timezone = serializers.CharField(help_text="The IANA time zone the rule is read in.")
    job_template = JobTemplate()
    is_active = serializers.BooleanField()
    last_run_at = serializers.DateTimeField(allow_null=True)
    next_run_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()

    def present(self, rule):
        return schedule_dict(rule)


class SchedulePreviewSerializer(serializers.Serializer):
    next_runs = serializers.ListField(child=serializers.DateTimeField(), help_text="The next 5 run times.")


class RemoteTestSerializer(serializers.Serializer):
    """The outcome of a real listing of the remote's root."""

    ok = serializers.BooleanField()
    entries = serializers.IntegerField(required=False, help_text="When ok: how many entries the root has.")
    error = serializers.CharField(required=False, help_text="When not ok: why.")


class EntrySerializer(serializers.Serializer):
    name = serializers.CharField()
    path = serializers.CharField()
    is_dir = serializers.BooleanField()
    size = serializers.IntegerField(allow_null=True, help_text="Bytes; null for a directory.")
    mod_time = serializers.CharField(allow_null=True, help_text="ISO 8601, as the backend reports it.")


class BrowseSerializer(serializers.Serializer):
    """The entries of one directory that the caller may read, directories first."""

    entries = EntrySerializer(many=True)


# ---------------------------------------------------------------- input

_OBJECT = "Send a JSON object."


class _Body(serializers.Serializer):
    default_error_messages = {"invalid": _OBJECT, "null": _OBJECT}


class AwareDateTime(serializers.DateTimeField):
    """An ISO 8601 time that names its time zone; empty is none."""

    def __init__(self, **kwargs):
        super().__init__(**{"required": False, "allow_null": True, "default": None, **kwargs})

    def to_internal_value(self, value):
        if value == "":
            return None
        parsed = parse_datetime(value) if isinstance(value, str) else None
        if parsed is None or parsed.tzinfo is None:
            raise serializers.ValidationError(_("An ISO 8601 time with a time zone."))
        return parsed


class RemoteCreateInput(_Body):
    name = service_checked({"type": "string", "description": "1-64 letters, digits or underscores."}, required=True)
    type = service_checked({"$ref": "#/components/schemas/RemoteTypeEnum"}, required=True)
    options = service_checked({"$ref": "#/components/schemas/RemoteOptions"}, default=None)
    description = service_checked({"type": "string"}, default="")


class RemoteUpdateInput(_Body):
    """Any of these; the type cannot change."""

    name = service_checked({"type": "string"})
    options = service_checked(
        {"$ref": "#/components/schemas/RemoteOptions"},
        help_text="Replaces the non-secret options, validated as at create; a secret option left out or sent "
                  "blank keeps its stored value.",
    )
    description = service_checked({"type": "string"})
    remove_secrets = service_checked({"type": "array", "items": {"type": "string"}},
                                     help_text="Names of secret options to drop.")

    def to_internal_value(self, data):
        unknown = sorted(set(data) - set(self.fields)) if isinstance(data, dict) else []
        if unknown:
            raise serializers.ValidationError(
                {k: [_("The type cannot be changed.") if k == "type" else _("Unknown field.")] for k in unknown})
        # A null is the same as leaving the field out.
        return {k: v for k, v in super().to_internal_value(data).items() if v is not None}


class BrowseInput(serializers.Serializer):
    path = serializers.CharField(required=False, default="/", allow_blank=True, trim_whitespace=False)


class GrantInput(_Body):
    """Exactly one of user_id, role_id, department_id."""

    user_id = serializers.UUIDField(required=False, allow_null=True, error_messages={"invalid": "Must be a UUID."})
    role_id = serializers.UUIDField(required=False, allow_null=True, error_messages={"invalid": "Must be a UUID."})
    department_id = serializers.UUIDField(required=False, allow_null=True,
                                          error_messages={"invalid": "Must be a UUID."})
    permissions = service_checked({"type": "array", "items": {"$ref": "#/components/schemas/RemotePermissionEnum"}})
    path_rules = service_checked({"type": "array", "items": _PATH_RULE})


class JobListInput(serializers.Serializer):
    status = serializers.CharField(required=False, allow_blank=True, help_text=", ".join(Job.Status.values))


class JobSubmitInput(_Body):
    type = service_checked({"$ref": "#/components/schemas/JobTypeEnum"}, required=True)
    source = service_checked({"$ref": "#/components/schemas/JobEnd"}, required=True)
    destination = service_checked({"$ref": "#/components/schemas/JobEnd"}, default=None,
                                  help_text="For copy, move, sync and backup.")
    priority = service_checked({"type": "integer", "minimum": 1, "maximum": 10}, default=5)
    scheduled_for = AwareDateTime(help_text="Run no earlier than this.")
    options = service_checked({"$ref": "#/components/schemas/JobOptions"}, default=None)


class JobLogsInput(serializers.Serializer):
    after = serializers.IntegerField(required=False, allow_null=True, default=None,
                                     error_messages={"invalid": "A log id (integer)."})
    limit = serializers.IntegerField(required=False, default=100, help_text="1 to 500.")

    def validate_limit(self, value):
        return min(500, max(1, value))


class ScheduleInput(_Body):
    name = service_checked({"type": "string"}, required=True)
    description = service_checked({"type": "string"}, default="")
    rule_type = service_checked({"$ref": "#/components/schemas/ScheduleRuleTypeEnum"}, required=True)
    cron_expression = service_checked({"type": "string"}, default=None)
    interval_seconds = service_checked({"type": "integer", "minimum": 60}, default=None)
    run_at = AwareDateTime()
    timezone = service_checked({"type": "string", "description": "An IANA time zone."}, default="UTC")
    job_template = service_checked({"$ref": "#/components/schemas/JobTemplate"}, required=True)
    is_active = service_checked({"type": "boolean"}, default=True)
