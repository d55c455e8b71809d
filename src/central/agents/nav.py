"""Menu entries of the agents pages."""

from __future__ import annotations

from django.utils.translation import gettext as _

from central.core.roles import Role, at_least


def items(membership) -> list[dict]:
    if membership is None or not at_least(membership.role, Role.AGENT):
        return []
    out = [{"url": "/agents/desk/", "label": _("Tela do agente")}]
    if at_least(membership.role, Role.SUPERVISOR):
        out.append({"url": "/agents/team/", "label": _("Equipe")})
    return out
