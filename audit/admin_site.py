"""The default admin site, audited: every add, change, delete and action.

``AuditedAdminConfig`` (audit/apps.py) makes this the class of
``django.contrib.admin.site``, so every ``@admin.register`` in any app gets a
ModelAdmin with ``AuditedModelAdminMixin`` mixed in. Hooking the admin's own
``log_addition`` / ``log_change`` / ``log_deletions`` (what it calls for
LogEntry) and wrapping each action covers bulk deletes and custom actions,
which a LogEntry post_save signal would miss (bulk deletes use bulk_create).
Entries are written in the admin view's transaction.
"""

from __future__ import annotations

import functools
import re

from django.contrib.admin import AdminSite, ModelAdmin
from django.db import models, router, transaction
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy

from audit import org_scope
from audit.services import audit_record
from config.forms import JSONFormField
from core.jsonable import jsonable

# Field values never copied into the audit trail.
SENSITIVE_FIELD_RE = re.compile(r"password|secret|token|key_hash|digest|otp", re.IGNORECASE)
ACTION_MAX_IDS = 500


def snapshot(obj) -> dict:
    """Field values of a model instance as JSON, secrets masked."""
    data = {}
    for field in obj._meta.concrete_fields:
        if getattr(field, "generated", False):
            continue
        value = "***" if SENSITIVE_FIELD_RE.search(field.name) else jsonable(field.value_from_object(obj))
        data[field.name] = value
    if obj.pk is not None:
        for field in obj._meta.many_to_many:
            data[field.name] = sorted(str(pk) for pk in getattr(obj, field.name).values_list("pk", flat=True))
    return data


def changes(before: dict, after: dict) -> dict:
    return {
        name: {"old": before.get(name), "new": value}
        for name, value in after.items()
        if before.get(name) != value
    }


def _bounded_json(admin_or_inline) -> None:
    # JSON typed into the admin is read within bounds (config.safejson).
    # formfield_overrides is the instance's own copy (BaseModelAdmin.__init__).
    admin_or_inline.formfield_overrides.setdefault(models.JSONField, {}).setdefault("form_class", JSONFormField)


class AuditedModelAdminMixin:
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _bounded_json(self)

    def get_inline_instances(self, request, obj=None):
        inlines = super().get_inline_instances(request, obj)
        for inline in inlines:
            _bounded_json(inline)
        return inlines

    def _audit(self, request, code: str, obj=None, **details):
        audit_record(
            action=code,
            actor=request.user,
            org=org_scope.org_of(obj) if obj is not None else None,
            resource_type=self.model._meta.label_lower[:50],
            resource_id=str(obj.pk) if obj is not None else "",
            details={"model": self.model._meta.label_lower, **details},
        )

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None and request.method == "POST":
            # The values before the change view edits them, for old/new details.
            request._audit_before = snapshot(obj)
        return obj

    def log_addition(self, request, obj, message):
        logged = super().log_addition(request, obj, message)
        self._audit(request, "admin.add", obj, repr=str(obj)[:200], new=snapshot(obj), message=message)
        return logged

    def log_change(self, request, obj, message):
        logged = super().log_change(request, obj, message)
        before = getattr(request, "_audit_before", None) or {}
        self._audit(request, "admin.change", obj, repr=str(obj)[:200], changes=changes(before, snapshot(obj)),
                    message=message)
        return logged

    def log_deletions(self, request, queryset):
        logged = super().log_deletions(request, queryset)
        for obj in queryset:
            self._audit(request, "admin.delete", obj, repr=str(obj)[:200], old=snapshot(obj))
        return logged

    def get_actions(self, request):
        return {
            name: (self._audited_action(name, func), name, description)
            for name, (func, _name, description) in super().get_actions(request).items()
        }

    def _audited_action(self, name, func):
        @functools.wraps(func)
        def run(modeladmin, request, queryset):
            with transaction.atomic(using=router.db_for_write(modeladmin.model)):
                ids = [str(pk) for pk in queryset.values_list("pk", flat=True)[: ACTION_MAX_IDS + 1]]
                count = len(ids) if len(ids) <= ACTION_MAX_IDS else queryset.count()
                response = func(modeladmin, request, queryset)
                # An action that answers with a page (e.g. delete_selected's
                # confirmation) has done nothing yet; it is recorded when confirmed.
                if not isinstance(response, TemplateResponse):
                    self._audit(request, "admin.action", None, action=name, count=count,
                                ids=ids[:ACTION_MAX_IDS], truncated=count > ACTION_MAX_IDS)
                return response

        return run


class AuditedAdminSite(AdminSite):
    # Teamhub's own names (Django's default ones say "Django"), in the reader's language.
    site_title = gettext_lazy("Teamhub admin")
    site_header = gettext_lazy("Teamhub administration")
    index_title = gettext_lazy("Site administration")

    def register(self, model_or_iterable, admin_class=None, **options):
        admin_class = admin_class or ModelAdmin
        if not issubclass(admin_class, AuditedModelAdminMixin):
            admin_class = type(
                admin_class.__name__, (AuditedModelAdminMixin, admin_class), {"__module__": admin_class.__module__}
            )
        return super().register(model_or_iterable, admin_class, **options)
