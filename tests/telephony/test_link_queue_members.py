"""Queue agents (members) follow the PBX: paused, added, removed; written and pushed."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from central.core.live import org_group
from central.simulator.scenarios import fixture_config
from central.telephony.models import QueueMember
from tests.telephony.pbxkit import linked, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def _members(server_id: int) -> dict[str, tuple[str, str]]:
    return {m.interface: (m.availability, m.paused_reason)
            for m in QueueMember.objects.filter(server_id=server_id)}


async def _push(layer, channel: str, kind: str) -> dict:
    while True:
        message = await asyncio.wait_for(layer.receive(channel), 5)
        if message["payload"]["type"] == kind:
            return message["payload"]


async def test_pause_add_and_remove_reach_the_database_and_the_dashboard():
    layer = get_channel_layer()
    async with linked(fixture_config(clock="manual")) as kit:
        await kit.flushed()
        agents = {f"Local/agent{n}@agent-phones" for n in (1, 2, 3)}
        assert await sync_to_async(_members)(kit.server.pk) == {a: ("free", "") for a in agents}
        channel = await layer.new_channel()
        await layer.group_add(org_group(kit.org.pk), channel)
        dialer = await kit.dialer()

        # ami-queue-actions.txt: QueuePause agent2 with Reason lunch.
        await dialer.send_action("QueuePause", {"Queue": "sales", "Interface": "Local/agent2@agent-phones",
                                                "Paused": "true", "Reason": "lunch"})
        push = await _push(layer, channel, "queue_members")
        assert [(m["interface"], m["availability"], m["paused_reason"]) for m in push["members"]] == [
            ("Local/agent2@agent-phones", "paused", "lunch")]

        await dialer.send_action("QueueAdd", {"Queue": "sales", "Interface": "Local/agent9@agent-phones",
                                              "StateInterface": "Custom:agent9", "Penalty": "2",
                                              "MemberName": "Agent Nine"})

        async def agent9_row():
            rows = await sync_to_async(_members)(kit.server.pk)
            return rows if "Local/agent9@agent-phones" in rows else None

        rows = await wait_until(agent9_row, what="agent9 row")
        assert rows["Local/agent9@agent-phones"][0] == "free"
        assert rows["Local/agent2@agent-phones"] == ("paused", "lunch")

        await dialer.send_action("QueueRemove", {"Queue": "sales", "Interface": "Local/agent9@agent-phones"})
        push = await _push(layer, channel, "queue_members")
        while not any(m.get("removed") for m in push["members"]):
            push = await _push(layer, channel, "queue_members")
        assert {"queue": "sales", "interface": "Local/agent9@agent-phones", "server": kit.server.name,
                "removed": True} in push["members"]
        assert "Local/agent9@agent-phones" not in await sync_to_async(_members)(kit.server.pk)
        await dialer.close()
        await layer.group_discard(org_group(kit.org.pk), channel)
