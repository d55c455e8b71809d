"""``central up``: the dialer engine inside the all-in-one process.

Two cases, decided by what the earlier components put in ``context``:

* the built-in simulator started (``context["ami"]``): one
  :class:`~central.dialer.engine.Engine` against it. The demo organization gets a demo
  campaign with demo contacts the first time, so a new user sees calls being placed,
  answered and abandoned in the dashboard within a minute.
* real Asterisk servers are configured (``CENTRAL_AMI_URL`` or enabled ``AsteriskServer``
  rows; the PBX link put them in ``context["pbx"]``): one engine per server, on its own
  AMI connection, serving the campaigns whose ``asterisk_server`` is that server (by id,
  and only campaigns of the server's own organization). Campaigns with no server set go
  to the *default* server, and only those of its organization: the one of
  ``CENTRAL_AMI_URL`` (organization ``CENTRAL_AMI_ORG``), else the only server configured;
  with several servers and no ``CENTRAL_AMI_URL`` they wait for a ``central dialer --ami``
  process (logged). No demo campaign is created against a real PBX.

Production runs ``central dialer`` processes instead (one or more per Asterisk); the
engines here take the same campaign leases, so both can run side by side.
"""

from __future__ import annotations

import logging
import os
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
        short_call_message="Olá, aqui é da Central Demonstração. Retornaremos sua ligação em breve.",
        # A quarter of the answered calls recorded (the simulator writes a short WAV:
        # docs/recordings.md), so the call pages show the player.
        record="percent", record_percent=25,
        # The agent's page (docs/agents.md): a script naming imported fields.
        script="Olá, {nome}! Aqui é {agente}, da Central Demonstração.\n"
               "Vi que você é de {cidade} e tem o plano {plano}. Posso falar um minuto sobre a renovação?")
    # Numbers of the simulator, not real subscribers (the simulated PBX dials nobody).
    cities = ("São Paulo", "Campinas", "Santos", "Sorocaba")
    plans = ("Básico", "Família", "Empresa")
    Contact.objects.bulk_create([
        Contact(organization=org, campaign=campaign, name=f"Contato {i + 1}", phone=f"+5511900{i:06d}",
                origin="demonstração", custom_fields={"cidade": cities[i % 4], "plano": plans[i % 3]})
        for i in range(DEMO_CONTACTS)
    ], batch_size=1000)
    return campaign.id


def default_server(refs: list, environ: dict | None = None, platform_id: int | None = None):
    """Which linked server (a ``ServerRef``) also serves campaigns with no server set.

    The CENTRAL_AMI_URL row (``platform_id``, found by id: names repeat across tenants),
    else the only server configured. It serves only its own organization's such campaigns
    (for the CENTRAL_AMI_URL row, the organization CENTRAL_AMI_ORG names)."""
    env = os.environ if environ is None else environ
    if env.get("CENTRAL_AMI_URL", "").strip():
        return next((r for r in refs if r.id == platform_id), None)
    return refs[0] if len(refs) == 1 else None


def _engine_task(engine, client) -> Awaitable:
    async def run() -> None:
        try:
            await client.start()
            await engine.run()
        finally:
            await client.close()

    return run()


def _platform_server_id() -> int | None:
    from central.telephony.link import ConfigError, platform_server

    try:
        row = platform_server()
    except ConfigError:
        return None
    return row.pk if row is not None else None


def _real_asterisk_engines(context: dict, platform_id: int | None) -> list[Awaitable]:
    """One engine per server the PBX link connects to (see the module docstring)."""
    from central.dialer.engine import Engine, EngineOptions
    from central.telephony.ami.client import AMIClient

    links = list((context.get("pbx") or {}).values())
    default = default_server([lk.target.server for lk in links], platform_id=platform_id)
    if default is None and links:
        log.warning("dialer: campaigns with no Asterisk server set are not dialed here: %s servers are "
                    "configured and CENTRAL_AMI_URL names none of them (run `central dialer --ami ...`)",
                    len(links))
    tasks, engines = [], {}
    for key, link in (context.get("pbx") or {}).items():
        t, ref = link.target, link.target.server
        is_default = default is not None and ref.id == default.id
        client = AMIClient(t.host, t.port, t.username, t.secret, name=f"dialer-{ref.name}", auth=t.auth)
        engine = Engine(client, options=EngineOptions(
            server=ref.name, server_id=ref.id,
            default_organization_ids=(ref.organization_id,) if is_default else ()))
        engines[key] = engine
        log.info("dialer: serving campaigns of server %s (id %s)%s at %s:%s", ref.name, ref.id,
                 " (and its organization's with no server set)" if is_default else "", t.host, t.port)
        tasks.append(_engine_task(engine, client))
        if is_default:
            context["dialer"] = engine
    context["dialers"] = engines
    return tasks


async def start(context: dict) -> list[Awaitable]:
    from .importworker import recovery_forever

    # Imports whose worker died (this process was killed mid-import) resume from here.
    return [recovery_forever(), *await _start_engines(context)]


async def _start_engines(context: dict) -> list[Awaitable]:
    from channels.db import database_sync_to_async

    ami = context.get("ami")
    if not ami:
        if context.get("pbx"):
            return _real_asterisk_engines(context, await database_sync_to_async(_platform_server_id)())
        log.info("dialer: no Asterisk configured and no simulator; the dialer is idle")
        return []

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
    from central.telephony.embedded import SIMULATOR_SERVER, simulator_server

    # The simulator is the platform's PBX of the demo organization: it serves that
    # organization's campaigns (and those that reference its row), no other tenant's.
    row = await database_sync_to_async(simulator_server)(ami)
    client = AMIClient(ami["host"], int(ami["port"]), ami["username"], ami["secret"], name="dialer-embedded")
    from central.dialer import desk_services

    desk_services.EMBEDDED_AMI = dict(ami)  # the agent's page dials through the same simulator
    engine = Engine(client, options=EngineOptions(
        wrapup_s=wrapup, server=SIMULATOR_SERVER, server_id=row.pk if row else None,
        default_organization_ids=(row.organization_id,) if row else ()))
    context["dialer"] = engine

    context["dialers"] = {SIMULATOR_SERVER: engine}
    return [_engine_task(engine, client)]
