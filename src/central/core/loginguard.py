"""The sign-in limit, per account and per client address, on every login surface.

Every password check of Central goes through Django's ``authenticate()``: the API token
endpoint (simplejwt), the dashboard ``/login/`` and the admin ``/admin/login/`` alike. The
only authentication backend, :class:`GuardedModelBackend`, counts each attempt against the
account (username) and the client address (``clientaddr.client_ip``) *before* checking the
password, and takes the hit back when the password was right, so the counters hold failed
attempts only and parallel guesses cannot slip past the limit. Once either counter is over
``LOGIN_FAILURES_ACCOUNT`` / ``LOGIN_FAILURES_CLIENT`` every attempt is refused, the right
password included, until the window ends. Before this the dashboard and admin logins had no
limit at all (25 wrong passwords, then the right one, all accepted).

The refusal reaches the client as 429 with ``Retry-After``: the API view turns it into the
standard error body, the forms show a pt-BR message and :class:`LoginThrottleMiddleware`
sets the status of the HTML pages.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _

from .clientaddr import client_ip
from .throttling import count, parse_rates, uncount

BLOCKED_ATTR = "_central_login_blocked"


def _account_ident(username: str) -> str:
    return hashlib.sha256(username.strip().encode()).hexdigest()[:32]


def _mark(request, wait: float) -> None:
    for target in {id(request): request, id(getattr(request, "_request", request)): getattr(request, "_request", request)}.values():
        setattr(target, BLOCKED_ATTR, wait)


def blocked_for(request) -> float | None:
    """Seconds the client must wait when its last sign-in attempt was refused by the limit."""
    if request is None:
        return None
    wait = getattr(request, BLOCKED_ATTR, None)
    if wait is None and hasattr(request, "_request"):
        wait = getattr(request._request, BLOCKED_ATTR, None)
    return wait


def begin_attempt(request, username: str | None) -> tuple[float | None, list[str]]:
    """Count one attempt; (seconds to wait if refused, keys to take back on success)."""
    keys: list[str] = []
    wait: float | None = None
    counters = []
    if username:
        counters.append(("login-account", _account_ident(username), settings.LOGIN_FAILURES_ACCOUNT))
    address = client_ip(request)
    if address:
        counters.append(("login-client", address, settings.LOGIN_FAILURES_CLIENT))
    for scope, ident, rates in counters:
        over, counted = count(scope, ident, parse_rates(rates))
        keys.extend(counted)
        if over is not None:
            wait = max(wait or 0.0, over)
    return wait, keys


class GuardedModelBackend(ModelBackend):
    """Django's model backend behind the sign-in limit (the only configured backend)."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if username is None or password is None:
            return None
        wait, keys = begin_attempt(request, str(username))
        if wait is not None:
            _mark(request, wait)
            # Django stops asking backends and reports a failed sign-in (audited).
            raise PermissionDenied("sign-in limit")
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is not None:
            uncount(keys)  # only failures count
        return user


def throttled_message(wait: float) -> str:
    minutes = max(1, int(wait + 59) // 60)
    return _("Muitas tentativas de entrar. Tente de novo em %(n)d minuto(s).") % {"n": minutes}


class _GuardedFormMixin:
    """Shows the limit's message instead of "wrong password" when the limit refused."""

    throttled: str = ""

    def clean(self):
        try:
            return super().clean()
        except ValidationError:
            wait = blocked_for(self.request)
            if wait is not None:
                self.throttled = throttled_message(wait)
                raise ValidationError(self.throttled, code="throttled") from None
            raise


class GuardedAuthenticationForm(_GuardedFormMixin, AuthenticationForm):
    pass


class GuardedAdminAuthenticationForm(_GuardedFormMixin, AdminAuthenticationForm):
    pass


class LoginThrottleMiddleware:
    """HTML sign-in pages answer 429 + Retry-After when the limit refused the attempt."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        wait = blocked_for(request)
        if wait is not None and response.status_code in (200, 400, 401):
            response.status_code = 429
            response.reason_phrase = "Too Many Requests"
            response["Retry-After"] = str(max(1, int(wait + 0.999)))
        return response
