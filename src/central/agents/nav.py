"""Menu entries of the agents pages."""

from __future__ import annotations

from django.utils.translation import gettext as _

from central.core.roles import Role, at_least


def items(membership) -> list[dict]:
    if membership is None:
        return []
    out = []
    if at_least(membership.role, Role.AGENT):
        out.append({"url": "/agents/desk/", "label": _("Tela do agente")})
    out.append({"url": "/agents/", "label": _("Agentes")})
    if at_least(membership.role, Role.SUPERVISOR):
        out.append({"url": "/agents/team/", "label": _("Equipe")})
    return out
