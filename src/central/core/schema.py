"""The OpenAPI schema as a client reads it (``/api/schema/``, Swagger UI at ``/api/docs/``).

drf-spectacular's defaults describe the code, not the API: one tag ``v1`` for every
operation, descriptions taken from inherited developer docstrings ("Base for every
tenant-owned resource. ``get_queryset`` filters..."), no word on the ``X-Organization``
header every tenant endpoint reads, and only the success answers. This schema class:

- tags each operation with its capability, from the path (``/api/v1/dialer/...`` ->
  ``dialer``; the account endpoints share ``account``, ``organization``);
- describes an operation only with the view's *own* docstring (the action's, else the
  class's), first paragraph, never one inherited from a base class;
- declares the optional ``X-Organization`` header on every tenant-scoped operation;
- declares the error answers in the API's one error shape (``core/errors.py``).
"""

from __future__ import annotations

import inspect

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import serializers

from .tenancy import ORG_HEADER_NAME

API_PREFIX = ("api", "v1")

#: First path segment under /api/v1/ -> tag, for the segments that are not a capability.
ACCOUNT_TAGS = {
    "auth": "account",
    "me": "account",
    "invitations": "organization",
    "members": "organization",
    "organizations": "organization",
    "audit-log": "organization",
}

#: Paths that do not act for an organization (no X-Organization header).
UNSCOPED_PREFIXES = ("/api/v1/auth/", "/api/v1/me/", "/api/v1/invitations/accept/", "/api/v1/documents/agent/")

ERROR = inline_serializer(
    "Error",
    {
        "error": inline_serializer(
            "ErrorBody",
            {
                "code": serializers.CharField(help_text="Stable machine code, e.g. not_found, invalid, throttled."),
                "message": serializers.CharField(help_text="Human message in the request's language (pt-BR default)."),
                "fields": serializers.DictField(
                    child=serializers.ListField(child=serializers.CharField()),
                    help_text="Per-field messages of a 400 (invalid); empty otherwise."),
            },
        )
    },
)

ERROR_DESCRIPTIONS = {
    "400": "Invalid input (fields lists the messages per field).",
    "401": "Not signed in, or the token is invalid or expired.",
    "403": "Your role in this organization does not allow this.",
    "404": "Not found in this organization.",
    "429": "Too many requests; see Retry-After.",
}


def _own_doc(obj) -> str:
    """The docstring written on ``obj`` itself (not inherited), first paragraph."""
    doc = obj.__dict__.get("__doc__") if isinstance(obj, type) else getattr(obj, "__doc__", None)
    if not doc:
        return ""
    first = inspect.cleandoc(doc).split("\n\n", 1)[0]
    return " ".join(first.split()).replace("``", "`")


class CentralAutoSchema(AutoSchema):
    def _segments(self) -> list[str]:
        return [p for p in self.path.split("/") if p]

    def get_tags(self) -> list[str]:
        parts = self._segments()
        if tuple(parts[:2]) != API_PREFIX or len(parts) < 3:
            return super().get_tags()
        return [ACCOUNT_TAGS.get(parts[2], parts[2])]

    def get_description(self) -> str:
        action = getattr(self.view, "action", None) or self.method.lower()
        handler = getattr(type(self.view), action, None)
        # The action's own docstring, unless the method is inherited (DRF's list/create...).
        if handler is not None and action in type(self.view).__dict__:
            doc = _own_doc(handler)
            if doc:
                return doc
        return _own_doc(type(self.view))

    def _tenant_scoped(self) -> bool:
        return self.path.startswith("/api/v1/") and not self.path.startswith(UNSCOPED_PREFIXES)

    def get_override_parameters(self):
        params = list(super().get_override_parameters())
        if self._tenant_scoped():
            params.append(OpenApiParameter(
                ORG_HEADER_NAME, OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
                description="The organization to act for: its id or slug. Without it, the "
                            "session's organization or your default one. Another organization's "
                            "objects answer 404."))
        return params

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        codes = ["401", "429"]
        if self._tenant_scoped():
            codes += ["403", "404"]
        if self.method in ("POST", "PUT", "PATCH"):
            codes.append("400")
        for code in codes:
            if code not in responses:
                response = self._get_response_for_code(ERROR, code, direction=direction)
                response["description"] = ERROR_DESCRIPTIONS[code]
                responses[code] = response
        return dict(sorted(responses.items()))
