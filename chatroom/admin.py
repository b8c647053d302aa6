"""Staff views of chat. Every change goes through chatroom.services with
``staff_override`` (staff act with the owner's powers in any room, see
services._common._acting_member), so the admin applies the same rules and writes the
same audit entries as the pages, the API and the socket; the audited admin
site records each admin action on top.

A service's refusal rolls the whole save back (the admin view runs in one
transaction) and the page comes back with the error on the form or inline
row it belongs to, as a validation error would. Messages, invites, join
requests and attachments are read-only here, changed only by actions.

Direct messages are private to their people, staff included: staff see that
a DM exists, who is in it and how many messages it has, never its messages
(the message and attachment changelists leave DMs out). The one way staff
read one is the audited legal-hold export (services.dm_legal_hold_export)."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponse, HttpResponseRedirect
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from chatroom import selectors, services
from chatroom.models import Attachment, Invite, JoinRequest, Message, Room, RoomMember, Thread
from config.admin_actions import (
    ReadOnly,
    ServiceErrorsAsMessages,
    refusal_text,
    run_service_action,
)
from core.errors import ApplicationError, ValidationFailed

STAFF = {"staff_override": True}


# --------------------------------------------------------------------------- service errors on the form


class _Refused(Exception):
    """A service refused part of an admin save: which form it belongs to
    (``prefix`` and ``index`` name an inline row; None is the main form)."""

    def __init__(self, error: ApplicationError, *, prefix: str | None = None, index: int | None = None,
                 field_names: dict | None = None):
        super().__init__(error.message)
        self.error, self.prefix, self.index = error, prefix, index
        self.field_names = field_names or {}

    def __str__(self) -> str:
        return refusal_text(self.error)

    def add_to(self, form: forms.BaseForm) -> None:
        for field, errors in (self.error.fields or {None: [self.error.message]}).items():
            name = self.field_names.get(field, field)
            if name in form.fields:
                form.add_error(name, errors)
            elif field in (None, "non_field_errors"):
                form.add_error(None, errors)
            else:  # a field this form does not show: say which
                form.add_error(None, [_("%(field)s: %(errors)s") % {"field": field, "errors": e} for e in errors])


def _changed(form, fields) -> dict:
    return {f: form.cleaned_data[f] for f in fields if f in form.changed_data}


class ServiceFormErrors(ServiceErrorsAsMessages):
    """Shows a service's refusal of a save on the form it concerns. The first
    pass raises _Refused out of the admin's transaction (so nothing of the
    save is kept); the second validates the same input with that error
    added, and renders the form as for any invalid input. A refusal no form
    shows (and a delete's) becomes a message (ServiceErrorsAsMessages)."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except _Refused as refused:
            request._service_refusal = refused
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except _Refused as refused:
            self.message_user(request, str(refused), level=messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        refused = getattr(request, "_service_refusal", None)
        if refused is None or refused.prefix is not None:
            return form

        class RefusedForm(form):
            def clean(self):
                cleaned = super().clean()
                refused.add_to(self)
                return cleaned

        return RefusedForm


class ServiceFormErrorsInline:
    """The inline half of ServiceFormErrors: the refused row gets the error."""

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        refused = getattr(request, "_service_refusal", None)
        if refused is None or refused.prefix is None:
            return formset

        class RefusedFormSet(formset):
            def clean(self):
                super().clean()
                if self.prefix != refused.prefix or refused.index >= len(self.forms):
                    return
                row = self.forms[refused.index]
                refused.add_to(row)
                if self.can_delete and self._should_delete_form(row):
                    # A row marked for deletion is not validated: say it above the rows.
                    raise forms.ValidationError(_("%(user)s: %(error)s") % {"user": row.instance.user, "error": refused})

        return RefusedFormSet


# --------------------------------------------------------------------------- rooms


class RoomMemberInline(ServiceFormErrorsInline, admin.TabularInline):
    model = RoomMember
    extra = 0
    raw_id_fields = ["user"]
    fields = ["user", "role", "is_muted", "permissions", "notifications_enabled", "joined_at"]
    # The member's own switch, and history: not staff's to change.
    readonly_fields = ["notifications_enabled", "joined_at"]

    # A DM's people are shown, never changed (no roles, kicks or additions).
    def has_add_permission(self, request, obj=None):
        return not (obj is not None and obj.is_dm) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return not (obj is not None and obj.is_dm) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not (obj is not None and obj.is_dm) and super().has_delete_permission(request, obj)


class RoomAdminForm(forms.ModelForm):
    password = forms.CharField(
        required=False, strip=False, widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        label=gettext_lazy("password"),
        help_text=gettext_lazy("A private room's password: needed when making a room private, otherwise blank keeps it."),
    )

    class Meta:
        model = Room
        fields = ["name", "description", "owner", "org", "is_private", "password", "max_members", "allow_invites",
                  "require_approval", "archived", "settings"]


# What staff see of a DM: that it exists, who is in it (the inline) and how many messages it has.
DM_FIELDS = ["kind", "owner", "message_count", "created_at"]
ROOM_ADD_FIELDS = ["name", "description", "owner", "org", "is_private", "password", "max_members", "allow_invites",
                   "require_approval"]
ROOM_CHANGE_FIELDS = ["name", "description", "owner", "org", "is_private", "password", "max_members",
                      "allow_invites", "require_approval", "archived", "settings"]
# Service argument names that are form fields by another name.
ROOM_FIELD_NAMES = {"user_id": "owner", "org_id": "org", "settings_": "settings"}
MEMBER_FIELD_NAMES = {"user_id": "user"}


@admin.register(Room)
class RoomAdmin(ServiceFormErrors, admin.ModelAdmin):
    form = RoomAdminForm
    list_display = ["__str__", "kind", "people", "message_count", "owner", "org", "is_private", "archived",
                    "created_at"]
    list_filter = ["kind", "is_private", "require_approval", "archived"]
    search_fields = ["name", "description", "owner__username"]
    raw_id_fields = ["owner", "org"]
    inlines = [RoomMemberInline]
    actions = ["export_legal_hold"]

    def get_queryset(self, request):
        return selectors.with_dm_message_counts(super().get_queryset(request)).prefetch_related("members__user")

    @admin.display(description=gettext_lazy("people"))
    def people(self, obj):
        if not obj.is_dm:
            return ""
        return ", ".join(sorted(m.user.username for m in obj.members.all()))

    @admin.display(description=gettext_lazy("messages"))
    def message_count(self, obj):
        """A DM's message count (what staff may know of it); blank for channels."""
        return obj.dm_messages if obj.is_dm else ""

    def has_change_permission(self, request, obj=None):
        # A DM is shown, never changed: it has no name, settings or roles.
        return not (obj is not None and obj.is_dm) and super().has_change_permission(request, obj)

    def get_fields(self, request, obj=None):
        if obj is not None and obj.is_dm:
            return DM_FIELDS
        return ROOM_CHANGE_FIELDS if obj else ROOM_ADD_FIELDS

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.is_dm:
            return DM_FIELDS  # nothing of a DM is staff's to change
        return ["org"] if obj else []  # no service moves a room to another org

    @admin.action(description=gettext_lazy("Export the selected direct messages for a legal hold (audited)"))
    def export_legal_hold(self, request, queryset):
        exports = []
        for room in queryset:
            try:
                exports.append(services.dm_legal_hold_export(actor=request.user, room=room))
            except ApplicationError as exc:
                self.message_user(request, _("%(object)s: %(error)s") % {"object": room, "error": exc.message},
                                  level=messages.ERROR)
        if not exports:
            return None
        response = HttpResponse(json.dumps({"exports": exports}, ensure_ascii=False, indent=1),
                                content_type="application/json; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="legal-hold.json"'
        return response

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        try:
            if not change:
                created = services.room_create(
                    actor=request.user, owner=data["owner"], name=data["name"], description=data["description"],
                    is_private=data["is_private"], password=data["password"] or None, org=data.get("org"),
                    max_members=data["max_members"], allow_invites=data["allow_invites"],
                    require_approval=data["require_approval"],
                )
                obj.pk, obj.created_at, obj.updated_at = created.pk, created.created_at, created.updated_at
                obj.password_hash = created.password_hash
                obj._state.adding = False
                return
            current = Room.objects.get(pk=obj.pk)
            fields = _changed(form, ["name", "description", "is_private", "max_members", "allow_invites",
                                     "require_approval", "archived", "settings"])
            if "settings" in fields:
                fields["settings_"] = fields.pop("settings")
            if fields or data["password"]:
                services.room_update(actor=request.user, room=current, password=data["password"] or None,
                                     **fields, **STAFF)
            if "owner" in form.changed_data:
                services.room_transfer_ownership(actor=request.user, room=current, new_owner=data["owner"], **STAFF)
        except ApplicationError as exc:
            raise _Refused(exc, field_names=ROOM_FIELD_NAMES) from exc

    def save_formset(self, request, form, formset, change):
        room = form.instance
        formset.save(commit=False)  # sorts the rows into new, changed and deleted
        deleted = set(formset.deleted_forms)
        for index, row in enumerate(formset.forms):
            if row not in deleted and not row.has_changed():
                continue
            member, data = row.instance, row.cleaned_data
            try:
                if row in deleted:
                    if member.pk is not None:
                        services.member_kick(actor=request.user, room=room, user=member.user, **STAFF)
                elif member._state.adding:
                    services.member_add(actor=request.user, room=room, user=data["user"], role=data["role"], **STAFF)
                    services.member_update(actor=request.user, room=room, user=data["user"],
                                           **_changed(row, ["is_muted", "permissions"]), **STAFF)
                else:
                    if "user" in row.changed_data:
                        raise ValidationFailed(fields={"user": [_("Remove this member and add the other user instead.")]})
                    services.member_update(actor=request.user, room=room, user=member.user,
                                           **_changed(row, ["role", "is_muted", "permissions"]), **STAFF)
            except ApplicationError as exc:
                raise _Refused(exc, prefix=formset.prefix, index=index, field_names=MEMBER_FIELD_NAMES) from exc

    def delete_model(self, request, obj):
        services.room_delete(actor=request.user, room=obj, **STAFF)

    def delete_queryset(self, request, queryset):
        run_service_action(self, request, queryset, lambda room: services.room_delete(actor=request.user, room=room, **STAFF),
                    _("Deleted through the service"))


# --------------------------------------------------------------------------- read-only, with actions


@admin.register(Message)
class MessageAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["created_at", "room", "user", "message_type", "short_content", "thread_id", "also_to_room",
                    "is_edited", "is_deleted", "is_pinned"]
    list_filter = ["message_type", "is_deleted", "is_pinned", ("thread_id", admin.EmptyFieldListFilter),
                   ("room", admin.RelatedFieldListFilter),
                   ("user", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["content", "room__name", "user__username"]
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-id"]
    list_select_related = ["room", "user"]
    show_full_result_count = False  # no count(*) over the whole partitioned table
    actions = ["soft_delete"]

    def get_queryset(self, request):
        # Staff never read a DM's messages here (the legal-hold export is the audited way).
        return super().get_queryset(request).filter(room__kind=Room.Kind.CHANNEL)

    @admin.display(description=gettext_lazy("content"))
    def short_content(self, obj):
        if obj.message_type == Message.Type.SYSTEM:
            # A system message's text as it was stored ("mia joined"): what was written, not the admin's words.
            return format_html('<span translate="no">{}</span>', obj.content[:80])
        return obj.content[:80]

    @admin.action(description=gettext_lazy("Soft-delete the selected messages"))
    def soft_delete(self, request, queryset):
        run_service_action(self, request, queryset,
                    lambda m: services.message_delete(actor=request.user, message_id=m.id, **STAFF), _("Soft-deleted"))


@admin.register(Thread)
class ThreadAdmin(ReadOnly, admin.ModelAdmin):
    """Each thread's summary (kept by chat_message_post); a reply is in the
    messages list, filtered by its thread id. Channels only, as messages."""

    list_display = ["root_id", "room", "reply_count", "last_reply_at", "root_created_at"]
    ordering = ["-last_reply_at"]
    list_select_related = ["room"]
    show_full_result_count = False

    def get_queryset(self, request):
        return super().get_queryset(request).filter(room__kind=Room.Kind.CHANNEL)


@admin.register(Invite)
class InviteAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["code", "room", "inviter", "invitee", "uses", "max_uses", "expires_at", "revoked_at", "created_at"]
    list_filter = ["revoked_at"]
    search_fields = ["code", "room__name", "inviter__username"]
    list_select_related = ["room", "inviter", "invitee"]
    actions = ["revoke"]

    @admin.action(description=gettext_lazy("Revoke the selected invites"))
    def revoke(self, request, queryset):
        run_service_action(self, request, queryset,
                    lambda invite: services.invite_revoke(actor=request.user, invite=invite, **STAFF), _("Revoked"))


@admin.register(JoinRequest)
class JoinRequestAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["room", "user", "status", "created_at", "decided_by", "decided_at"]
    list_filter = ["status"]
    search_fields = ["room__name", "user__username"]
    list_select_related = ["room", "user", "decided_by"]
    actions = ["approve", "reject"]

    def _decide(self, request, queryset, approve: bool, label: str):
        run_service_action(self, request, queryset, lambda r: services.join_request_decide(
            actor=request.user, request=r, approve=approve, **STAFF), label)

    @admin.action(description=gettext_lazy("Approve the selected requests (adds the members)"))
    def approve(self, request, queryset):
        self._decide(request, queryset, True, _("Approved"))

    @admin.action(description=gettext_lazy("Reject the selected requests"))
    def reject(self, request, queryset):
        self._decide(request, queryset, False, _("Rejected"))


@admin.register(Attachment)
class AttachmentAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["filename", "mime_type", "size", "uploader", "room", "message_id", "created_at"]
    search_fields = ["filename", "checksum", "uploader__username"]
    list_select_related = ["uploader", "room"]
    actions = ["delete_files"]

    def get_queryset(self, request):
        # A DM's files are as private as its messages.
        return super().get_queryset(request).exclude(room__kind__in=[Room.Kind.DM, Room.Kind.GROUP_DM])

    @admin.action(description=gettext_lazy("Delete the selected files"))
    def delete_files(self, request, queryset):
        run_service_action(self, request, queryset, lambda a: services.attachment_delete(
            actor=request.user, attachment_id=a.id, **STAFF), _("Deleted"))
