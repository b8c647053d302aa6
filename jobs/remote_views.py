"""The remote pages: the list (test, browse, start a job from a folder),
and a form per backend type for creating and editing (jobs.remote_forms).
Writes go through jobs.services; a refused form is shown again with what
the user typed (secrets excepted: they are never sent back to the browser)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from core.errors import ApplicationError, NotFound
from jobs import access, rclone, remote_forms, selectors, services
from jobs.secrets import decrypt_options


@login_required
@require_safe  # remotes are created at remotes/new/
def remote_list(request):
    remotes = list(selectors.remotes_for(request.user))
    labels = dict(remote_forms.type_choices())
    for remote in remotes:
        remote.type_label = labels.get(remote.type, remote.type)
    accesses = {r.name: access.access_for(request.user, r) for r in remotes}
    return render(request, "jobs/remote_list.html", {
        "remotes": remotes, "can_create": access.can_create_remotes(request.user),
        "admin_of": {n for n, acc in accesses.items() if acc.is_admin},
        "editable": {n for n, acc in accesses.items() if access.can_edit_remote(request.user, acc)},
    })


def _form_errors(exc: ApplicationError, remote_type: str) -> tuple[dict, str]:
    """The services' field errors, and a message that also says what no field shows."""
    fields = dict(exc.fields or {})
    if "remote" in fields:  # jobs.access names a bad remote name "remote"; on this form it is the name field
        fields.setdefault("name", fields.pop("remote"))
    shown = {"name", "description"} | {f"options.{f.name}" for f in remote_forms.fields_for(remote_type)}
    rest = "; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items() if k not in shown)
    return fields, f"{exc.message} {rest}".strip()


@login_required
def remote_new(request):
    if not access.can_create_remotes(request.user):
        raise Http404
    types = remote_forms.type_choices()
    remote_type = request.POST.get("type") or request.GET.get("type") or "local"
    if remote_type not in rclone.BACKENDS:
        remote_type = "local"
    form = {"name": request.POST.get("name", ""), "description": request.POST.get("description", "")}
    values, errors, error = {}, {}, ""
    if request.method == "POST":
        values, errors = remote_forms.options_from_post(remote_type, request.POST)
        if not errors:
            try:
                remote = services.remote_create(actor=request.user, name=form["name"].strip(), type=remote_type,
                                                options=values, description=form["description"])
            except ApplicationError as exc:
                errors, error = _form_errors(exc, remote_type)
            else:
                messages.success(request, _("Remote %(name)s created.") % {"name": remote.name})
                return redirect("jobs:remotes")
        error = error or _("Check the fields marked below.")
        values = {**{f.name: request.POST.get(f"opt_{f.name}", "") for f in remote_forms.fields_for(remote_type)
                     if f.kind != "checkbox"}, **values}
    fields = remote_forms.bound(remote_type, values=values, errors=errors)
    return render(request, "jobs/remote_form.html", {
        "creating": True, "types": types, "type": remote_type, "type_label": dict(types)[remote_type],
        "form": form, "fields": fields,
        "errors": errors, "error": error, "has_advanced": any(f.advanced for f in fields),
    })


@login_required
def remote_edit(request, name):
    """Edit form for a remote. Secret fields are always rendered blank (their
    values are never sent to the browser); a blank one keeps the stored value."""
    try:
        remote, acc = access.get_remote(request.user, name)
        if not access.can_edit_remote(request.user, acc):
            raise NotFound()
    except ApplicationError:
        raise Http404 from None
    types = remote_forms.type_choices()
    form = {"name": remote.name, "description": remote.description}
    values, errors, error = dict(remote.options), {}, ""
    if request.method == "POST":
        form = {key: request.POST.get(key, "") for key in ("name", "description")}
        values, errors = remote_forms.options_from_post(remote.type, request.POST)
        if not errors:
            try:
                remote = services.remote_update(
                    actor=request.user, remote=remote, name=form["name"].strip(), options=values,
                    description=form["description"], remove_secrets=request.POST.getlist("remove_secrets"),
                )
            except ApplicationError as exc:
                errors, error = _form_errors(exc, remote.type)
            else:
                messages.success(request, _("Remote %(name)s saved.") % {"name": remote.name})
                return redirect("jobs:remotes")
        error = error or _("Check the fields marked below.")
        values = {**{f.name: request.POST.get(f"opt_{f.name}", "") for f in remote_forms.fields_for(remote.type)
                     if f.kind != "checkbox"}, **values}
    stored = set(decrypt_options(remote.secret_options))
    fields = remote_forms.bound(remote.type, values=values, errors=errors, stored_secrets=stored)
    return render(request, "jobs/remote_form.html", {
        "creating": False, "remote": remote, "type": remote.type, "type_label": dict(types).get(remote.type),
        "form": form, "fields": fields,
        "errors": errors, "error": error, "has_advanced": any(f.advanced for f in fields),
    })
