"""Demo data for a fresh embedded install: organizations of each kind and one admin.

The password is generated and printed once; it is never stored in clear anywhere, so a
demo left running on a reachable machine does not ship with a known password.
"""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.db import transaction

from .models import Membership, Organization
from .roles import Role

DEMO_ORGS = [
    ("Central Demonstração", "demo", Organization.Kind.COMPANY),
    ("Condomínio Jardim das Flores", "jardim-das-flores", Organization.Kind.CONDOMINIUM),
    ("Clínica Bem-Estar", "clinica-bem-estar", Organization.Kind.CLINIC),
]


@transaction.atomic
def ensure_demo(username: str = "admin") -> tuple[str, str] | None:
    """Create the demo set when the database has no organization; return (user, password)."""
    if Organization.objects.exists():
        return None
    User = get_user_model()
    password = secrets.token_urlsafe(12)
    user, _ = User.objects.get_or_create(username=username, defaults={"email": "admin@example.com"})
    user.is_staff = True
    user.is_superuser = True
    user.set_password(password)
    user.save()
    for name, slug, kind in DEMO_ORGS:
        org = Organization.objects.create(name=name, slug=slug, kind=kind)
        Membership.objects.create(user=user, organization=org, role=Role.OWNER)
    return username, password
