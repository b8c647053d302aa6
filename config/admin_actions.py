"""What every app's admin shares for calling its services (the admin's
saves, deletes and actions go through services, architecture.md): a
service's ApplicationError is shown to staff as a message, never a 500."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.utils.translation import gettext as _

from core.errors import ApplicationError


def refusal_text(exc: ApplicationError) -> str:
    """A service's refusal as one line: its message and any field errors."""
    detail = "; ".join(_("%(field)s: %(errors)s") % {"field": k, "errors": " ".join(str(e) for e in v)}
                        for k, v in (exc.fields or {}).items())
    return f"{exc.message} {detail}".strip()


def run_service_action(modeladmin, request, queryset, func, label: str) -> None:
    """An admin action item by item through a service: a refused item is
    reported and the others go on (each service call is its own savepoint)."""
    done = 0
    for obj in queryset:
        try:
            func(obj)
            done += 1
        except ApplicationError as exc:
            modeladmin.message_user(request, _("%(object)s: %(error)s") % {"object": obj, "error": exc.message},
                                    level=messages.ERROR)
    if done:
        modeladmin.message_user(request, _("%(label)s: %(count)s.") % {"label": label, "count": done})


class ReadOnly:
    """A model seen in the admin and never added, changed or deleted there:
    written by the system or by services only (an admin's actions, which call
    the services, may still change it)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ServiceErrorsAsMessages:
    """A service's ApplicationError rolls the admin's transaction back and is
    shown as a message on the same page instead of a server error."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ApplicationError as exc:
            self.message_user(request, refusal_text(exc), level=messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except ApplicationError as exc:
            self.message_user(request, exc.message, level=messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())
