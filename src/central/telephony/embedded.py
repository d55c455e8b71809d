"""``central up``: the PBX link inside the all-in-one process.

Links every enabled Asterisk server of the database (and ``CENTRAL_AMI_URL``), plus, when
the simulator started (``context["ami"]``), a server row named ``simulador`` of the demo
organization (slug ``demo``) with ``use_simulator=True`` pointing at it. Its secret is
handed over in ``context`` (random per run), never stored.

Puts ``context["pbx"] = {server name: PBXLink}`` so later components (the dialer) can
read the live state (e.g. free queue members) without a second AMI connection.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable

log = logging.getLogger("central.telephony.embedded")

SIMULATOR_SERVER = "simulador"
DEMO_ORG = "demo"


def simulator_server(ami: dict):
    from central.core.models import Organization

    from .models import AsteriskServer

    org = Organization.objects.filter(slug=DEMO_ORG).first() or Organization.objects.order_by("id").first()
    if org is None:
        return None
    server, _ = AsteriskServer.objects.update_or_create(
        organization=org, name=SIMULATOR_SERVER,
        defaults={"host": ami["host"], "port": ami["port"], "username": ami["username"],
                  "secret_env": "CENTRAL_SIM_AMI_SECRET", "enabled": True, "use_simulator": True},
    )
    return server


def _targets(ami: dict | None):
    from .link import target_for, targets_from_db

    targets, problems = targets_from_db()
    if ami:
        server = simulator_server(ami)
        if server is not None:
            targets.append(target_for(server, secret=ami["secret"]))
    return targets, problems


async def start(context: dict) -> list[Awaitable]:
    from channels.db import database_sync_to_async

    from .link import PBXLink, run_links

    targets, problems = await database_sync_to_async(_targets)(context.get("ami"))
    for problem in problems:
        log.warning("pbx: %s", problem)
    if not targets:
        log.info("pbx: no Asterisk server configured; the PBX link is idle")
        return []
    links = [PBXLink(t) for t in targets]
    # Keyed by name for status, but names repeat across tenants: a repeated one gets its id
    # (each link stays reachable; the dialer picks servers by id, never by this key).
    names = [link.name for link in links]
    context["pbx"] = {(link.name if names.count(link.name) == 1 else f"{link.name}#{link.target.server.id}"): link
                      for link in links}
    for link in links:
        log.info("pbx: linking %s at %s:%s", link.name, link.target.host, link.target.port)
    return [run_links(links)]
