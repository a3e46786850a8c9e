"""The OpenAPI schema's error answers: every operation documents the 4xx it can give.

DRF answers 401 to a request without credentials, 403 to a role that may see but not do (and to a
session without its CSRF token), 404 to an object outside the caller's teams, and 400 to input it
refuses; drf-spectacular only documents the success codes. A client generated from the schema, or
a conformance run (tests/test_api_contract.py), would meet codes it was never told about. This
adds them from what the operation is: 401 unless it is public, 403 to writes, 404 when the path
names an object, 400 to writes (their body, or the object's state, refused) and to a query
parameter refused. A code the view documents
itself (409 from the gate, a 400 with a richer body) is left as the view wrote it.
"""
from django.core.validators import RegexValidator
from drf_spectacular.authentication import SessionScheme
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

# What DRF's CharField accepts, as a pattern: never a NUL character (refused by its validator),
# and, when it trims and may not be blank, something besides white space.
NO_NUL = r"^[^\x00]*$"
NOT_BLANK = r"^[^\x00]*[^\s\x00][^\x00]*$"


class PortalSessionScheme(SessionScheme):
    """The portal's session authentication is DRF's (cookie and CSRF), documented as such."""

    target_class = "portal.accounts.authentication.PortalSessionAuthentication"


class ErrorSerializer(serializers.Serializer):
    """What DRF answers for 401, 403 and 404: one sentence."""

    detail = serializers.CharField(help_text="What went wrong, for a person to read")


VALIDATION_ERRORS = OpenApiResponse(
    response=OpenApiTypes.OBJECT,
    description="Refused input: each field named with its messages, or `detail` (and `errors`) for the whole request")


class PortalAutoSchema(AutoSchema):
    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if (direction == "request" and isinstance(field, serializers.CharField)
                and schema.get("type") == "string" and not {"pattern", "format", "enum"} & schema.keys()
                and not any(isinstance(v, RegexValidator) for v in field.validators)):  # a slug, a URL: theirs is tighter
            schema = {**schema, "pattern": NOT_BLANK if field.trim_whitespace and not field.allow_blank else NO_NUL}
        return schema

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation["responses"]
        public = {} in operation.get("security", [{}])
        parameters = operation.get("parameters", [])
        errors = {}
        if self.method not in SAFE_METHODS or any(p["in"] == "query" for p in parameters):
            errors["400"] = VALIDATION_ERRORS  # refused input, or a write the object's state refuses
        if not public:
            errors["401"] = OpenApiResponse(ErrorSerializer, description="No credentials, or credentials that are not valid")
            if self.method not in SAFE_METHODS:
                errors["403"] = OpenApiResponse(ErrorSerializer, description="Your role may not do this")
        if any(p["in"] == "path" for p in parameters):
            errors["404"] = OpenApiResponse(ErrorSerializer, description="No such object among those you may see")
        for code, answer in errors.items():
            if code not in responses:
                responses[code] = self._get_response_for_code(answer, code)
        operation["responses"] = dict(sorted(responses.items()))
        return operation
