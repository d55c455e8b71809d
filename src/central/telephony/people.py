"""People behind interfaces, for the telephony pages: one query per page, never per row.

A call record names its agent by interface (``PJSIP/2001``, ``Local/agent2@agent-phones``);
a supervisor wants the person. The mapping is owned by ``central.agents``
(:func:`central.agents.identity.agent_names`); these helpers ask it, and the pages fall
back to what the PBX reported when an interface has no agent.
"""

from __future__ import annotations

from collections.abc import Iterable

from central.agents.identity import agent_names
from central.agents.models import AgentInterface

from .models import QueueMember

__all__ = ["agent_options", "extension_interfaces", "names_for"]


def names_for(organization_id: int, interfaces: Iterable[str]) -> dict[str, str]:
    """``{interface: person's name}`` for the interfaces that belong to an agent."""
    return agent_names(organization_id, interfaces)


def extension_interfaces(organization_id: int, extension: str) -> list[str]:
    """Interfaces of the people whose extension (ramal) is ``extension``."""
    if not extension:
        return []
    return list(AgentInterface.objects.filter(organization_id=organization_id, agent__extension=extension)
                .values_list("interface", flat=True))


def agent_options(organization_id: int, selected: str = "") -> list[tuple[str, str]]:
    """``(interface, label)`` for the agent filter: every interface the organization's
    queues report or an agent has, the selected one even if it left, by person's name."""
    interfaces = set(QueueMember.objects.filter(organization_id=organization_id)
                     .values_list("interface", flat=True).distinct())
    interfaces.update(AgentInterface.objects.filter(organization_id=organization_id)
                      .values_list("interface", flat=True))
    if selected:
        interfaces.add(selected)
    names = names_for(organization_id, interfaces)
    options = [(i, f"{names[i]} ({i})" if i in names else i) for i in interfaces]
    return sorted(options, key=lambda o: o[1].casefold())
