"""Roles and what they may do.

Roles are ordered: each one can do everything the roles below it can. Keeping them a total
order (instead of a permission matrix) is what VICIdial-style contact centers actually use
and keeps every check a single comparison.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    OWNER = "owner", _("Proprietário")
    ADMIN = "admin", _("Administrador")
    SUPERVISOR = "supervisor", _("Supervisor")
    AGENT = "agent", _("Agente")
    VIEWER = "viewer", _("Visualizador")


RANK: dict[str, int] = {
    Role.VIEWER: 10,
    Role.AGENT: 20,
    Role.SUPERVISOR: 30,
    Role.ADMIN: 40,
    Role.OWNER: 50,
}


def at_least(role: str, minimum: str) -> bool:
    """True when ``role`` ranks at or above ``minimum``."""
    return RANK.get(role, 0) >= RANK[minimum]
