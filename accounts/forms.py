"""Page forms. They check shapes; the rules live in the services, whose
errors come back here as form errors."""

from __future__ import annotations

from zoneinfo import available_timezones

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm, SetPasswordForm
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from accounts import services
from accounts.authentication import client_ip
from accounts.languages import language_of
from accounts.models import Profile
from core.errors import ApplicationError

BACKEND = "accounts.backends.LoginBackend"


def add_service_errors(form: forms.Form, exc: ApplicationError) -> None:
    """Put a service's error on the form: per field where it names one."""
    fields = exc.fields or {}
    if not fields:
        form.add_error(None, exc.message)
        return
    for name, messages in fields.items():
        target = name if name in form.fields else None
        for message in messages:
            form.add_error(target, message)


class LoginForm(AuthenticationForm):
    """Username or email. Lockout, audit and the status checks are the
    service's (accounts.services.authenticate_login), the same as the API's."""

    username = forms.CharField(label=_("Username or email"), max_length=255, widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"}))

    def clean(self):
        login = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if login is None or password is None:
            return self.cleaned_data
        try:
            user = services.authenticate_login(login=login, password=password, ip=client_ip(self.request) if self.request else None)
        except ApplicationError as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from exc
        user.backend = BACKEND
        self.user_cache = user
        return self.cleaned_data


class StaffLoginForm(LoginForm, AdminAuthenticationForm):
    """The admin's login: the same checks, then staff only."""

    def clean(self):
        super().clean()
        if self.user_cache is not None:
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class SignupForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=50,
                               help_text=_("3 to 50 letters, digits, underscore, dot or hyphen."),
                               widget=forms.TextInput(attrs={"autocomplete": "username"}))
    email = forms.EmailField(label=_("Email"), max_length=255, widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password1 = forms.CharField(label=_("Password"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    password2 = forms.CharField(label=_("Password again"), strip=False,
                                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))

    def clean(self):
        data = super().clean()
        if data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", _("The two passwords differ."))
        return data

    def save(self):
        try:
            return services.user_register(
                username=self.cleaned_data["username"], email=self.cleaned_data["email"], password=self.cleaned_data["password1"]
            )
        except ApplicationError as exc:
            if exc.fields and "password" in exc.fields:
                exc.fields["password1"] = exc.fields.pop("password")
            add_service_errors(self, exc)
            return None


class PasswordChangeForm(forms.Form):
    old_password = forms.CharField(label=_("Current password"), strip=False,
                                   widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))
    new_password1 = forms.CharField(label=_("New password"), strip=False,
                                    widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    new_password2 = forms.CharField(label=_("New password again"), strip=False,
                                    widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))

    def clean(self):
        data = super().clean()
        if data.get("new_password1") and data.get("new_password1") != data.get("new_password2"):
            self.add_error("new_password2", _("The two passwords differ."))
        return data

    def save(self, *, user, current):
        try:
            return services.password_change(
                user=user, old_password=self.cleaned_data["old_password"], new_password=self.cleaned_data["new_password1"], current=current
            )
        except ApplicationError as exc:
            if exc.fields and "password" in exc.fields:
                exc.fields["new_password1"] = exc.fields.pop("password")
            add_service_errors(self, exc)
            return None


class ResetRequestForm(PasswordResetForm):
    """The password reset request: the mail is written in the account's
    profile language (whoever asked for it, in whatever language)."""

    email = forms.EmailField(label=_("Email"), max_length=254,
                             widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}))

    def send_mail(self, subject_template_name, email_template_name, context, from_email, to_email,
                  html_email_template_name=None):
        with translation.override(language_of(context.get("user")) or translation.get_language()):
            super().send_mail(subject_template_name, email_template_name, context, from_email, to_email,
                              html_email_template_name)


class ResetSetPasswordForm(SetPasswordForm):
    """The last step of a password reset, through the service (audit, and
    every session of the account ends)."""

    def save(self, commit=True):
        return services.password_reset_complete(user=self.user, new_password=self.cleaned_data["new_password1"])


def _timezone_choices():
    return [(name, name) for name in sorted(available_timezones())]


# The profile's choices in the reader's words (the languages are named in their own script, as the switcher does).
THEMES = [("system", _("Same as the device")), ("light", _("Light")), ("dark", _("Dark"))]


class ProfileForm(forms.ModelForm):
    timezone = forms.ChoiceField(label=_("Time zone"), choices=_timezone_choices)
    website = forms.URLField(label=_("Website"), max_length=255, required=False, assume_scheme="https")

    class Meta:
        model = Profile
        fields = ["bio", "location", "website", "timezone", "language", "theme"]
        widgets = {"bio": forms.Textarea(attrs={"rows": 4})}
        labels = {"bio": _("About you"), "location": _("Location"), "language": _("Language"), "theme": _("Theme")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["language"].choices = list(settings.LANGUAGES)
        known = {value for value, _label in self.fields["theme"].choices}
        self.fields["theme"].choices = [(value, label) for value, label in THEMES if value in known]
        # Zone names (Asia/Seoul) are the tz database's, the same in every language.
        self.fields["timezone"].widget.attrs["translate"] = "no"
        self.fields["language"].widget.attrs["translate"] = "no"

    def save_through_service(self, *, actor, user):
        changes = {name: self.cleaned_data[name] for name in self.changed_data if name in self.cleaned_data}
        try:
            return services.profile_update(actor=actor, user=user, **changes)
        except ApplicationError as exc:
            add_service_errors(self, exc)
            return None
