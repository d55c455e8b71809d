"""Row factories for tenant isolation tests: one per tenant-owned model served by the API.

The isolation test walks every API viewset in the URL map and fails when a tenant-scoped
model has no factory here, so a new endpoint cannot ship without being checked.
Each factory takes an organization and returns a saved row belonging to it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django.db import models

ROW_FACTORIES: dict[str, Callable] = {}


def factory(label: str):
    def register(fn):
        ROW_FACTORIES[label] = fn
        return fn

    return register


def unique(prefix: str = "x") -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


@factory("core.membership")
def _membership(org) -> models.Model:
    from django.contrib.auth import get_user_model

    from central.core.models import Membership

    user = get_user_model().objects.create_user(unique("user"), password="senha-forte-123")
    return Membership.objects.create(user=user, organization=org, role="agent")


@factory("core.invitation")
def _invitation(org) -> models.Model:
    from datetime import timedelta

    from django.utils import timezone

    from central.core.models import Invitation

    _token, token_hash = Invitation.new_token()
    return Invitation.objects.create(organization=org, email=f"{unique('convidado')}@example.com", role="agent",
                                     token_hash=token_hash, expires_at=timezone.now() + timedelta(days=1))


@factory("core.auditlog")
def _audit(org) -> models.Model:
    from central.core.models import AuditLog

    return AuditLog.objects.create(organization=org, action="test.secret", actor_name="bob")


def _load_app_factories() -> None:
    """Capabilities keep their factories next to their tests (tests/<app>/factories.py)."""
    from importlib import import_module
    from importlib.util import find_spec

    for app in ("telephony", "dialer", "voice", "messaging", "scheduling", "documents", "agents", "recordings"):
        name = f"tests.{app}.factories"
        if find_spec(f"tests.{app}") is not None and find_spec(name) is not None:
            import_module(name)


_load_app_factories()
