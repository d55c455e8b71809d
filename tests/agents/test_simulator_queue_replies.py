"""The simulator answers the queue actions as Asterisk 22.10.1 does, over a real socket:
the captured exchanges (tests/fixtures/asterisk/ami-queue-actions.txt) and, where nothing
was captured, the replies of apps/app_queue.c manager_add/remove/pause_queue_member()."""

from __future__ import annotations

import pytest

from central.simulator import Simulator
from central.simulator.config import DEMO_USERS
from central.simulator.scenarios import fixture_config
from central.telephony import actions as ami
from central.telephony.ami.client import AMIClient

pytestmark = pytest.mark.backend_free


async def _session():
    sim = Simulator(fixture_config(clock="manual"))
    await sim.start("127.0.0.1", 0)
    client = AMIClient(sim.host, sim.port, "central", DEMO_USERS["central"], name="replies",
                       ping_interval=None, reconnect=False)
    await client.start()
    return sim, client


async def test_queue_action_replies_captured_and_from_app_queue():
    sim, client = await _session()
    try:
        async def ask(action, fields):
            answer = await client.send_action(action, fields)
            return answer.get(ami.F_RESPONSE), answer.get(ami.F_MESSAGE)

        agent9 = [(ami.F_QUEUE, "sales"), (ami.F_INTERFACE, "Local/agent9@agent-phones")]
        # ami-queue-actions.txt add-1, add-2, remove-1, remove-2, pause-2.
        assert await ask(ami.QUEUE_ADD, [*agent9, (ami.F_MEMBER_NAME, "Agent Nine")]) == \
            ("Success", "Added interface to queue")
        assert await ask(ami.QUEUE_ADD, agent9) == ("Error", "Unable to add interface: Already there")
        assert await ask(ami.QUEUE_REMOVE, agent9) == ("Success", "Removed interface from queue")
        assert await ask(ami.QUEUE_REMOVE, agent9) == ("Error", "Unable to remove interface: Not there")
        assert await ask(ami.QUEUE_PAUSE, [(ami.F_QUEUE, "sales"), (ami.F_INTERFACE, "Local/agent7@agent-phones"),
                                           (ami.F_PAUSED, "true"), (ami.F_REASON, "nope")]) == \
            ("Error", "Interface not found")
        # apps/app_queue.c (22.10.1): missing fields, unknown queue, a static member.
        assert await ask(ami.QUEUE_ADD, [(ami.F_INTERFACE, "PJSIP/2001")]) == ("Error", "'Queue' not specified.")
        assert await ask(ami.QUEUE_ADD, [(ami.F_QUEUE, "sales")]) == ("Error", "'Interface' not specified.")
        assert await ask(ami.QUEUE_ADD, [(ami.F_QUEUE, "suporte"), (ami.F_INTERFACE, "PJSIP/2001")]) == \
            ("Error", "Unable to add interface to queue: No such queue")
        assert await ask(ami.QUEUE_PAUSE, [(ami.F_INTERFACE, "Local/agent1@agent-phones")]) == \
            ("Error", "Need 'Interface' and 'Paused' parameters.")
        assert await ask(ami.QUEUE_REMOVE, [(ami.F_QUEUE, "sales")]) == \
            ("Error", "Need 'Queue' and 'Interface' parameters.")
        assert await ask(ami.QUEUE_REMOVE, [(ami.F_QUEUE, "suporte"), (ami.F_INTERFACE, "PJSIP/2001")]) == \
            ("Error", "Unable to remove interface from queue: No such queue")
        assert await ask(ami.QUEUE_REMOVE, [(ami.F_QUEUE, "sales"), (ami.F_INTERFACE, "Local/agent1@agent-phones")]) == \
            ("Error", "Member not dynamic")
        # No Queue: app_queue pauses the interface in every queue it is a member of.
        assert await ask(ami.QUEUE_PAUSE, [(ami.F_INTERFACE, "Local/agent1@agent-phones"), (ami.F_PAUSED, "true"),
                                           (ami.F_REASON, "almoco")]) == ("Success", "Interface paused successfully")
    finally:
        await client.close()
        await sim.stop()
