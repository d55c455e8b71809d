"""Content-Security-Policy on every response, with a per-request nonce.

Nothing Central serves loads from another origin: the dashboard's scripts and styles are
static files or inline blocks carrying ``nonce="{{ csp_nonce }}"``; Swagger UI comes from
``drf-spectacular-sidecar``. So the policy is "this site only", and an injected
``<script>`` (or ``onclick=``/``style=`` attribute) does nothing. WebSockets to the same
host are covered by ``'self'`` (CSP level 3).

Browser tests fail on any violation Chromium reports (``tests/conftest.py``), so a page
that needs inline code without a nonce is found before it ships.
"""

from __future__ import annotations

import secrets

from django.conf import settings

HEADER = "Content-Security-Policy"


def policy(nonce: str) -> str:
    n = f"'nonce-{nonce}'"
    return "; ".join([
        "default-src 'self'",
        f"script-src 'self' {n}",
        f"style-src 'self' {n}",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


class ContentSecurityPolicyMiddleware:
    """Sets the header (unless a view set its own) and ``request.csp_nonce`` for templates."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        nonce = secrets.token_urlsafe(16)
        request.csp_nonce = nonce
        response = self.get_response(request)
        if getattr(settings, "CSP_ENABLED", True) and HEADER not in response:
            response[HEADER] = policy(nonce)
        return response


def nonce(request) -> dict:
    """Template context processor: ``{{ csp_nonce }}`` for inline ``<script>``/``<style>``."""
    return {"csp_nonce": getattr(request, "csp_nonce", "")}
