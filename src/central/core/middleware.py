"""Request id, metrics and body size limit: cross-cutting concerns every request passes."""

from __future__ import annotations

import re
import time
import uuid

from django.http import JsonResponse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from .logging import reset_request_id, reset_tenant, set_request_id, set_tenant
from .metrics import BAD_INPUT, HTTP_ERRORS, HTTP_LATENCY, HTTP_REQUESTS

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Keep the caller's X-Request-ID when it is sane, otherwise make one; echo it back."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        rid = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = rid
        # Each request starts on the installation's zone; resolving the tenant activates its own.
        timezone.deactivate()
        token, tenant = set_request_id(rid), set_tenant(None)
        try:
            response = self.get_response(request)
        finally:
            reset_tenant(tenant)
            reset_request_id(token)
        response["X-Request-ID"] = rid
        return response


class MetricsMiddleware:
    """Count and time requests by route pattern, never by raw path (unbounded label sets)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = ("/" + match.route) if match is not None and match.route else "unmatched"
        method = request.method if request.method in {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"} else "other"
        HTTP_REQUESTS.labels(method, route, str(response.status_code)).inc()
        HTTP_LATENCY.labels(method, route).observe(time.perf_counter() - started)
        if response.status_code >= 500:
            HTTP_ERRORS.labels(method, route).inc()
        return response


def error_response(status: int, code: str, message: str, fields: dict | None = None) -> JsonResponse:
    return JsonResponse(
        {"error": {"code": code, "message": message, "fields": fields or {}}}, status=status
    )


def too_large_response(request, length: int, limit: int) -> JsonResponse:
    """The 413 of an oversized body (this middleware and the ASGI wrapper in bodylimit.py)."""
    BAD_INPUT.labels("http", "body_too_large").inc()
    # LocaleMiddleware has not run yet (this refusal comes first on purpose), so the
    # client's language is picked here from its cookie / Accept-Language.
    with translation.override(translation.get_language_from_request(request)):
        return error_response(
            413,
            "body_too_large",
            _("O corpo da requisição tem %(length)d bytes; o limite é %(limit)d bytes.")
            % {"length": length, "limit": limit},
        )


class BodySizeLimitMiddleware:
    """Refuse oversized bodies with 413 before any parser reads them into memory.

    Under ASGI, ``central.core.bodylimit.BodyLimitASGI`` already refused them before Django
    spooled the body; this one covers WSGI and the test client, with the same limits.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from .bodylimit import limit_for

        limit = limit_for(request.path)
        raw = request.META.get("CONTENT_LENGTH") or "0"
        try:
            length = int(raw)
        except ValueError:
            BAD_INPUT.labels("http", "bad_content_length").inc()
            with translation.override(translation.get_language_from_request(request)):
                return error_response(400, "bad_content_length", _("Content-Length inválido."))
        if length > limit:
            return too_large_response(request, length, limit)
        return self.get_response(request)


class DependencyDownMiddleware:
    """A database that cannot be reached answers 503 in the error shape, not 500.

    During a PostgreSQL restart the pool waits up to CENTRAL_DB_POOL_TIMEOUT for a
    connection; a request still without one then is a dependency outage, not a bug:
    ``503 database_unavailable`` with ``Retry-After``, logged as one warning line (no
    traceback per request). Stale pooled connections are checked before use
    (``CONN_HEALTH_CHECKS``), so a restart itself costs no request."""

    RETRY_AFTER = "5"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        from django.db import InterfaceError, OperationalError

        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        import logging

        logging.getLogger("central.db").warning("database unavailable for %s %s: %s",
                                                request.method, request.path, exception)
        response = error_response(503, "database_unavailable",
                                  _("Banco de dados indisponível; tente de novo em instantes."))
        response["Retry-After"] = self.RETRY_AFTER
        return response
