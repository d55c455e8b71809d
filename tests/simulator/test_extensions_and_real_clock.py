"""Extensions (ramais) that move in demo mode, device-state actions, and the real clock."""

from __future__ import annotations

import pytest

from central.simulator import Simulator, SimulatorConfig, WorldConfig
from central.simulator.config import ExtensionConfig
from central.simulator.scenarios import SCENARIOS, fixture_config
from tests.simulator.amiclient import RawAMI

# Touches neither the database nor Redis (checked: passes with neither reachable),
# so it runs only in the SQLite pass.
pytestmark = pytest.mark.backend_free


async def test_extensions_change_state_over_time_in_real_mode() -> None:
    cfg = SimulatorConfig(clock="real", extensions=ExtensionConfig(extensions=["2001", "2002"],
                                                                   churn_interval=0.02))
    async with Simulator(cfg) as sim:
        conn = await RawAMI.connect(sim.host, sim.port)
        await conn.login()
        status = await conn.wait_for(lambda m: m.name == "ExtensionStatus", 2.0)
        change = await conn.wait_for(lambda m: m.name == "DeviceStateChange"
                                     and m["Device"] == status["Hint"], 2.0)
        assert status["Exten"] in ("2001", "2002") and status["Context"] == "ramais"
        assert change["State"] != "" and status["StatusText"] != ""
        # the list action reflects the current state
        conn.send("ExtensionStateList", None, "l")
        await conn.response("l")
        done = await conn.wait_for(lambda m: m.name == "ExtensionStateListComplete", 2.0)
        assert done["ListItems"] == "2"
        await conn.close()


async def test_devstate_command_and_setvar_broadcast_extension_status() -> None:
    async with Simulator(fixture_config(clock="manual")) as sim:
        conn = await RawAMI.connect(sim.host, sim.port)
        await conn.login()
        conn.send("Command", {"Command": "devstate change Custom:1002 RINGINUSE"}, "c")
        assert (await conn.response("c")).getall("Output") == ["Changing 1002 to RINGINUSE"]
        ext = await conn.wait_for(lambda m: m.name == "ExtensionStatus", 1.0)
        assert (ext["Exten"], ext["Status"], ext["StatusText"]) == ("1002", "9", "InUse&Ringing")
        conn.send("Setvar", {"Variable": "DEVICE_STATE(Custom:1002)", "Value": "NOT_INUSE"}, "s")
        assert (await conn.response("s"))["Message"] == "Variable Set"
        dsc = await conn.wait_for(lambda m: m.name == "DeviceStateChange" and m["State"] == "NOT_INUSE", 1.0)
        assert dsc["Device"] == "Custom:1002"
        await conn.close()


async def test_real_clock_call_completes_in_real_time() -> None:
    cfg = SimulatorConfig(clock="real", world=WorldConfig(
        agents=1, numbers={"5511999990001": "answer"}, ring_time_mean=0.1, talk_time_mean=0.1,
        wrapup_time=0.0))
    async with Simulator(cfg) as sim:
        conn = await RawAMI.connect(sim.host, sim.port)
        await conn.login()
        conn.send("Originate", {"Channel": "Local/5511999990001@customers", "Context": "discador-out",
                                "Exten": "5511999990001", "Priority": "1", "Async": "true"}, "o")
        await conn.response("o")
        resp = await conn.wait_for(lambda m: m.name == "OriginateResponse", 3.0)
        assert resp["Reason"] == "4"
        done = await conn.wait_for(lambda m: m.name == "AgentComplete", 5.0)
        assert done["Reason"] in ("agent", "caller")
        await conn.close()


def test_fixture_scenarios_cover_every_call_stream() -> None:
    from tests.telephony.fixtures import FIXTURES_DIR
    streams = {p.name for p in FIXTURES_DIR.glob("ami-event-stream-*.txt")} - {
        "ami-event-stream-audiosocket.txt", "ami-event-stream-extension-state.txt"}
    assert streams == set(SCENARIOS)


async def test_pjsip_endpoints_and_contact_status_follow_availability() -> None:
    cfg = fixture_config(clock="manual")
    cfg.extensions.hint_tech = "PJSIP"
    async with Simulator(cfg) as sim:
        conn = await RawAMI.connect(sim.host, sim.port)
        await conn.login()
        sim._broadcast(sim.pbx.set_device_state("PJSIP/1003", "UNAVAILABLE"))  # phone gone
        ext = await conn.wait_for(lambda m: m.name == "ExtensionStatus", 1.0)
        assert (ext["Hint"], ext["StatusText"]) == ("PJSIP/1003", "Unavailable")
        gone = await conn.wait_for(lambda m: m.name == "ContactStatus", 1.0)
        assert (gone["AOR"], gone["ContactStatus"]) == ("1003", "Unreachable")
        conn.send("PJSIPShowEndpoints", None, "e")
        assert (await conn.response("e"))["EventList"] == "start"
        items = [await conn.wait_for(lambda m: m.name == "EndpointList", 1.0) for _ in range(3)]
        states = {m["ObjectName"]: m["DeviceState"] for m in items}
        assert states == {"1001": "Not in use", "1002": "Not in use", "1003": "Unavailable"}
        done = await conn.wait_for(lambda m: m.name == "EndpointListComplete", 1.0)
        assert done["ListItems"] == "3"
        sim._broadcast(sim.pbx.set_device_state("PJSIP/1003", "NOT_INUSE"))
        back = await conn.wait_for(lambda m: m.name == "ContactStatus", 1.0)
        assert back["ContactStatus"] == "Reachable"
        await conn.close()


async def test_background_calls_make_traffic_without_any_originate() -> None:
    cfg = SimulatorConfig(clock="manual", background_calls_per_minute=30.0,
                          world=WorldConfig(agents=2, answer_rate=1.0, busy_rate=0.0,
                                            congestion_rate=0.0, talk_time_mean=5.0))
    async with Simulator(cfg) as sim:
        conn = await RawAMI.connect(sim.host, sim.port)
        await conn.login()
        await sim.advance(120)
        while await conn.pump(0.1):
            pass
        responses = [m for m in conn.inbox if m.name == "OriginateResponse"]
        assert len(responses) >= 20
        assert all("ActionID" not in m for m in responses)
        assert [m for m in conn.inbox if m.name == "AgentConnect"]
        await conn.close()
