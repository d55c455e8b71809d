"""Simulator behaviours that no capture shows, checked against Asterisk 22.10.1's source.

* a ``ChannelId`` a live channel already has: main/channel.c ``do_ids_conflict()`` makes
  the channel allocation fail, so the Originate fails like any dial failure (before: the
  simulator answered an invented ``Uniqueid already in use`` error);
* app_queue's times are differences of ``time(NULL)`` readings (whole seconds):
  apps/app_queue.c ``send_agent_complete()`` (``TalkTime = time(NULL) - callstart``),
  ``try_calling()`` (AgentConnect ``HoldTime = time(NULL) - qe->start``); before, the
  simulator truncated the elapsed float, so 2.2 s from x.9 to x+3.1 printed 2, not 3;
* the queue's Holdtime/TalkTime are app_queue's exponential average
  (``recalc_holdtime()``, ``update_queue()``: ``((old << 2) - old + new) >> 2``), not a
  mean (before: the mean).

(``CoreCurrentCalls`` counting channels, main/manager.c ``action_corestatus()``, is
checked in test_originate_outcomes.py::test_live_views_of_a_connected_call.)
"""

from __future__ import annotations

import pytest

from central.simulator import Simulator, SimulatorConfig, WorldConfig
from central.simulator.render import Call, Renderer
from tests.simulator.amiclient import RawAMI

# Touches neither the database nor Redis (checked: passes with neither reachable),
# so it runs only in the SQLite pass.
pytestmark = pytest.mark.backend_free


def _originate(conn: RawAMI, aid: str, is_async: bool, **extra: str) -> None:
    fields = {"Channel": "Local/100@customers", "Context": "discador-out", "Exten": "fila", "Priority": "1",
              "Timeout": "30000", "Async": "true" if is_async else "false"}
    fields.update(extra)
    conn.send("Originate", fields, aid)


async def test_originate_with_a_channel_id_in_use_fails_like_asterisk() -> None:
    world = WorldConfig(agents=1, numbers={"100": "answer"}, talk_time_mean=10**6)
    async with Simulator(SimulatorConfig(clock="manual", world=world)) as sim:
        conn = await RawAMI.connect(sim.host, sim.port)
        await conn.login()
        _originate(conn, "first", True, ChannelId="att-1", OtherChannelId="att-1-2")
        assert (await conn.response("first"))["Message"] == "Originate successfully queued"
        await sim.advance(40)  # answered and bridged: att-1 is a live channel
        _originate(conn, "sync", False, ChannelId="att-1")
        sync = await conn.response("sync")
        assert (sync["Response"], sync["Message"]) == ("Error", "Originate failed")
        _originate(conn, "async", True, ChannelId="att-2", OtherChannelId="att-1-2")  # uniqueid2 in use
        assert (await conn.response("async"))["Message"] == "Originate successfully queued"
        resp = await conn.wait_for(lambda m: m.name == "OriginateResponse" and m.get("ActionID") == "async", 1.0)
        assert (resp["Response"], resp["Reason"], resp["Uniqueid"]) == ("Failure", "0", "<unknown>")
        await conn.pump(0.05)
        assert not [m for m in conn.inbox if m.name == "Newchannel" and m["Uniqueid"] == "att-2"]
        await conn.close()


class _Epoch:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _bridged_call(r: Renderer, clock: _Epoch, call_id: str, join: float, connect: float) -> Call:
    call = Call(call_id=call_id, number="100", dial_channel="Local/100@customers", dial_context="customers",
                context="discador-out", exten="fila", priority=1, timeout=30.0, action_id=None)
    r.calls[call_id] = call
    for kind, t in (("dialing", join - 5), ("answered", join), ("queued", join), ("connected", connect)):
        clock.t = t
        r.render(kind, call_id, {"agent": "agent1"}, t)
    return call


def _field(events, name: str, key: str) -> str:
    return next(dict(ev)[key] for ev in events if dict(ev).get("Event") == name)


def test_agent_complete_times_are_differences_of_whole_second_clock_readings():
    clock = _Epoch()
    r = Renderer(clock, queue="sales")
    call = _bridged_call(r, clock, "c1", join=1000.8, connect=1003.9)
    clock.t = 1006.1  # 2.2 s of talk from x.9 to x+3.1: app_queue prints 1006 - 1003 = 3
    out = r.render("hangup", call.call_id, {"by": "caller"}, clock.t)
    assert _field(out, "AgentComplete", "TalkTime") == "3"
    assert _field(out, "AgentComplete", "HoldTime") == "3"  # 1003 - 1000 (3.1 s elapsed)


def test_agent_connect_hold_time_and_queue_averages_follow_app_queue():
    clock = _Epoch()
    r = Renderer(clock, queue="sales")
    # hold 4 s, talk 10 s; then hold 0 s, talk 2 s
    first = _bridged_call(r, clock, "c1", join=100.0, connect=104.0)
    clock.t = 114.0
    r.render("hangup", first.call_id, {"by": "agent"}, clock.t)
    clock.t = 200.0
    call = Call(call_id="c2", number="100", dial_channel="Local/100@customers", dial_context="customers",
                context="discador-out", exten="fila", priority=1, timeout=30.0, action_id=None)
    r.calls["c2"] = call
    events = []
    for kind in ("dialing", "answered", "queued", "connected"):
        events += r.render(kind, "c2", {"agent": "agent1"}, clock.t)
    assert _field(events, "AgentConnect", "HoldTime") == "0"
    clock.t = 202.0
    r.render("hangup", "c2", {"by": "agent"}, clock.t)
    params = dict(r.queue_params())
    # app_queue: first value as is, then ((old << 2) - old + new) >> 2
    assert params["Holdtime"] == str(((4 << 2) - 4 + 0) >> 2) == "3"  # a mean would say 2
    assert params["TalkTime"] == str(((10 << 2) - 10 + 2) >> 2) == "8"  # a mean would say 6


def _login_cfg() -> SimulatorConfig:
    return SimulatorConfig(clock="manual", users={"central": "s3cret"}, login_failure_delay=0.01)


async def test_session_actions_answer_like_manager_c() -> None:
    """main/manager.c: action_filter() (Operation must be Add; a bad regex is "Filter did
    not compile..."), action_events() ("Invalid event mask" for an empty mask, Off for a
    mask with no known class), action_login() ("Already authenticated"). Before: the
    simulator added filters without Operation, said "Filter Not Added", turned events
    On for unknown class names, and ran a second Login again."""
    async with Simulator(_login_cfg()) as sim:
        conn = await RawAMI.connect(sim.host, sim.port)
        await conn.login(secret="s3cret")
        conn.send("Filter", {"Filter": "Event: Hangup"}, "no-op")
        assert (await conn.response("no-op"))["Message"] == "Unknown operation"
        conn.send("Filter", {"Operation": "Add", "Filter": "Event: (Hangup"}, "bad-rx")
        assert (await conn.response("bad-rx"))["Message"] == (
            "Filter did not compile.  Check the syntax of the filter given.")
        conn.send("Events", {"EventMask": ""}, "empty")
        empty = await conn.response("empty")
        assert (empty["Response"], empty["Message"]) == ("Error", "Invalid event mask")
        conn.send("Events", {"EventMask": "nonsense"}, "unknown")
        assert (await conn.response("unknown"))["Events"] == "Off"
        conn.send("Events", {"EventMask": "call,agent"}, "some")
        assert (await conn.response("some"))["Events"] == "On"
        conn.send("Login", {"Username": "central", "Secret": "s3cret"}, "again")
        again = await conn.response("again")
        assert (again["Response"], again["Message"]) == ("Success", "Already authenticated")
        await conn.close()


async def test_numeric_event_mask_selects_classes_by_bit() -> None:
    """main/manager.c strings_to_mask(): an all-digit mask is a bit mask, so "Events: 1"
    is the *system* class only (before: the simulator read "1" as "on", every class)."""
    world = WorldConfig(agents=1, numbers={"100": "busy"})
    cfg = _login_cfg()
    cfg.world = world
    async with Simulator(cfg) as sim:
        conn = await RawAMI.connect(sim.host, sim.port)
        await conn.login(secret="s3cret", events="1")
        booted = await conn.wait_for(lambda m: m.name == "FullyBooted", 1.0)  # a system event
        assert booted["Privilege"].startswith("system")
        _originate(conn, "o", True)
        await conn.response("o")
        await sim.advance(30)
        await conn.pump(0.05)
        assert not [m for m in conn.inbox if m.kind == "event" and m.name != "FullyBooted"
                    and not m.get("Privilege", "").startswith("system")]
        await conn.close()
