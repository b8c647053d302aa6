"""The org pages: list, org chart, member directory, settings, and
management pages for departments, positions, roles, members and proxies.

Thin like the API: every read goes through orgs.selectors and every write
through orgs.services, so the same permission check and audit apply. The
"acting as" switch stores a principal per org in the session; pages then
run as that principal through the user's proxy, like X-Act-As on the API.
"""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.decorators.http import require_POST

from accounts import dates
from accounts.models import User
from config.forms import form_errors
from core.errors import ApplicationError, NotFound, PermissionDenied
from orgs import forms, selectors, services
from orgs.permissions import acting_for_principal, effective_grant

RESOURCES = ("org", "departments", "positions", "roles", "members", "proxies")


def _act_as_key(org) -> str:
    return f"orgs.act_as.{org.pk}"


def _acting_for(request, org) -> User | None:
    """The session's principal for this org, dropped once the proxy stops working."""
    principal_id = request.session.get(_act_as_key(org))
    if not principal_id:
        return None
    try:
        return acting_for_principal(request.user, org, principal_id)
    except PermissionDenied:
        request.session.pop(_act_as_key(org), None)
        messages.warning(request, _("Your proxy has ended; you are acting as yourself again."))
        return None


class OrgPage:
    """What every org page needs: the org, the principal, and what may be shown."""

    def __init__(self, request, org_id):
        self.request = request
        self.org = selectors.org_get(actor=request.user, org_id=org_id)  # NotFound for non-members
        self.acting_for = _acting_for(request, self.org)
        grant = effective_grant(request.user, self.org, acting_for=self.acting_for)
        self.can = {f"{r}_{a}": grant.check(r, a) for r in RESOURCES for a in ("read", "write", "delete")}
        self.can["org_transfer"] = self.org.owner_id == request.user.pk and self.acting_for is None

    @property
    def who(self) -> dict:
        return {"actor": self.request.user, "acting_for": self.acting_for}

    def context(self, **extra) -> dict:
        return {
            "org": self.org,
            "acting_for": self.acting_for,
            "can": self.can,
            "principals": selectors.principals_for(agent=self.request.user, org=self.org),
            **extra,
        }


def org_page(view):
    """Login required; a hidden org is a 404 page and a refusal a 403 page."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404(exc.message) from exc
        except PermissionDenied as exc:
            raise DjangoPermissionDenied(exc.message) from exc

    return wrapper


# --------------------------------------------------------------------------- organizations


@org_page
def org_list(request):
    form = forms.OrgCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            org = services.org_create(owner=request.user, **form.cleaned_data)
        except ApplicationError as exc:
            form_errors(form, exc)
        else:
            messages.success(request, _("Created %(org)s.") % {"org": org})
            return redirect("orgs:chart", org_id=org.pk)
    return render(request, "orgs/list.html", {"orgs": selectors.orgs_for_user(user=request.user), "form": form})


@org_page
def org_chart(request, org_id):
    page = OrgPage(request, org_id)
    chart = selectors.org_chart(org=page.org, **page.who)
    for membership in chart["unassigned"]:
        membership.role_label = forms.role_label(membership.role)
    return render(request, "orgs/chart.html", page.context(chart=chart, tab="chart"))


@org_page
def member_directory(request, org_id):
    page = OrgPage(request, org_id)
    q = request.GET.get("q", "").strip()[:100]
    members = list(selectors.members_for(org=page.org, q=q, **page.who).order_by("user__username")[:500])
    for membership in members:
        membership.role_label = forms.role_label(membership.role)
    return render(request, "orgs/directory.html", page.context(members=members, q=q, tab="directory"))


@org_page
def org_settings(request, org_id):
    page = OrgPage(request, org_id)
    if not page.can["org_write"] and not page.can["org_transfer"]:
        raise PermissionDenied(_("You may not change this organization."))
    org = page.org
    form = forms.OrgSettingsForm(
        request.POST if request.POST.get("op") == "update" else None,
        initial={"display_name": org.display_name, "description": org.description, "max_members": org.max_members},
    )
    transfer = forms.TransferForm(request.POST if request.POST.get("op") == "transfer" else None, org=org)
    if request.method == "POST":
        try:
            if request.POST.get("op") == "update" and form.is_valid():
                services.org_update(org=org, **page.who, **form.cleaned_data)
                messages.success(request, _("Saved."))
                return redirect("orgs:settings", org_id=org.pk)
            if request.POST.get("op") == "transfer" and transfer.is_valid():
                new_owner = transfer.cleaned_data["new_owner"]
                services.org_transfer_ownership(actor=request.user, org=org, new_owner=new_owner)
                messages.success(request, _("%(user)s now owns %(org)s.") % {"user": new_owner, "org": org})
                return redirect("orgs:chart", org_id=org.pk)
        except ApplicationError as exc:
            if exc.status == 403:
                raise
            form_errors(transfer if request.POST.get("op") == "transfer" else form, exc)
    return render(request, "orgs/settings.html", page.context(form=form, transfer=transfer, tab="settings"))


@org_page
@require_POST
def act_as(request, org_id):
    """The "acting as" switch: store (or clear) the principal for this org."""
    page = OrgPage(request, org_id)
    principal_id = request.POST.get("principal", "")
    if not principal_id:
        request.session.pop(_act_as_key(page.org), None)
        messages.info(request, _("You are acting as yourself."))
    else:
        allowed = {str(u.pk): u for u in selectors.principals_for(agent=request.user, org=page.org)}
        if principal_id not in allowed:
            raise PermissionDenied(_("You have no active proxy for that user in this organization."))
        request.session[_act_as_key(page.org)] = principal_id
        messages.info(request, _("You are now acting as %(user)s.") % {"user": allowed[principal_id].username})
    return redirect("orgs:chart", org_id=page.org.pk)


# --------------------------------------------------------------------------- management pages


class ManageView(View):
    """One page per resource: a table, a create-or-edit form (?edit=<id>), and
    delete buttons. Subclasses say how to list, read and write their rows."""

    resource = ""
    title = ""
    form_class: type = None
    headers: list[str] = []
    names: tuple[int, ...] = ()  # the columns that hold names and user content (not translated)

    def rows(self, page):  # queryset of the resource
        raise NotImplementedError

    def get_obj(self, page, pk):
        raise NotImplementedError

    def cells(self, obj) -> list:
        raise NotImplementedError

    def initial(self, obj) -> dict:
        return {}

    def create(self, page, data):
        raise NotImplementedError

    def update(self, page, obj, data):
        raise NotImplementedError

    def delete(self, page, obj):
        raise NotImplementedError

    def row_id(self, obj):
        return obj.pk

    def row_names(self, obj) -> tuple[int, ...]:
        return self.names

    def form(self, page, data=None, obj=None):
        return self.form_class(data, org=page.org, initial=self.initial(obj) if obj else None)

    def dispatch(self, request, *args, **kwargs):
        return org_page(super().dispatch)(request, *args, **kwargs)

    def _page(self, request, org_id):
        page = OrgPage(request, org_id)
        if not page.can[f"{self.resource}_read"]:
            raise PermissionDenied(_("You may not see this page of the organization."))
        return page

    def render_page(self, request, page, form, editing=None):
        return render(
            request,
            "orgs/manage.html",
            page.context(
                tab=self.resource,
                title=self.title,
                form=form,
                editing=editing,
                headers=self.headers,
                rows=[{"id": self.row_id(o), "cells": self.cells(o), "names": self.row_names(o)} for o in self.rows(page)],
                can_write=page.can[f"{self.resource}_write"],
                can_delete=page.can[f"{self.resource}_delete"],
            ),
        )

    def get(self, request, org_id):
        page = self._page(request, org_id)
        editing = self.get_obj(page, request.GET["edit"]) if request.GET.get("edit") else None
        return self.render_page(request, page, self.form(page, obj=editing), editing)

    def post(self, request, org_id):
        page = self._page(request, org_id)
        op = request.POST.get("op")
        here = reverse(f"orgs:manage_{self.resource}", kwargs={"org_id": page.org.pk})
        obj = self.get_obj(page, request.POST["id"]) if request.POST.get("id") else None
        if op == "delete" and obj is not None:
            try:
                self.delete(page, obj)
                messages.success(request, _("Deleted."))
            except ApplicationError as exc:
                if exc.status in (403, 404):
                    raise
                messages.error(request, exc.message)
            return redirect(here)
        form = self.form(page, request.POST, obj)
        if form.is_valid():
            try:
                if obj is None:
                    self.create(page, form.cleaned_data)
                else:
                    self.update(page, obj, form.cleaned_data)
            except ApplicationError as exc:
                if exc.status in (403, 404):
                    raise
                form_errors(form, exc)
            else:
                messages.success(request, _("Saved."))
                return redirect(here)
        return self.render_page(request, page, form, obj)


def _user(u):
    return u.username if u else ""


def _utc(moment) -> str:
    """A time as the management forms take it: UTC, in the reader's date format."""
    return dates.label(moment, dates.UTC, year=True) if moment else ""


class DepartmentsPage(ManageView):
    resource, title, form_class = "departments", gettext_lazy("Departments"), forms.DepartmentForm
    headers = [gettext_lazy("Name"), gettext_lazy("Handle"), gettext_lazy("Parent department"),
               gettext_lazy("Manager"), gettext_lazy("Description")]
    names = (0, 1, 2, 3, 4)

    def rows(self, page):
        return selectors.departments_for(org=page.org, **page.who).order_by("name")

    def get_obj(self, page, pk):
        return selectors.department_get(org=page.org, department_id=pk, **page.who)

    def cells(self, d):
        return [d.name, f"@{d.handle}" if d.handle else "", d.parent.name if d.parent else "", _user(d.manager),
                d.description]

    def initial(self, d):
        return {"name": d.name, "handle": d.handle or "", "description": d.description, "parent": d.parent_id,
                "manager": d.manager_id}

    def create(self, page, data):
        services.department_create(org=page.org, **page.who, **data)

    def update(self, page, obj, data):
        services.department_update(department=obj, **page.who, **data)

    def delete(self, page, obj):
        services.department_delete(department=obj, **page.who)


class PositionsPage(ManageView):
    resource, title, form_class = "positions", gettext_lazy("Positions"), forms.PositionForm
    headers = [gettext_lazy("Title"), gettext_lazy("Level"), gettext_lazy("Description")]
    names = (0, 2)

    def rows(self, page):
        return selectors.positions_for(org=page.org, **page.who)

    def get_obj(self, page, pk):
        return selectors.position_get(org=page.org, position_id=pk, **page.who)

    def cells(self, p):
        return [p.title, p.level, p.description]

    def initial(self, p):
        return {"title": p.title, "level": p.level, "description": p.description}

    def create(self, page, data):
        services.position_create(org=page.org, **page.who, **data)

    def update(self, page, obj, data):
        services.position_update(position=obj, **page.who, **data)

    def delete(self, page, obj):
        services.position_delete(position=obj, **page.who)


class RolesPage(ManageView):
    resource, title, form_class = "roles", gettext_lazy("Roles"), forms.RoleForm
    headers = [gettext_lazy("Name"), gettext_lazy("Permissions"), gettext_lazy("Kind")]

    def row_names(self, r):
        return (1,) if r.is_system_role else (0, 1)

    def rows(self, page):
        return selectors.roles_for(org=page.org, **page.who).order_by("-is_system_role", "name")

    def get_obj(self, page, pk):
        return selectors.role_get(org=page.org, role_id=pk, **page.who)

    def cells(self, r):
        perms = "; ".join(f"{res}: {', '.join(acts)}" for res, acts in r.permissions.items())
        return [forms.role_label(r), perms, _("system") if r.is_system_role else _("organization")]

    def initial(self, r):
        return {"name": r.name, "description": r.description, "permissions": r.permissions}

    def create(self, page, data):
        services.role_create(org=page.org, **page.who, **data)

    def update(self, page, obj, data):
        services.role_update(role=obj, **page.who, **data)

    def delete(self, page, obj):
        services.role_delete(role=obj, **page.who)


class MembersPage(ManageView):
    resource, title, form_class = "members", gettext_lazy("Members"), forms.MemberForm
    headers = [gettext_lazy("User"), gettext_lazy("Role"), gettext_lazy("Department"), gettext_lazy("Position"),
               gettext_lazy("Expires"), gettext_lazy("Active")]

    def row_names(self, m):
        return (0, 2, 3) if m.role.is_system_role else (0, 1, 2, 3)

    def rows(self, page):
        return selectors.members_for(org=page.org, include_inactive=True, **page.who).order_by("user__username")

    def get_obj(self, page, pk):
        return selectors.member_get(org=page.org, user_id=pk, **page.who)

    def row_id(self, m):
        return m.user_id

    def cells(self, m):
        return [
            m.user.username,
            forms.role_label(m.role),
            m.department.name if m.department else "",
            m.position.title if m.position else "",
            _utc(m.expires_at),
            _("yes") if m.is_active else _("no"),
        ]

    def form(self, page, data=None, obj=None):
        initial = None
        if obj is not None:
            initial = {
                "user": obj.user.username,
                "role": obj.role_id,
                "department": obj.department_id,
                "position": obj.position_id,
                "expires_at": obj.expires_at,
            }
        return forms.MemberForm(data, org=page.org, editing=obj is not None, initial=initial)

    def create(self, page, data):
        services.member_add(org=page.org, **page.who, **data)

    def update(self, page, obj, data):
        data = {k: v for k, v in data.items() if k != "user"}
        services.member_update(membership=obj, **page.who, **data)

    def delete(self, page, obj):
        services.member_remove(membership=obj, **page.who)


class ProxiesPage(ManageView):
    resource, title, form_class = "proxies", gettext_lazy("Proxies"), forms.ProxyForm
    headers = [gettext_lazy("Principal"), gettext_lazy("Agent"), gettext_lazy("Permissions"), gettext_lazy("From"),
               gettext_lazy("Until"), gettext_lazy("Active")]
    names = (0, 1, 2)

    def _page(self, request, org_id):
        # Everyone in the org may see and manage their own proxies (selectors scope the list).
        return OrgPage(request, org_id)

    def render_page(self, request, page, form, editing=None):
        page.can["proxies_write"] = page.can["proxies_delete"] = True  # services decide per row
        return super().render_page(request, page, form, editing)

    def rows(self, page):
        return selectors.proxies_for(org=page.org, **page.who)

    def get_obj(self, page, pk):
        return selectors.proxy_get(org=page.org, proxy_id=pk, **page.who)

    def cells(self, p):
        perms = "; ".join(f"{res}: {', '.join(acts)}" for res, acts in p.permissions.items())
        return [
            p.principal.username,
            p.agent.username,
            perms,
            _utc(p.starts_at),
            _utc(p.expires_at),
            _("yes") if p.is_active else _("no"),
        ]

    def form(self, page, data=None, obj=None):
        return forms.ProxyForm(data, org=page.org, initial={"principal": self.request.user.username})

    def get(self, request, org_id):
        page = self._page(request, org_id)  # proxies are created or deleted, not edited
        return self.render_page(request, page, self.form(page))

    def create(self, page, data):
        services.proxy_create(org=page.org, **page.who, **data)

    def update(self, page, obj, data):
        raise PermissionDenied(_("Proxies cannot be edited; delete and re-create."))

    def delete(self, page, obj):
        services.proxy_delete(proxy=obj, **page.who)
