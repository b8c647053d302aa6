"""Hooks: how a higher app provides a function to a lower layer (core)."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from accounts.models import User
from accounts.services import user_create
from audit.alerts import alert_staff as audit_alert_staff
from audit.models import AuditLog
from audit.services import audit_record
from core import alerts, auditing
from core.hooks import Hook


def test_an_unregistered_hook_raises_rather_than_drop_the_call():
    hook = Hook("the thing", provider="nobody")
    with pytest.raises(ImproperlyConfigured, match="Nothing provides the thing: the nobody app registers it"):
        hook(x=1)


def test_a_hook_takes_one_provider():
    hook = Hook("the thing", provider="nobody")

    def first(**kw):
        return ("first", kw)

    hook.register(first)
    hook.register(first)  # the same one again (a second ready()) is fine
    assert hook(x=1) == ("first", {"x": 1})
    with pytest.raises(ImproperlyConfigured, match="already provided"):
        hook.register(lambda **kw: None)


@pytest.mark.django_db
def test_core_alerts_reach_staff_through_audit():
    assert alerts.staff_alert._func is audit_alert_staff
    alerts.alert_staff(code="test.core_alert", message="from core", details={"n": 1})
    entry = AuditLog.objects.get(action="alert.test.core_alert")
    assert entry.level == "critical" and entry.details == {"message": "from core", "n": 1}


@pytest.mark.django_db
def test_core_auditing_records_through_audit_in_the_callers_transaction():
    assert auditing.recorder._func is audit_record
    with pytest.raises(RuntimeError), transaction.atomic():
        user = user_create(username="gone", email="gone@example.com", password=None)  # records via core.auditing
        assert AuditLog.objects.filter(action="user.created", resource_id=str(user.pk)).exists()
        raise RuntimeError("roll back")
    assert not AuditLog.objects.filter(action="user.created").exists()
    entry = auditing.record(action="test.from_core", details={"n": 1})
    assert AuditLog.objects.get(pk=entry.pk).details == {"n": 1}


@pytest.mark.django_db
def test_without_a_recorder_a_change_below_audit_fails_instead_of_going_unrecorded(monkeypatch):
    monkeypatch.setattr(auditing.recorder, "_func", None)
    with pytest.raises(ImproperlyConfigured, match="Nothing provides the audit recorder"):
        user_create(username="unrecorded", email="u@example.com", password=None)
    assert not User.objects.filter(username="unrecorded").exists()
