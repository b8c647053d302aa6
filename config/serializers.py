"""The API's serializer conventions, shared by every app (HackSoft Django
Styleguide, "input and output serializers"; see README, "Faces").

- Each app keeps its shapes in ``<app>/serializers.py``: a ``...Input`` checks
  what a request sends (its body or query) and types only, the rules being
  the services'; a ``...Serializer`` renders what a response answers, and its
  name less the suffix is its component in /api/schema/. A view validates
  with ``validated(...Input, ...)``, calls one service or selector, and
  answers ``...Serializer(result).data``.
- A shape that the socket or the pages show too is built by the app's
  presenter, the one place that builds it; its serializer declares it and
  renders the presenter's output, so schema and every face agree.
- A JSON column whose content is genuinely open is a ``json_shape``: a named
  component with a description, never a bare object.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

from drf_spectacular.utils import OpenApiParameter, extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty

PAGE_PARAMETERS = [
    OpenApiParameter("cursor", str, description="The `next` of the previous page."),
    OpenApiParameter("limit", int, description="Page size, at most 100."),
]

FREE_OBJECT = {"type": "object", "additionalProperties": {}}


def validated(serializer_class, data, *, partial: bool = False, context: dict | None = None) -> dict:
    """``data`` checked by an input serializer; a 400 validation_error naming
    the fields otherwise."""
    serializer = serializer_class(data=data, partial=partial, context=context or {})
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def json_shape(component_name: str, description: str, schema: dict | None = None, *, base=serializers.DictField):
    """A serializer field for a JSON value, rendered as stored and documented
    as ``components/schemas/<component_name>`` (a free object unless
    ``schema`` says more). As an input it takes a JSON object (``base``
    JSONField: any JSON, for a service that checks the shape itself)."""

    @extend_schema_field({**(schema or FREE_OBJECT), "description": description}, component_name=component_name)
    class JSONShape(base):
        def to_representation(self, value):
            return value

    JSONShape.__name__ = JSONShape.__qualname__ = component_name
    return JSONShape


def service_checked(schema: dict, **kwargs):
    """A request field passed on as it was sent, for a service that checks
    its type and rules itself (and words the refusal its own way);
    documented by ``schema``. Optional and nullable unless told otherwise."""

    @extend_schema_field(schema)
    class ServiceChecked(serializers.JSONField):
        pass

    return ServiceChecked(**{"required": False, "allow_null": True, **kwargs})


class Number(serializers.FloatField):
    """A number rendered as it is (an int stays an int)."""

    def to_representation(self, value):
        return value


class Presented(serializers.Serializer):
    """An output serializer for a shape a presenter builds (the one builder,
    which the socket or the pages share): it declares the shape for the
    schema and renders ``present(instance)``. A mapping passes as it is."""

    def present(self, instance) -> Mapping:
        raise NotImplementedError

    def to_representation(self, instance):
        if not isinstance(instance, Mapping):
            instance = self.present(instance)
        return super().to_representation(instance)


class QueryFlag(serializers.CharField):
    """A yes/no query parameter: ``1``, ``true`` or ``yes`` (any case) is
    yes; anything else, or nothing, is no."""

    def __init__(self, **kwargs):
        super().__init__(**{"required": False, "allow_blank": True, **kwargs})

    def run_validation(self, data=empty):
        if data is empty:
            return False
        return super().run_validation(data).strip().lower() in ("1", "true", "yes")


@cache
def page_of(serializer_class) -> type[serializers.Serializer]:
    """The contract's list shape, ``{results: [...], next}``, as the
    serializer of the component ``<Name>Page``."""
    name = serializer_class.__name__.removesuffix("Serializer")
    fields = {
        "results": serializer_class(many=True),
        "next": serializers.CharField(allow_null=True, help_text="The cursor of the next page, or null."),
    }
    return type(f"{name}PageSerializer", (serializers.Serializer,), {"__module__": __name__, **fields})
