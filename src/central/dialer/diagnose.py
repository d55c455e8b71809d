"""``central diagnose`` checks for the dialer: does each active campaign's Asterisk have
the dial context/extension and the queue the campaign names?

A dialplan mistake otherwise shows up only when the dialer runs: every Originate is refused
with ``Extension does not exist.`` (main/manager.c ``action_originate``) and the campaign is
paused with an alarm (issue 14). Here the same facts are asked before: ``ShowDialPlan``
(main/pbx.c ``manager_show_dialplan``: "Did not find context X" / "Did not find extension
E@X") and ``QueueStatus`` for the queue (no ``QueueParams`` item: app_queue has no such
queue). One AMI login per server, with the secret from the environment like the dialer.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["CampaignTarget", "campaign_checks", "check_campaigns_on"]

#: Seconds for the whole check of one server (login + two actions per campaign).
TIMEOUT = 15.0


@dataclass(frozen=True)
class CampaignTarget:
    id: int
    name: str
    context: str
    exten: str
    queue: str


async def check_campaigns_on(host: str, port: int, user: str, secret: str, auth: str,
                             campaigns: list[CampaignTarget]) -> list[str]:
    """Problems found on one Asterisk for these campaigns (empty: all present)."""
    from central.telephony.ami.client import AMIClient

    client = AMIClient(host, port, user, secret, name="diagnose", auth=auth, reconnect=False,
                       ping_interval=None, connect_timeout=5.0, action_timeout=5.0)
    problems: list[str] = []
    try:
        await asyncio.wait_for(client.start(), TIMEOUT)
        for c in campaigns:
            plan = await client.send_list_action("ShowDialPlan", {"Context": c.context, "Extension": c.exten})
            if not plan.ok:
                problems.append(f"campaign {c.id} ({c.name}): {c.exten}@{c.context}: "
                                f"{plan.response.get('Message') or 'not in the dialplan'}")
            status = await client.send_list_action("QueueStatus", {"Queue": c.queue})
            if not any(ev.name == "QueueParams" and ev.get("Queue") == c.queue for ev in status.events):
                problems.append(f"campaign {c.id} ({c.name}): queue {c.queue!r} does not exist")
    finally:
        await client.close()
    return problems


def _connection(server_id: int | None) -> tuple[str, int, str, str, str]:
    """(host, port, user, secret, auth) the dialer of this server would use: through the
    PBX link's ``target_for`` (the address the outbound rule checked, the tenant-named or
    the platform's secret), so diagnose never reaches a host the dialer would refuse."""
    from central.telephony.link import parse_ami_url, target_for
    from central.telephony.models import AsteriskServer

    if server_id is not None:
        row = AsteriskServer.objects.filter(pk=server_id, enabled=True).first()
        if row is None:
            raise RuntimeError(f"Asterisk server {server_id} is disabled")
        t = target_for(row)
        return t.host, t.port, t.username, t.secret, t.auth
    url = os.environ.get("CENTRAL_AMI_URL", "")
    secret = os.environ.get("CENTRAL_AMI_SECRET", "")
    if not url or not secret:
        raise RuntimeError("campaigns with no server need CENTRAL_AMI_URL and CENTRAL_AMI_SECRET")
    host, port, user = parse_ami_url(url)
    return host, port, user, secret, "plain"


def campaign_checks() -> list[tuple[str, Callable[[], str]]]:
    """One check per Asterisk server that has active campaigns (by server id: names repeat
    across tenants)."""
    from central.dialer.models import Campaign

    by_server: dict[int | None, list[CampaignTarget]] = {}
    labels: dict[int | None, str] = {None: "default"}
    for c in Campaign.objects.filter(status=Campaign.Status.ACTIVE).select_related("asterisk_server").order_by("id"):
        by_server.setdefault(c.asterisk_server_id, []).append(
            CampaignTarget(c.id, c.name, c.dial_context, c.dial_exten or "fila", c.queue))
        if c.asterisk_server is not None:
            labels[c.asterisk_server_id] = f"{c.asterisk_server.name}#{c.asterisk_server_id}"
    checks = []
    for server_id, targets in by_server.items():
        def check(server_id: int | None = server_id, targets: list[CampaignTarget] = targets) -> str:
            host, port, user, secret, auth = _connection(server_id)
            problems = asyncio.run(check_campaigns_on(host, port, user, secret, auth, targets))
            if problems:
                raise RuntimeError("; ".join(problems))
            return (f"{len(targets)} active campaign(s): dial context/exten and queue exist on "
                    f"{host}:{port}")

        checks.append((f"campaigns:{labels[server_id]}", check))
    return checks
