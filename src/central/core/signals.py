"""Audit sign-ins and failed sign-ins: the first thing an incident review asks for."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from . import audit


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs) -> None:
    audit.record("auth.login", request=request, actor=user)


@receiver(user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs) -> None:
    audit.record("auth.login_failed", request=request, username=str(credentials.get("username", ""))[:150])
