"""Which connection gets which event: the session's event mask, then its filters
(manager.c: an event goes to a session only when its category is in the session's
``send_events`` and ``match_filter`` lets it through).

The fixtures show both sides: ami-login-and-actions.txt logs in with ``Events: on`` and
``Filter: Event: OriginateResponse`` and gets the OriginateResponses of its async
Originates and nothing else; the README of tests/fixtures/asterisk says the other
transcripts' action connections (``Events: off``, no filter) hold only Responses and the
list events that answer an action, so an ``Events: off`` connection never learns how its
async Originate ended.
"""

from __future__ import annotations

import asyncio

import pytest

from central.simulator import Simulator, SimulatorConfig
from central.simulator.config import DEMO_USERS
from central.simulator.world import WorldConfig
from central.telephony.ami.client import CONNECTED_EVENT, DISCONNECTED_EVENT, AMIClient
from central.telephony.ami.errors import OriginateOutcomeUnknown

# Touches neither the database nor Redis (checked: passes with neither reachable),
# so it runs only in the SQLite pass.
pytestmark = pytest.mark.backend_free

USER, SECRET = next(iter(DEMO_USERS.items()))


async def test_originate_response_reaches_only_the_connections_that_asked_for_it():
    sim = await Simulator(SimulatorConfig(world=WorldConfig(numbers={"1101": "answer"}, ring_time_mean=0.2))).start()
    off = AMIClient(sim.host, sim.port, USER, SECRET, name="off", events=False, ping_interval=None)
    filtered = AMIClient(sim.host, sim.port, USER, SECRET, name="filtered", ping_interval=None,
                         event_filters=("Event: OriginateResponse",))
    listener = AMIClient(sim.host, sim.port, USER, SECRET, name="listener", ping_interval=None)
    clients = (off, filtered, listener)
    seen: dict[str, list[str]] = {c.name: [] for c in clients}
    try:
        for c in clients:
            await c.start()
            c.add_listener(lambda m, name=c.name: seen[name].append(m.name))
        # Events: off: the Originate is queued, but its outcome never comes.
        try:
            await off.originate("PJSIP/1101", context="ai", exten="1003", timeout_ms=2000,
                                result_timeout=3)
            raise AssertionError("an Events: off connection got an OriginateResponse")
        except OriginateOutcomeUnknown as exc:
            assert exc.accepted  # "Originate successfully queued" did arrive
        # Events: on + the fixture's filter: the outcome, and no other event.
        result = await filtered.originate("PJSIP/1101", context="ai", exten="1003", timeout_ms=2000,
                                          result_timeout=5)
        assert result.answered
        await asyncio.wait_for(filtered.ping(), 5)  # everything sent before the Pong has been read
        await asyncio.wait_for(listener.ping(), 5)
        assert seen["off"] == []
        assert set(seen["filtered"]) <= {"OriginateResponse"}  # the off one's too: it is broadcast
        assert seen["filtered"].count("OriginateResponse") == 2
        assert {"Newchannel", "OriginateResponse"} <= set(seen["listener"])
    finally:
        for c in clients:
            await c.close()
        await sim.stop()


async def test_the_filter_is_sent_again_after_a_reconnect():
    sim = await Simulator(SimulatorConfig()).start()
    client = AMIClient(sim.host, sim.port, USER, SECRET, name="filtered", ping_interval=None,
                       event_filters=("Event: OriginateResponse",), backoff_initial=0.01, backoff_max=0.05)
    try:
        await client.start()
        sub = client.subscribe([])  # only the client's own connection events
        assert (await sub.get(1)).name == CONNECTED_EVENT  # the current connection
        first = next(iter(sim.sessions))
        assert len(first.state.filters) == 1
        sim.drop_connections()
        assert (await sub.get(5)).name == DISCONNECTED_EVENT
        assert (await sub.get(5)).name == CONNECTED_EVENT  # logged in (and filtered) again
        (second,) = sim.sessions
        assert second is not first and second.state.events == {"all"}
        assert [rx.pattern for _, rx in second.state.filters] == ["Event: OriginateResponse"]
    finally:
        await client.close()
        await sim.stop()
