"""Writes behind the supervisor's team page (agents, interfaces, pause codes, alert
thresholds): validated with the API's rules, audited, one function per change."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from central.core import audit
from central.core.roles import Role, at_least

from .identity import check_interface_claim
from .models import (
    Agent,
    AgentInterface,
    AgentSettings,
    PauseCode,
    interface_validator,
    pause_code_validator,
)


def settings_for(organization_id: int) -> AgentSettings:
    """The organization's thresholds (an unsaved row with the defaults when none exists)."""
    return AgentSettings.objects.filter(organization_id=organization_id).first() or \
        AgentSettings(organization_id=organization_id)


def _member_role(org_id: int, user_id: int) -> str | None:
    from central.core.models import Membership

    return Membership.objects.filter(organization_id=org_id, user_id=user_id).values_list("role", flat=True).first()


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError(_("Informe o nome."))
    return name[:120]


def _clean_extension(extension: str) -> str:
    from .models import extension_validator

    extension = (extension or "").strip()
    if extension:
        extension_validator(extension)
    return extension


@transaction.atomic
def create_agent(org, user_id: int, name: str, extension: str = "", interface: str = "", server=None,
                 *, request=None) -> Agent:
    role = _member_role(org.pk, user_id)
    if role is None:
        raise ValidationError(_("Usuário não encontrado."))
    if not at_least(role, Role.AGENT):
        raise ValidationError(_("Só membros com papel de agente ou acima podem ser agentes."))
    if Agent.objects.filter(organization=org, user_id=user_id).exists():
        raise ValidationError(_("Este usuário já é um agente."))
    agent = Agent.objects.create(organization=org, user_id=user_id, name=_clean_name(name),
                                 extension=_clean_extension(extension))
    audit.record("agents.agent.create", request=request, organization=org, target=agent)
    if interface.strip():
        add_interface(org, agent, interface, server, request=request)
    return agent


def update_agent(org, agent: Agent, name: str, extension: str, *, request=None) -> Agent:
    agent.name = _clean_name(name)
    agent.extension = _clean_extension(extension)
    agent.save(update_fields=["name", "extension", "updated_at"])
    audit.record("agents.agent.update", request=request, organization=org, target=agent,
                 fields=["name", "extension"])
    return agent


def delete_agent(org, agent: Agent, *, request=None) -> None:
    audit.record("agents.agent.delete", request=request, organization=org, target=agent)
    agent.delete()


def add_interface(org, agent: Agent, interface: str, server=None, *, request=None) -> AgentInterface:
    interface = (interface or "").strip()
    interface_validator(interface)
    check_interface_claim(org.pk, interface, server)
    link = AgentInterface.objects.create(organization=org, agent=agent, interface=interface, server=server)
    audit.record("agents.interface.create", request=request, organization=org, target=link,
                 interface=interface)
    return link


def remove_interface(org, link: AgentInterface, *, request=None) -> None:
    audit.record("agents.interface.delete", request=request, organization=org, target=link,
                 interface=link.interface)
    link.delete()


def add_pause_code(org, code: str, label: str, *, request=None) -> PauseCode:
    code = (code or "").strip().lower()
    pause_code_validator(code)
    label = (label or "").strip()[:80]
    if not label:
        raise ValidationError(_("Informe o nome."))
    if PauseCode.objects.filter(organization=org, code=code).exists():
        raise ValidationError(_("Já existe um motivo com este código."))
    last = PauseCode.objects.filter(organization=org).order_by("-position").values_list("position", flat=True).first()
    pause = PauseCode.objects.create(organization=org, code=code, label=label, position=(last or 0) + 1)
    audit.record("agents.pause_code.create", request=request, organization=org, target=pause)
    return pause


def set_pause_code_active(org, pause: PauseCode, active: bool, *, request=None) -> None:
    pause.active = active
    pause.save(update_fields=["active"])
    audit.record("agents.pause_code.update", request=request, organization=org, target=pause, fields=["active"])


def delete_pause_code(org, pause: PauseCode, *, request=None) -> None:
    audit.record("agents.pause_code.delete", request=request, organization=org, target=pause)
    pause.delete()


def save_settings(org, pause_alert_minutes: int, wrapup_alert_seconds: int, *, request=None) -> AgentSettings:
    if pause_alert_minutes < 1 or wrapup_alert_seconds < 1:
        raise ValidationError(_("Os limites de alerta precisam ser maiores que zero."))
    row, _created = AgentSettings.objects.update_or_create(
        organization=org, defaults={"pause_alert_minutes": pause_alert_minutes,
                                    "wrapup_alert_seconds": wrapup_alert_seconds})
    audit.record("agents.settings.update", request=request, organization=org, target=row,
                 fields=["pause_alert_minutes", "wrapup_alert_seconds"])
    return row
