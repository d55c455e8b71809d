"""Who is behind an interface: the read helpers every page uses (one query per call).

Everyone who shows an interface (``PJSIP/2001``, ``Local/agent2@agent-phones``) shows the
person instead through :func:`agent_names`, called once per page with every interface on
it, never once per row.

:func:`check_interface_claim` is the tenant rule for writing an interface: interfaces are
plain strings per PBX server, and one physical Asterisk can be registered as a server row
by two organizations (same host and port). An organization may not claim an interface
that a server of *another* organization on the same PBX already reports (a queue member
or an extension's device), and a link to a server names one of its own servers only.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from .models import Agent, AgentInterface


def agent_names(organization_id: int, interfaces: Iterable[str]) -> dict[str, str]:
    """interface -> the linked person's name; interfaces without an agent are absent."""
    wanted = {i for i in interfaces if i}
    if not wanted:
        return {}
    rows = AgentInterface.objects.filter(organization_id=organization_id, interface__in=wanted) \
        .values_list("interface", "agent__name")
    return dict(rows)


def agent_for_user(organization_id: int, user) -> Agent | None:
    """The user's agent in this organization (None when a supervisor never linked them)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return Agent.objects.filter(organization_id=organization_id, user=user).first()


def agent_for_interface(organization_id: int, interface: str) -> Agent | None:
    link = AgentInterface.objects.select_related("agent").filter(
        organization_id=organization_id, interface=interface).first()
    return link.agent if link else None


def interfaces_of(organization_id: int, agent_ids: Iterable[int]) -> dict[int, list[AgentInterface]]:
    """agent id -> its interface rows (one query)."""
    out: dict[int, list[AgentInterface]] = {}
    for row in AgentInterface.objects.filter(organization_id=organization_id, agent_id__in=list(agent_ids)) \
            .select_related("server"):
        out.setdefault(row.agent_id, []).append(row)
    return out


def check_interface_claim(organization_id: int, interface: str, server=None, *, exclude_pk: int | None = None) -> None:
    """Raise ``ValidationError`` (pt-BR message) unless the organization may link ``interface``.

    1. ``server`` (optional) must be one of the organization's own servers.
    2. One agent per interface in an organization.
    3. No other organization's server on the same PBX (same host and port as one of ours)
       reports this interface as a queue member or an extension's device.
    """
    from central.telephony.models import AsteriskServer, Extension, QueueMember

    if server is not None and server.organization_id != organization_id:
        raise ValidationError({"server": _("Servidor não encontrado.")})
    taken = AgentInterface.objects.filter(organization_id=organization_id, interface=interface)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise ValidationError({"interface": _("Esta interface já está ligada a outro agente.")})
    ours = AsteriskServer.objects.filter(organization_id=organization_id)
    if server is not None:
        ours = ours.filter(pk=server.pk)
    addresses = set(ours.values_list("host", "port"))
    if not addresses:
        return
    hosts = {h for h, _p in addresses}
    others = [pk for pk, h, p in AsteriskServer.objects.exclude(organization_id=organization_id)
              .filter(host__in=hosts).values_list("pk", "host", "port") if (h, p) in addresses]
    if not others:
        return
    held = QueueMember.objects.filter(server_id__in=others, interface=interface).exists() or \
        Extension.objects.filter(server_id__in=others, device=interface).exists()
    if held:
        raise ValidationError({"interface": _("Esta interface pertence a outra organização neste PBX.")})
