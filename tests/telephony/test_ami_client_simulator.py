"""The AMI client against the PBX simulator over real TCP, on a manual clock, with the
live state and call records built from what the client receives."""

from __future__ import annotations

import asyncio

import pytest

from central.simulator import FaultConfig, Simulator
from central.simulator.config import DEMO_USERS
from central.simulator.scenarios import SCENARIOS, fixture_config
from central.telephony import chanvars
from central.telephony.ami.client import AMIClient
from central.telephony.ami.errors import AuthenticationFailed, OriginateOutcomeUnknown
from central.telephony.ami.protocol import Message
from central.telephony.cdr import CallRecord, CdrBuilder
from central.telephony.state import LiveState

# Touches neither the database nor Redis (checked: passes with neither reachable),
# so it runs only in the SQLite pass.
pytestmark = pytest.mark.backend_free

SECRET = DEMO_USERS["central"]


def make_client(sim: Simulator, secret: str = SECRET, **kw) -> AMIClient:
    kw.setdefault("ping_interval", None)
    kw.setdefault("backoff_initial", 0.01)
    kw.setdefault("backoff_max", 0.05)
    return AMIClient(sim.host, sim.port, "central", secret, name="sim", **kw)


class Recorder:
    """Feeds every event the client receives to LiveState and CdrBuilder."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.state = LiveState("sim")
        self.cdr = CdrBuilder("sim")
        self.records: list[CallRecord] = []

    def __call__(self, msg: Message) -> None:
        now = self.sim.clock.now()
        self.state.feed(msg, now)
        self.records += self.cdr.feed(msg, now)


async def run_until(sim: Simulator, done, limit: float = 3600, step: float = 1.0) -> None:
    t = 0.0
    while not done():
        assert t < limit, "simulated time ran out"
        await sim.advance(step)
        await asyncio.sleep(0)
        t += step


async def test_login_failure():
    async with Simulator(fixture_config(clock="manual", login_failure_delay=0.0)) as sim:
        client = make_client(sim, secret="wrong-secret")
        with pytest.raises(AuthenticationFailed, match="Authentication failed"):
            await asyncio.wait_for(client.start(), 10)
        await asyncio.wait_for(client._task, 10)  # its connection loop has ended...
        assert sim.stats["connections"] == 1  # ...without retrying
        await client.close()


@pytest.mark.parametrize(
    ("fixture", "outcome", "reason", "disposition", "cause"),
    [
        ("ami-event-stream-answered-queue-agent.txt", "answered", 4, "answered", 16),
        ("ami-event-stream-busy.txt", "busy", 5, "busy", 17),
        ("ami-event-stream-noanswer-timeout.txt", "no_answer", 3, "no_answer", 19),
        ("ami-event-stream-noanswer-cause19.txt", "failed", 0, "no_answer", 19),
        ("ami-event-stream-congestion.txt", "congestion", 8, "congestion", 34),
    ],
)
async def test_originate_outcomes_and_their_records(fixture, outcome, reason, disposition, cause):
    scenario = SCENARIOS[fixture]
    async with Simulator(fixture_config(clock="manual")) as sim, make_client(sim) as client:
        rec = Recorder(sim)
        client.add_listener(rec)
        call = asyncio.create_task(client.originate(
            f"Local/{scenario.number}@customers", context="discador-out",
            exten=scenario.number, caller_id="1100", timeout_ms=scenario.timeout_ms,
            variables={chanvars.ATTEMPT_ID: f"att-{scenario.number}"},
            channel_id=f"att-{scenario.number}-leg1", other_channel_id=f"att-{scenario.number}-leg2",
        ))
        await run_until(sim, call.done)
        result = await call
        assert (result.outcome, result.reason) == (outcome, reason)
        assert result.uniqueid == (f"att-{scenario.number}-leg1" if outcome == "answered" else None)
        await run_until(sim, lambda: rec.records)
        (record,) = rec.records
        assert (record.disposition, record.hangup_cause) == (disposition, cause)
        assert record.linkedid == f"att-{scenario.number}-leg1"
        assert record.attempt_id == f"att-{scenario.number}"
        assert (record.from_number, record.to_number) == ("1100", scenario.number)
        if disposition == "answered":
            assert record.agent and record.queue == "sales" and record.billsec > 0
        assert not rec.state.channels and rec.cdr.active_calls == 0


async def test_list_actions_during_a_call():
    async with Simulator(fixture_config(clock="manual")) as sim, make_client(sim) as client:
        number = "5511999990001"
        call = asyncio.create_task(client.originate(
            f"Local/{number}@customers", context="discador-out", exten=number,
            channel_id="att-1-leg1"))
        await run_until(sim, call.done)
        assert (await call).answered
        channels = await client.send_list_action("CoreShowChannels")
        assert channels.complete.name == "CoreShowChannelsComplete"
        assert "att-1-leg1" in {e["Uniqueid"] for e in channels.events}
        queue = await client.send_list_action("QueueStatus", {"Queue": "sales"})
        assert [e.name for e in queue.events].count("QueueMember") == 3
        exts = await client.send_list_action("ExtensionStateList")
        assert {e["Exten"] for e in exts.events} >= {"1001", "1002", "1003"}
        state = LiveState("sim")
        for e in queue.events + exts.events + channels.events:
            state.feed(e, sim.clock.now())
        assert len(state.queue_members) == 3 and "1001@ramais" in state.extensions
        assert state.channels["att-1-leg1"].state_text == "up"


async def test_drop_mid_originate_is_never_resent_and_can_be_reconciled():
    # The simulator runs the Originate, then drops the connection without answering:
    # the ambiguous case. The client must not dial again; the caller finds the call by
    # the ChannelId it chose.
    cfg = fixture_config(clock="manual")
    cfg.faults = FaultConfig(drop_actions=("Originate",), execute_before_drop=True)
    cfg.world.talk_time_mean = 600.0
    async with Simulator(cfg) as sim, make_client(sim) as client:
        number = "5511999990001"
        with pytest.raises(OriginateOutcomeUnknown) as exc:
            await client.originate(f"Local/{number}@customers", context="discador-out",
                                   exten=number, channel_id="att-7-leg1")
        assert exc.value.channel_id == "att-7-leg1"
        await asyncio.wait_for(client.connected.wait(), 5)
        await sim.advance(10)
        channels = await client.send_list_action("CoreShowChannels")
        assert "att-7-leg1" in {e["Uniqueid"] for e in channels.events}  # it is dialling
        assert sim.pbx.stats["originates"] == 1  # and was dialled once
        assert sim.stats["connections"] == 2
