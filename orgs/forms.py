"""Forms for the org pages. They parse and type the input; the rules are in
orgs.services, whose errors the views put back on the form."""

from __future__ import annotations

import json

from django import forms

from accounts.models import User
from config import forms as json_form
from orgs.models import Department, Organization, Position, Role


class OrgCreateForm(forms.Form):
    name = forms.CharField(max_length=50, help_text="The handle: 3-50 letters, digits, _ or -.")
    display_name = forms.CharField(max_length=200, required=False, help_text="Any script, e.g. 研发中心 or 개발팀.")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)


class OrgSettingsForm(forms.Form):
    display_name = forms.CharField(max_length=200, required=False)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    max_members = forms.IntegerField(min_value=1)


class TransferForm(forms.Form):
    new_owner = forms.ModelChoiceField(queryset=User.objects.none(), label="New owner")

    def __init__(self, *args, org: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        members = User.objects.filter(memberships__org=org, memberships__is_active=True)
        self.fields["new_owner"].queryset = members.exclude(pk=org.owner_id).order_by("username")


def _members(org):
    return User.objects.filter(memberships__org=org, memberships__is_active=True).order_by("username")


class DepartmentForm(forms.Form):
    name = forms.CharField(max_length=100)
    handle = forms.CharField(max_length=51, required=False, help_text="Mentions the department in chat: @handle.")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    parent = forms.ModelChoiceField(queryset=Department.objects.none(), required=False)
    manager = forms.ModelChoiceField(queryset=User.objects.none(), required=False)

    def __init__(self, *args, org: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["parent"].queryset = org.departments.order_by("name")
        self.fields["manager"].queryset = _members(org)


class PositionForm(forms.Form):
    title = forms.CharField(max_length=100)
    level = forms.IntegerField(min_value=1, initial=1)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)

    def __init__(self, *args, org: Organization, **kwargs):
        super().__init__(*args, **kwargs)


class PermissionsField(forms.CharField):
    """A JSON object {resource: [actions]} typed into a textarea."""

    widget = forms.Textarea(attrs={"rows": 3})

    def prepare_value(self, value):
        return json.dumps(value) if isinstance(value, dict) else value

    def to_python(self, value):
        return json_form.loads(super().to_python(value) or "{}", expect=dict,
                               expect_message='Enter a JSON object like {"docs": ["read"]}.')


class RoleForm(forms.Form):
    name = forms.CharField(max_length=50)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    permissions = PermissionsField(help_text='{"resource": ["action", ...]}; "*" is a wildcard.')

    def __init__(self, *args, org: Organization, **kwargs):
        super().__init__(*args, **kwargs)


class MemberForm(forms.Form):
    user = forms.CharField(max_length=50, label="Username")
    role = forms.ModelChoiceField(queryset=Role.objects.none())
    department = forms.ModelChoiceField(queryset=Department.objects.none(), required=False)
    position = forms.ModelChoiceField(queryset=Position.objects.none(), required=False)
    expires_at = forms.DateTimeField(required=False, help_text="UTC, e.g. 2027-01-31 18:00. Empty: no end.")

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
            raise forms.ValidationError("No user with that username.")
        return user


class ProxyForm(forms.Form):
    principal = forms.CharField(max_length=50, label="Principal (username)", help_text="Who is represented.")
    agent = forms.CharField(max_length=50, label="Agent (username)", help_text="Who acts for them.")
    permissions = PermissionsField(help_text='What the agent may do for them, e.g. {"*": ["read"]}.')
    starts_at = forms.DateTimeField(required=False, help_text="UTC. Empty: now.")
    expires_at = forms.DateTimeField(required=False, help_text="UTC. Empty: until removed.")

    def __init__(self, *args, org: Organization, **kwargs):
        super().__init__(*args, **kwargs)

    def _user(self, field):
        user = User.objects.filter(username=self.cleaned_data[field]).first()
        if user is None:
            raise forms.ValidationError("No user with that username.")
        return user

    def clean_principal(self):
        return self._user("principal")

    def clean_agent(self):
        return self._user("agent")
