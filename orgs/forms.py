"""Forms for the org pages. They parse and type the input; the rules are in
orgs.services, whose errors the views put back on the form."""

from __future__ import annotations

import json

from django import forms
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from config import forms as json_form
from orgs.models import Department, Organization, Position, Role

# The system roles' names are data (the API names them so); the pages show them in the reader's words.
SYSTEM_ROLE_LABELS = {"owner": _("Owner"), "admin": _("Administrator"), "member": _("Member")}


def _code(text: str) -> str:
    """A JSON example in a help text: code, not words to translate."""
    return format_html("<code>{}</code>", text)


def role_label(role) -> str:
    """A role as the pages show it: a system role in the reader's words, an org's own by its name."""
    if role is None:
        return ""
    return str(SYSTEM_ROLE_LABELS.get(role.name, role.name)) if role.is_system_role else role.name


class RoleChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return role_label(obj)


class OrgCreateForm(forms.Form):
    name = forms.CharField(label=_("Handle"), max_length=50, help_text=_("3 to 50 letters, digits, _ or -."))
    display_name = forms.CharField(label=_("Display name"), max_length=200, required=False,
                                   help_text=_("Any script, e.g. 研发中心 or 개발팀."))
    description = forms.CharField(label=_("Description"), widget=forms.Textarea(attrs={"rows": 2}), required=False)


class OrgSettingsForm(forms.Form):
    display_name = forms.CharField(label=_("Display name"), max_length=200, required=False)
    description = forms.CharField(label=_("Description"), widget=forms.Textarea(attrs={"rows": 3}), required=False)
    max_members = forms.IntegerField(label=_("Maximum members"), min_value=1)


class TransferForm(forms.Form):
    new_owner = forms.ModelChoiceField(queryset=User.objects.none(), label=_("New owner"))

    def __init__(self, *args, org: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        members = User.objects.filter(memberships__org=org, memberships__is_active=True)
        self.fields["new_owner"].queryset = members.exclude(pk=org.owner_id).order_by("username")


def _members(org):
    return User.objects.filter(memberships__org=org, memberships__is_active=True).order_by("username")


class DepartmentForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    handle = forms.CharField(label=_("Handle"), max_length=51, required=False,
                             help_text=_("Mentions the department in chat: @handle."))
    description = forms.CharField(label=_("Description"), widget=forms.Textarea(attrs={"rows": 2}), required=False)
    parent = forms.ModelChoiceField(label=_("Parent department"), queryset=Department.objects.none(), required=False)
    manager = forms.ModelChoiceField(label=_("Manager"), queryset=User.objects.none(), required=False)

    def __init__(self, *args, org: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["parent"].queryset = org.departments.order_by("name")
        self.fields["manager"].queryset = _members(org)


class PositionForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=100)
    level = forms.IntegerField(label=_("Level"), min_value=1, initial=1)
    description = forms.CharField(label=_("Description"), widget=forms.Textarea(attrs={"rows": 2}), required=False)

    def __init__(self, *args, org: Organization, **kwargs):
        super().__init__(*args, **kwargs)


class PermissionsField(forms.CharField):
    """A JSON object {resource: [actions]} typed into a textarea."""

    widget = forms.Textarea(attrs={"rows": 3})

    def prepare_value(self, value):
        return json.dumps(value) if isinstance(value, dict) else value

    def to_python(self, value):
        return json_form.loads(super().to_python(value) or "{}", expect=dict,
                               expect_message=gettext('Enter a JSON object like {"docs": ["read"]}.'))


class RoleForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=50)
    description = forms.CharField(label=_("Description"), widget=forms.Textarea(attrs={"rows": 2}), required=False)
    permissions = PermissionsField(label=_("Permissions"))

    def __init__(self, *args, org: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["permissions"].help_text = format_html(
            gettext("{example}: the actions allowed on each resource; {wildcard} is a wildcard."),
            example=_code('{"resource": ["action", ...]}'), wildcard=_code('"*"'))


class MemberForm(forms.Form):
    user = forms.CharField(max_length=50, label=_("Username"))
    role = RoleChoiceField(label=_("Role"), queryset=Role.objects.none())
    department = forms.ModelChoiceField(label=_("Department"), queryset=Department.objects.none(), required=False)
    position = forms.ModelChoiceField(label=_("Position"), queryset=Position.objects.none(), required=False)
    expires_at = forms.DateTimeField(label=_("Expires"), required=False,
                                     help_text=_("UTC, e.g. 2027-01-31 18:00. Empty: no end."))

    def __init__(self, *args, org: Organization, editing=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].queryset = Role.objects.available_to(org).order_by("org", "name")
        self.fields["department"].queryset = org.departments.order_by("name")
        self.fields["position"].queryset = org.positions.all()
        if editing:
            self.fields["user"].disabled = True

    def clean_user(self):
        username = self.cleaned_data["user"]
        user = User.objects.filter(username=username).first()
        if user is None:
            raise forms.ValidationError(_("No user with that username."))
        return user


class ProxyForm(forms.Form):
    principal = forms.CharField(max_length=50, label=_("Principal (username)"), help_text=_("Who is represented."))
    agent = forms.CharField(max_length=50, label=_("Agent (username)"), help_text=_("Who acts for them."))
    permissions = PermissionsField(label=_("Permissions"))
    starts_at = forms.DateTimeField(label=_("Starts"), required=False, help_text=_("UTC. Empty: now."))
    expires_at = forms.DateTimeField(label=_("Expires"), required=False, help_text=_("UTC. Empty: until removed."))

    def __init__(self, *args, org: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["permissions"].help_text = format_html(
            gettext("What the agent may do for them, e.g. {example}."), example=_code('{"*": ["read"]}'))

    def _user(self, field):
        user = User.objects.filter(username=self.cleaned_data[field]).first()
        if user is None:
            raise forms.ValidationError(_("No user with that username."))
        return user

    def clean_principal(self):
        return self._user("principal")

    def clean_agent(self):
        return self._user("agent")
