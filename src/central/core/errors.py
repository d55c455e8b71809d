"""One JSON error shape for the whole API: ``{"error": {"code", "message", "fields"}}``.

Clients (and the dashboard) can then show ``message`` and highlight ``fields`` without
knowing which DRF exception produced them.
"""

from __future__ import annotations

from django.core.exceptions import BadRequest, PermissionDenied
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .metrics import BAD_INPUT
from .refusals import Refusal


def _flatten(detail) -> str:
    if isinstance(detail, list):
        return " ".join(_flatten(d) for d in detail)
    if isinstance(detail, dict):
        return " ".join(f"{k}: {_flatten(v)}" for k, v in detail.items())
    return str(detail)


class ServiceUnavailable(exceptions.APIException):
    """503 in the error shape: a dependency (the voice process, Redis) cannot serve this
    request now; ``Retry-After`` when the caller knows how long."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "unavailable"
    default_detail = "unavailable"

    def __init__(self, detail=None, code=None, retry_after: int | None = None) -> None:
        super().__init__(detail, code)
        self.wait = retry_after


class _BadRequest(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "bad_request"


def _refused(exc: Refusal) -> exceptions.APIException:
    """A service's :class:`Refusal` as an API error with the refusal's own status."""
    err = exceptions.APIException(exc.message, code=exc.code)
    err.status_code = exc.status
    err.fields = dict(exc.extra)
    return err


def exception_handler(exc, context):
    if isinstance(exc, Refusal):
        exc = _refused(exc)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, BadRequest):
        # Django-level "malformed request" (e.g. central.core.tenancy.InvalidOrganization)
        exc = _BadRequest(str(exc) or None, code=getattr(exc, "code", "bad_request"))
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a real bug: let Django log it and answer 500
    fields: dict = {}
    if isinstance(exc, exceptions.ValidationError):
        code = "invalid"
        if isinstance(exc.detail, dict):
            fields = {k: [str(m) for m in (v if isinstance(v, list) else [v])] for k, v in exc.detail.items()}
            message = str(_("Dados inválidos."))
        else:
            message = _flatten(exc.detail)
        BAD_INPUT.labels("api", "validation").inc()
    else:
        detail = getattr(exc, "detail", str(exc))
        if isinstance(detail, dict) and "code" in detail:
            # simplejwt puts its code and message inside the detail dict
            code = str(detail["code"])
            message = str(detail.get("detail", "")) or code
        else:
            codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
            code = codes if isinstance(codes, str) else getattr(exc, "default_code", "error")
            message = _flatten(detail)
        if isinstance(exc, exceptions.ParseError):
            BAD_INPUT.labels("api", "parse_error").inc()
        # An exception may carry what the client needs to act on the refusal (e.g. the
        # WhatsApp templates offered when the 24 h window is closed).
        fields = dict(getattr(exc, "fields", None) or {})
    body = {"error": {"code": code, "message": message, "fields": fields}}
    headers = {k: v for k, v in response.items()}
    if isinstance(exc, exceptions.Throttled | ServiceUnavailable) and exc.wait is not None:
        headers["Retry-After"] = str(max(1, int(exc.wait + 0.999)))
    return Response(body, status=response.status_code, headers=headers)


def json_404(request, exception=None):
    return JsonResponse(
        {"error": {"code": "not_found", "message": str(_("Não encontrado.")), "fields": {}}},
        status=status.HTTP_404_NOT_FOUND,
    )


def json_500(request):
    import sys

    from django.db import InterfaceError, OperationalError

    # Django calls this inside its `except` block: an unreachable database met outside a
    # view (a middleware reading the session) is an outage, answered like the view case
    # in central.core.middleware.DependencyDownMiddleware.
    if isinstance(sys.exc_info()[1], OperationalError | InterfaceError):
        response = JsonResponse(
            {"error": {"code": "database_unavailable",
                       "message": str(_("Banco de dados indisponível; tente de novo em instantes.")),
                       "fields": {}}},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
        response["Retry-After"] = "5"
        return response
    return JsonResponse(
        {"error": {"code": "server_error", "message": str(_("Erro interno.")), "fields": {}}},
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )
