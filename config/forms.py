"""Forms of the pages and the admin.

Untrusted JSON typed into a form is read through config.safejson: nested
too deep, holding NUL (which a jsonb column refuses) or lone surrogates, it
is a form error, never a RecursionError or a DataError and a 500. A
service's refusal is shown on the form it came from (``form_errors``)."""

from __future__ import annotations

import json

from django import forms
from django.utils.translation import gettext as _

from config import safejson
from core.errors import ApplicationError, ValidationFailed


def form_error(exc: ValidationFailed) -> forms.ValidationError:
    """safejson's refusal as a form field's error."""
    messages = [message for field_messages in (exc.fields or {}).values() for message in field_messages]
    return forms.ValidationError(messages or [exc.message], code="invalid")


def form_errors(form: forms.Form, exc: ApplicationError) -> None:
    """A service's refusal on the form: each field's messages on the form's
    field of that name, or of that name less ``_id`` (parent_id: parent);
    the others, and a refusal naming no field, as the form's own errors."""
    if not exc.fields:
        form.add_error(None, exc.message)
        return
    for field, messages in exc.fields.items():
        name = field if field in form.fields else field.removesuffix("_id")
        form.add_error(name if name in form.fields else None, messages)


def loads(text: str, *, expect: type | None = None, expect_message: str = ""):
    """``text`` parsed by safejson, optionally required to be an ``expect``
    (dict, list); raises forms.ValidationError otherwise."""
    try:
        value = safejson.loads(text)
    except ValidationFailed as exc:
        raise form_error(exc) from None
    if expect is not None and not isinstance(value, expect):
        raise forms.ValidationError(expect_message or (_("Must be a JSON object.") if expect is dict
                                                       else _("Must be a JSON list.")),
                                    code="invalid")
    return value


class _BoundedDecoder(json.JSONDecoder):
    """forms.JSONField parses with ``json.loads(value, cls=decoder)`` in both
    clean and bound_data (which redisplays an invalid value); this routes
    both through safejson, its refusal surfacing as the JSONDecodeError
    Django already turns into a form error."""

    def decode(self, s, *args, **kwargs):
        try:
            return safejson.loads(s)
        except ValidationFailed as exc:
            raise json.JSONDecodeError(" ".join(form_error(exc).messages), s, 0) from None


class JSONFormField(forms.JSONField):
    """The admin's field for every model JSONField (audit.admin_site's mixin)."""

    def __init__(self, **kwargs):
        kwargs["decoder"] = _BoundedDecoder
        super().__init__(**kwargs)

    def to_python(self, value):
        if isinstance(value, str) and not self.disabled and value not in self.empty_values:
            loads(value)  # safejson's specific message, not only "Enter a valid JSON."
        return super().to_python(value)
