"""Queue login/logout and pauses through the PBX link, against the simulator on a real
socket: the state comes back from Asterisk's events (QueueMemberAdded/Removed/Pause), and
Asterisk's refusals reach the person as pt-BR messages."""

from __future__ import annotations

import time

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from central.agents import services
from central.simulator.scenarios import fixture_config
from central.telephony import actions
from central.telephony.models import QueueMember
from tests.telephony.pbxkit import linked, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
async def _fresh_in_memory_layer():
    """The in-memory layer keeps one asyncio.Queue per channel, bound to the loop that
    first waited on it; each test has its own loop and the server ids repeat, so the
    link's action channel must start fresh (the Redis layer has no such binding)."""
    from channels.layers import InMemoryChannelLayer

    layer = get_channel_layer()
    if isinstance(layer, InMemoryChannelLayer):
        await layer.flush()
    yield


def _agent(org, interface: str, name: str = "Bruno Lima"):
    from tests.agents.factories import agent_for, make_interface

    agent = agent_for(org, name=name)
    make_interface(org, agent=agent, interface=interface)
    return agent


def _row(server_id: int, interface: str) -> tuple[str, str, str] | None:
    m = QueueMember.objects.filter(server_id=server_id, interface=interface).first()
    return (m.availability, m.paused_reason, m.name) if m else None


async def _wait_row(kit, interface: str, want):
    async def check():
        row = await sync_to_async(_row)(kit.server.pk, interface)
        return (row,) if want(row) else None  # a tuple: "no row" (None) can be the wanted state

    return (await wait_until(check, what=f"{interface} row"))[0]


async def test_pause_with_a_reason_and_back_come_from_the_events():
    async with linked(fixture_config(clock="manual"), name="pbx-pause") as kit:
        agent = await sync_to_async(_agent)(kit.org, "Local/agent2@agent-phones")
        await sync_to_async(services.pause)(agent, "almoco", "sales")
        row = await _wait_row(kit, "Local/agent2@agent-phones", lambda r: r and r[0] == "paused")
        assert row[1] == "almoco"
        await sync_to_async(services.unpause)(agent, "sales")
        await _wait_row(kit, "Local/agent2@agent-phones", lambda r: r and r[0] == "free")
        # A reason outside the organization's list is refused before Asterisk is asked.
        with pytest.raises(services.InvalidAgentRequest):
            await sync_to_async(services.pause)(agent, "cafezinho", "sales")


async def test_login_adds_a_dynamic_member_and_logout_removes_it():
    async with linked(fixture_config(clock="manual"), name="pbx-login") as kit:
        agent = await sync_to_async(_agent)(kit.org, "PJSIP/2001", "Carla Dias")
        await sync_to_async(services.queue_login)(agent, "sales")
        row = await _wait_row(kit, "PJSIP/2001", lambda r: r is not None)
        assert row[2] == "Carla Dias"  # MemberName from the QueueAdd, read back from QueueMemberAdded
        await sync_to_async(services.queue_login)(agent, "sales")  # already in: nothing to do
        await sync_to_async(services.queue_logout)(agent, "sales")
        await _wait_row(kit, "PJSIP/2001", lambda r: r is None)
        with pytest.raises(services.AgentActionError) as err:
            await sync_to_async(services.queue_logout)(agent, "sales")
        assert err.value.message == "PJSIP/2001 não está na fila sales."  # "Not there"


async def test_a_static_member_logs_out_as_a_pause_and_in_as_an_unpause():
    async with linked(fixture_config(clock="manual"), name="pbx-static") as kit:
        agent = await sync_to_async(_agent)(kit.org, "Local/agent1@agent-phones")
        await sync_to_async(services.queue_logout)(agent, "sales")  # "Member not dynamic" -> paused
        row = await _wait_row(kit, "Local/agent1@agent-phones", lambda r: r and r[0] == "paused")
        assert row[1] == services.LOGGED_OUT_REASON
        await sync_to_async(services.queue_login)(agent, "sales")
        await _wait_row(kit, "Local/agent1@agent-phones", lambda r: r and r[0] == "free")


async def test_asterisk_refusals_are_pt_br_messages():
    async with linked(fixture_config(clock="manual"), name="pbx-errors") as kit:
        target = services.Target(kit.server.pk, "Local/agent2@agent-phones", "sales")
        with pytest.raises(services.AgentActionError) as err:  # add-2: "Already there"
            await sync_to_async(services.add_to_queue)(target)
        assert err.value.message == "Local/agent2@agent-phones já está na fila sales."
        assert err.value.extra["asterisk"] == "Unable to add interface: Already there"
        unknown = services.Target(kit.server.pk, "Local/agent7@agent-phones", "sales")
        with pytest.raises(services.AgentActionError) as err:  # pause-2: "Interface not found"
            await sync_to_async(services.set_paused)(unknown, True, "nope")
        assert "interface desconhecida" in err.value.message
        with pytest.raises(services.AgentActionError) as err:  # no such queue
            await sync_to_async(services.add_to_queue)(services.Target(kit.server.pk, "PJSIP/2001", "suporte"))
        assert err.value.message == "A fila suporte não existe no Asterisk."


async def test_no_link_answers_unavailable_and_a_stale_request_is_never_run():
    with pytest.raises(actions.PBXUnavailable):
        await actions.asend(987654, actions.QUEUE_PAUSE, [], timeout=0.2)
    layer = get_channel_layer()
    async with linked(fixture_config(clock="manual"), name="pbx-stale") as kit:
        # A pause queued long ago (its asker gave up) reaches the link now: dropped.
        late = await layer.new_channel()
        await layer.send(actions.action_channel(kit.server.pk), actions.request_message(
            actions.QUEUE_PAUSE, [(actions.F_QUEUE, "sales"), (actions.F_INTERFACE, "Local/agent3@agent-phones"),
                                  (actions.F_PAUSED, "true"), (actions.F_REASON, "almoco")],
            late, time.time() - 1))
        answer = await actions.asend(kit.server.pk, actions.QUEUE_PAUSE, [
            (actions.F_QUEUE, "sales"), (actions.F_INTERFACE, "Local/agent1@agent-phones"),
            (actions.F_PAUSED, "true"), (actions.F_REASON, "almoco")])
        assert answer[actions.F_RESPONSE] == "Success"
        await _wait_row(kit, "Local/agent1@agent-phones", lambda r: r and r[0] == "paused")
        await kit.flushed()
        assert (await sync_to_async(_row)(kit.server.pk, "Local/agent3@agent-phones"))[0] == "free"
        # Only the four queue actions and Originate pass; anything else is refused by the link.
        with pytest.raises(ValueError):
            await actions.asend(kit.server.pk, "Command", [("Command", "core stop now")])
