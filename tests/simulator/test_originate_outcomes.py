"""Originate outcomes over TCP beyond the captured streams: sync answers, failures,
abandoned callers, paused agents, a Hangup while ringing, live channel views."""

from __future__ import annotations

import pytest

from central.simulator import Simulator, SimulatorConfig, WorldConfig
from tests.simulator.amiclient import RawAMI

# Touches neither the database nor Redis (checked: passes with neither reachable),
# so it runs only in the SQLite pass.
pytestmark = pytest.mark.backend_free


def originate(conn: RawAMI, number: str, aid: str, is_async: bool = True, **extra: object) -> None:
    fields = {"Channel": f"Local/{number}@customers", "Context": "discador-out", "Exten": number,
              "Priority": "1", "Timeout": "30000", "Async": "true" if is_async else "false"}
    fields.update(extra)
    conn.send("Originate", fields, aid)


def cfg(**world) -> SimulatorConfig:
    numbers = {"100": "answer", "200": "busy", "300": "noanswer", "400": "congestion", "500": "fail"}
    world.setdefault("numbers", numbers)
    return SimulatorConfig(clock="manual", world=WorldConfig(**world))


async def settle(sim: Simulator, conn: RawAMI, seconds: float) -> None:
    await sim.advance(seconds)
    await conn.pump(0.05)


async def test_sync_originate_answers_when_the_call_resolves() -> None:
    async with Simulator(cfg(agents=2)) as sim:
        conn = await RawAMI.connect(sim.host, sim.port)
        await conn.login(events="off")
        originate(conn, "100", "ok", is_async=False)
        originate(conn, "200", "busy", is_async=False)
        originate(conn, "500", "fail", is_async=False)
        fail = await conn.response("fail")  # fails at once, before the others
        assert (fail["Response"], fail["Message"]) == ("Error", "Originate failed")
        await conn.pump(0.05)
        assert not [m for m in conn.inbox if m.get("ActionID") in ("ok", "busy")]
        await settle(sim, conn, 60)
        ok, busy = await conn.response("ok"), await conn.response("busy")
        assert (ok["Response"], ok["Message"]) == ("Success", "Originate successfully queued")
        assert (busy["Response"], busy["Message"]) == ("Error", "Originate failed")
        assert not [m for m in conn.inbox if m.name == "OriginateResponse"]  # sync: none
        await conn.close()


async def test_forced_failure_creates_no_channel() -> None:
    async with Simulator(cfg(agents=1)) as sim:
        conn = await RawAMI.connect(sim.host, sim.port)
        await conn.login()
        originate(conn, "500", "f")
        assert (await conn.response("f"))["Message"] == "Originate successfully queued"
        resp = await conn.wait_for(lambda m: m.name == "OriginateResponse", 1.0)
        assert (resp["Response"], resp["Reason"], resp["Uniqueid"]) == ("Failure", "0", "<unknown>")
        assert resp["Channel"] == "Local/500@customers"
        assert not [m for m in conn.inbox if m.name == "Newchannel"]
        await conn.close()


async def test_caller_abandons_when_no_agent_is_free() -> None:
    async with Simulator(cfg(agents=0, abandon_after=3.0)) as sim:
        conn = await RawAMI.connect(sim.host, sim.port)
        await conn.login()
        originate(conn, "100", "a")
        await conn.response("a")
        await settle(sim, conn, 120)
        names = [m.name for m in conn.inbox]
        assert names.index("QueueCallerJoin") < names.index("QueueCallerAbandon") < names.index("QueueCallerLeave")
        abandon = next(m for m in conn.inbox if m.name == "QueueCallerAbandon")
        assert abandon["Queue"] == "sales" and int(abandon["HoldTime"]) >= 3
        assert "AgentConnect" not in names and not sim.pbx.renderer.channels
        await conn.close()


async def test_paused_agent_gets_no_calls_until_unpaused() -> None:
    async with Simulator(cfg(agents=1, abandon_after=5.0)) as sim:
        conn = await RawAMI.connect(sim.host, sim.port)
        await conn.login()
        conn.send("QueuePause", {"Queue": "sales", "Interface": "Local/agent1@agent-phones",
                                 "Paused": "true", "Reason": "lunch"}, "p")
        assert (await conn.response("p"))["Message"] == "Interface paused successfully"
        pause = await conn.wait_for(lambda m: m.name == "QueueMemberPause", 1.0)
        assert (pause["Paused"], pause["PausedReason"]) == ("1", "lunch")
        originate(conn, "100", "a")
        await conn.response("a")
        await settle(sim, conn, 60)
        assert [m for m in conn.inbox if m.name == "QueueCallerAbandon"]
        assert not [m for m in conn.inbox if m.name == "AgentConnect"]
        conn.send("QueuePause", {"Queue": "sales", "Interface": "Local/agent1@agent-phones",
                                 "Paused": "false"}, "u")
        assert (await conn.response("u"))["Message"] == "Interface unpaused successfully"
        conn.inbox.clear()
        originate(conn, "100", "b")
        await conn.response("b")
        await settle(sim, conn, 60)
        connect = await conn.wait_for(lambda m: m.name == "AgentConnect", 1.0)
        assert connect["MemberName"] == "Agent One"
        await conn.close()


async def test_hangup_while_ringing_ends_the_attempt() -> None:
    async with Simulator(cfg(agents=1)) as sim:
        conn = await RawAMI.connect(sim.host, sim.port)
        await conn.login()
        originate(conn, "300", "r", ChannelId="att-9-leg1", OtherChannelId="att-9-leg2")
        await conn.response("r")
        await settle(sim, conn, 5)
        assert sim.pbx.renderer.channels["Local/300@customers-00000000;1"].state == 5  # Ringing
        conn.send("Hangup", {"Channel": "att-9-leg1", "Cause": "16"}, "h")  # by Uniqueid
        assert (await conn.response("h"))["Message"] == "Channel Hungup"
        resp = await conn.wait_for(lambda m: m.name == "OriginateResponse", 1.0)
        assert resp["Response"] == "Failure"
        hangups = [m for m in conn.inbox if m.name == "Hangup"]
        assert {m["Channel"][-2:] for m in hangups} == {";1", ";2"}
        assert not sim.pbx.renderer.channels
        await settle(sim, conn, 60)  # the cancelled timeout does not fire later
        assert not [m for m in conn.inbox if m.name == "OriginateResponse"]
        await conn.close()


async def test_live_views_of_a_connected_call() -> None:
    async with Simulator(cfg(agents=1, talk_time_mean=10**6)) as sim:
        conn = await RawAMI.connect(sim.host, sim.port)
        await conn.login(events="off")
        originate(conn, "100", "c", Variable=["CENTRAL_ATTEMPT_ID=att-1", "LEADID=7,CAMPAIGN=x"])
        await conn.response("c")
        await settle(sim, conn, 40)
        conn.send("Command", {"Command": "core show channels"}, "cmd")
        out = (await conn.response("cmd")).getall("Output")
        assert out[0].startswith("Channel") and out[-3:] == [
            "4 active channels", "1 active call", "1 call processed"]
        conn.send("CoreStatus", None, "st")
        # main/manager.c action_corestatus(): ast_active_channels(), i.e. the 4 channels
        # (was "1", the number of calls).
        assert (await conn.response("st"))["CoreCurrentCalls"] == "4"
        conn.send("QueueSummary", {"Queue": "sales"}, "qs")
        await conn.response("qs")
        summary = await conn.wait_for(lambda m: m.name == "QueueSummary", 1.0)
        assert (summary["LoggedIn"], summary["Available"]) == ("1", "0")
        conn.send("Getvar", {"Channel": "Local/100@customers-00000000;2", "Variable": "CENTRAL_ATTEMPT_ID"}, "g")
        assert (await conn.response("g"))["Value"] == "att-1"
        conn.send("Getvar", {"Channel": "Local/100@customers-00000000;1", "Variable": "CAMPAIGN"}, "g2")
        assert (await conn.response("g2"))["Value"] == "x"  # repeated Variable: lines and commas
        await conn.close()


async def test_hangup_of_the_agent_leg_completes_with_reason_agent() -> None:
    async with Simulator(cfg(agents=1, talk_time_mean=10**6)) as sim:
        conn = await RawAMI.connect(sim.host, sim.port)
        await conn.login()
        originate(conn, "100", "c")
        await conn.response("c")
        await settle(sim, conn, 40)
        agent_leg = next(n for n in sim.pbx.renderer.channels if n.startswith("Local/agent1@") and n.endswith(";1"))
        conn.send("Hangup", {"Channel": agent_leg}, "h")
        assert (await conn.response("h"))["Message"] == "Channel Hungup"
        done = await conn.wait_for(lambda m: m.name == "AgentComplete", 1.0)
        assert done["Reason"] == "agent" and not sim.pbx.renderer.channels
        member = await conn.wait_for(lambda m: m.name == "QueueMemberStatus" and m["Status"] == "1", 1.0)
        assert member["CallsTaken"] == "1"
        await conn.close()
