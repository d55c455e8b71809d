"""``central up``: the dialer engine inside the all-in-one process.

Runs one :class:`~central.dialer.engine.Engine` against ``context["ami"]`` (the built-in
simulator, or nothing). With the simulator, the demo organization gets a demo campaign
with demo contacts the first time, so a new user sees calls being placed, answered and
abandoned in the dashboard within a minute. Production runs ``central dialer`` processes
instead (one or more per Asterisk).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable

log = logging.getLogger("central.dialer.embedded")

DEMO_ORG = "demo"
DEMO_CAMPAIGN = "Campanha de demonstração"
DEMO_CONTACTS = 3000


def ensure_demo_campaign(queue: str) -> int | None:
    """Create the demo campaign (active, predictive, open all day) if the demo org has none."""
    from central.core.models import Organization
    from central.dialer.models import Campaign, Contact

    org = Organization.objects.filter(slug=DEMO_ORG).first()
    if org is None:
        return None
    if Campaign.objects.filter(organization=org).exists():
        return None
    days = {d: [["00:00", "23:59"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    campaign = Campaign.objects.create(
        organization=org, name=DEMO_CAMPAIGN, status=Campaign.Status.ACTIVE, queue=queue,
        dial_context="discador-out", caller_id="1130000000", pacing_mode=Campaign.Pacing.PREDICTIVE,
        working_hours=days, respect_holidays=False, max_channels=40, max_cps=10,
        short_call_message="Olá, aqui é da Central Demonstração. Retornaremos sua ligação em breve.")
    # Numbers of the simulator, not real subscribers (the simulated PBX dials nobody).
    Contact.objects.bulk_create([
        Contact(organization=org, campaign=campaign, name=f"Contato {i + 1}", phone=f"+5511900{i:06d}",
                origin="demonstração")
        for i in range(DEMO_CONTACTS)
    ], batch_size=1000)
    return campaign.id


async def start(context: dict) -> list[Awaitable]:
    ami = context.get("ami")
    if not ami:
        log.info("dialer: no AMI in context (no simulator, no Asterisk); run `central dialer` for a real one")
        return []
    from channels.db import database_sync_to_async

    from central.dialer.engine import Engine, EngineOptions
    from central.telephony.ami.client import AMIClient

    sim = context.get("simulator")
    queue, wrapup = "sales", 0.0
    config = getattr(sim, "config", None)
    if config is not None:
        queue = config.world.queue
        wrapup = config.world.wrapup_time
    created = await database_sync_to_async(ensure_demo_campaign)(queue)
    if created:
        log.info("dialer: demo campaign %s created with %s contacts", created, DEMO_CONTACTS)
    client = AMIClient(ami["host"], int(ami["port"]), ami["username"], ami["secret"], name="dialer-embedded")
    engine = Engine(client, options=EngineOptions(wrapup_s=wrapup))
    context["dialer"] = engine

    async def run() -> None:
        try:
            await client.start()
            await engine.run()
        finally:
            await client.close()

    return [run()]
