"""Row factories for the agents models served by the API (tenant isolation test)."""

from __future__ import annotations

from django.db import models

from tests.factories import factory, unique


def agent_for(org, role: str = "agent", **fields) -> models.Model:
    from django.contrib.auth import get_user_model

    from central.agents.models import Agent
    from central.core.models import Membership

    user = fields.pop("user", None)
    if user is None:
        user = get_user_model().objects.create_user(unique("agente"), password="senha-forte-123")
        Membership.objects.create(user=user, organization=org, role=role)
    defaults = {"name": f"Agente {unique('')}", "extension": ""}
    defaults.update(fields)
    return Agent.objects.create(organization=org, user=user, **defaults)


@factory("agents.agent")
def make_agent(org) -> models.Model:
    return agent_for(org)


@factory("agents.agentinterface")
def make_interface(org, **fields) -> models.Model:
    from central.agents.models import AgentInterface

    agent = fields.pop("agent", None) or agent_for(org)
    defaults = {"interface": unique("PJSIP/")}
    defaults.update(fields)
    return AgentInterface.objects.create(organization=org, agent=agent, **defaults)


@factory("agents.pausecode")
def make_pause_code(org) -> models.Model:
    from central.agents.models import PauseCode

    return PauseCode.objects.create(organization=org, code=unique("p"), label="Pausa secreta")
