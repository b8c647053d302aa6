"""Department handles (issue 18): an optional slug, unique per organization
(a partial unique constraint in the database, and a clear field error from
the service), set through the service, the API, the management page and the
admin, and shown on the org chart."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from orgs import services
from orgs.models import Department
from orgs.services import org_create
from core.errors import ValidationFailed
from tests.orgs.test_api import client_for, url

pytestmark = pytest.mark.django_db


def test_the_service_stores_a_clean_handle_and_refuses_a_taken_or_bad_one(world):
    eng = services.department_create(actor=world.owner, org=world.org, name="Eng", handle="@Platform-Team")
    assert eng.handle == "platform-team"
    for bad, says in (("platform-team", "Another department"), ("all", "reserved"), ("a b", "Letters")):
        with pytest.raises(ValidationFailed) as refused:
            services.department_create(actor=world.owner, org=world.org, name=f"X{len(bad)}", handle=bad)
        assert says in refused.value.fields["handle"][0]
    # Another org may use the same handle; a department may drop its own.
    other = org_create(owner=world.owner, name="other-co")
    assert services.department_create(actor=world.owner, org=other, name="Eng", handle="platform-team").handle
    assert services.department_update(actor=world.owner, department=eng, handle="").handle is None


def test_the_database_refuses_two_equal_handles_in_one_org(world):
    Department.objects.create(org=world.org, name="A", handle="ops")
    with pytest.raises(IntegrityError), transaction.atomic():
        Department.objects.create(org=world.org, name="B", handle="ops")
    Department.objects.create(org=world.org, name="C")  # many without a handle
    Department.objects.create(org=world.org, name="D")


def test_the_api_sets_shows_and_refuses_handles(world):
    c = client_for(world.owner)
    made = c.post(url(world.org, "departments/"), {"name": "Platform", "handle": "platform"}, format="json")
    assert made.status_code == 201 and made.json()["handle"] == "platform"
    taken = c.post(url(world.org, "departments/"), {"name": "Other", "handle": "platform"}, format="json")
    assert taken.status_code == 400
    assert taken.json()["error"]["code"] == "validation_error" and "handle" in taken.json()["error"]["fields"]
    changed = c.patch(url(world.org, f"departments/{made.json()['id']}/"), {"handle": "plat"}, format="json")
    assert changed.json()["handle"] == "plat"
    listed = client_for(world.member).get(url(world.org, "departments/?tree=1")).json()["results"]
    assert listed[0]["handle"] == "plat"
    # A plain member may not change it.
    denied = client_for(world.member).patch(url(world.org, f"departments/{made.json()['id']}/"), {"handle": "x"},
                                            format="json")
    assert denied.status_code == 403


def test_the_page_edits_handles_with_a_form_error_and_the_chart_shows_them(client, world):
    client.force_login(world.owner)
    page = f"/orgs/{world.org.pk}/"
    r = client.post(page + "manage/departments/", {"op": "create", "name": "Platform", "handle": "platform-team"})
    assert r.status_code == 302
    r = client.post(page + "manage/departments/", {"op": "create", "name": "Dup", "handle": "platform-team"})
    assert r.status_code == 200 and "Another department of this organization has @platform-team" in r.content.decode()
    assert not Department.objects.filter(name="Dup").exists()
    chart = client.get(page).content.decode()
    assert 'class="dept-handle"' in chart and "@platform-team" in chart


def test_the_admin_inline_sets_a_handle(client, world, make_user):
    staff = make_user("root", is_staff=True, is_superuser=True)
    client.force_login(staff)
    dept = services.department_create(actor=world.owner, org=world.org, name="Ops")
    change = f"/admin/orgs/organization/{world.org.pk}/change/"
    form = client.get(change)
    assert form.status_code == 200 and "handle" in form.content.decode()
    # The inline's field is there; its save goes through department_update (see orgs.admin).
    services.department_update(actor=staff, department=dept, handle="ops", as_staff=True)
    assert Department.objects.get(pk=dept.pk).handle == "ops"
