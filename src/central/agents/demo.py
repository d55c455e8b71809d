"""Demo agents for the simulator's queue (``central up``): the demo organization's
people behind ``Local/agentN@agent-phones``, so the panels show names from the start.

The users get no usable password (nobody signs in as them unless an admin sets one),
and nothing is created when the organization already has agents."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction

from central.core.models import Membership, Organization
from central.core.roles import Role

from .models import Agent, AgentInterface, seed_pause_codes

DEMO_ORG = "demo"
#: (user name, display name) per simulated agent (the simulator names them agent1..N).
DEMO_PEOPLE = [("ana.souza", "Ana Souza"), ("bruno.lima", "Bruno Lima"), ("carla.dias", "Carla Dias"),
               ("diego.rocha", "Diego Rocha"), ("elisa.melo", "Elisa Melo"), ("fabio.nunes", "Fábio Nunes")]
#: The demo admin's own phone (a demo ramal), the supervisor's extension for listen/whisper/barge.
DEMO_SUPERVISOR_EXTENSION = "1001"


@transaction.atomic
def ensure_demo_agents(agents: int, server_id: int | None = None, admin: str = "admin") -> int:
    """Create the demo agents once; returns how many were created."""
    org = Organization.objects.filter(slug=DEMO_ORG).first()
    if org is None:
        return 0
    seed_pause_codes(org.pk)
    if Agent.objects.filter(organization=org).exists():
        return 0
    User = get_user_model()
    made = 0
    for n, (username, name) in enumerate(DEMO_PEOPLE[:agents], 1):
        user, created = User.objects.get_or_create(username=username, defaults={"first_name": name})
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        Membership.objects.get_or_create(user=user, organization=org, defaults={"role": Role.AGENT})
        agent = Agent.objects.create(organization=org, user=user, name=name)
        AgentInterface.objects.create(organization=org, agent=agent, interface=f"Local/agent{n}@agent-phones",
                                      server_id=server_id)
        made += 1
    boss = User.objects.filter(username=admin).first()
    if boss is not None and Membership.objects.filter(user=boss, organization=org).exists():
        Agent.objects.get_or_create(organization=org, user=boss, defaults={
            "name": boss.get_full_name() or "Supervisor", "extension": DEMO_SUPERVISOR_EXTENSION})
    return made
