"""Listen / whisper / barge: an AMI Originate of the supervisor's own extension into
ChanSpy on the agent's call, through the PBX link, against the simulator on a real
socket; audited; the monitoring leg ends with the agent's call (option E)."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from central.agents import services
from central.simulator.scenarios import fixture_config
from central.telephony.models import QueueMember
from tests.telephony.pbxkit import linked, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
async def _fresh_in_memory_layer():
    from channels.layers import InMemoryChannelLayer

    layer = get_channel_layer()
    if isinstance(layer, InMemoryChannelLayer):
        await layer.flush()
    yield


def _supervisor(org):
    from tests.agents.factories import agent_for

    return agent_for(org, role="supervisor", name="Sueli Supervisora", extension="1001")


def _in_call(server_id: int):
    return QueueMember.objects.filter(server_id=server_id, availability="in_call").first()


def _audited(org_id: int) -> list[tuple[str, dict]]:
    from central.core.models import AuditLog

    return [(a.action, a.details) for a in AuditLog.objects.filter(organization_id=org_id, action__startswith="agents.spy")]


async def _next(sub, name: str):
    while True:
        event = await asyncio.wait_for(sub.get(), 10)
        if event.name == name:
            return event


async def test_whisper_rings_the_supervisor_into_chanspy_on_the_agents_call():
    cfg = fixture_config(clock="manual")
    cfg.world.talk_time_mean = 3600.0  # the call lasts while we look
    async with linked(cfg, name="pbx-spy") as kit:
        dialer = await kit.dialer()
        watch = dialer.subscribe(["ChanSpyStart", "ChanSpyStop", "Hangup"])
        call = asyncio.create_task(dialer.originate(
            "Local/5511999990006@customers", context="discador-out", exten="fila", timeout_ms=30_000))
        await wait_until(lambda: kit.sim.pbx.stats["originates"] == 1, what="originate")
        member = None
        for _ in range(60):  # until an agent is connected (AgentConnect), in virtual seconds
            await kit.sim.advance(1)
            await kit.flushed()
            member = await sync_to_async(_in_call)(kit.server.pk)
            if member is not None:
                break
        assert member is not None, "no agent took the call"
        await call
        boss = await sync_to_async(_supervisor)(kit.org)
        await sync_to_async(services.spy)(member, "whisper", boss)

        start = await _next(watch, "ChanSpyStart")
        assert start.get("SpyerChannel").startswith("PJSIP/1001-")
        assert start.get("SpyeeChannel").startswith(member.interface + "-")
        assert [a for a, _d in await sync_to_async(_audited)(kit.org.pk)] == ["agents.spy.whisper"]
        spyer = start.get("SpyerChannel")
        assert kit.sim.pbx.spies[spyer][1].name == start.get("SpyeeChannel")
        # The supervisor hangs up their phone: ChanSpyStop, then the leg's Hangup.
        answer = await dialer.send_action("Hangup", {"Channel": spyer})
        assert answer.get("Message") == "Channel Hungup"
        stop = await _next(watch, "ChanSpyStop")
        assert stop.get("SpyerChannel") == spyer
        assert (await _next(watch, "Hangup")).get("Channel") == spyer
        await dialer.close()


async def test_spying_needs_a_call_and_the_supervisors_extension():
    async with linked(fixture_config(clock="manual"), name="pbx-spy-refused") as kit:
        await kit.flushed()
        member = await sync_to_async(QueueMember.objects.filter(server_id=kit.server.pk).first)()
        boss = await sync_to_async(_supervisor)(kit.org)
        with pytest.raises(services.AgentActionError) as err:
            await sync_to_async(services.spy)(member, "listen", boss)
        assert "não está em ligação" in err.value.message
        boss.extension = ""
        with pytest.raises(services.AgentActionError) as err:
            await sync_to_async(services.spy)(member, "listen", boss)
        assert "ramal" in err.value.message
        assert await sync_to_async(_audited)(kit.org.pk) == []
