"""Behaviour of the call-center world model (central.simulator.world)."""

from __future__ import annotations

import pytest

from central.simulator.world import World, WorldConfig, WorldError

# Touches neither the database nor Redis (checked: passes with neither reachable),
# so it runs only in the SQLite pass.
pytestmark = pytest.mark.backend_free


def _run_progressive(world: World, seconds: int, prefix: str = "c") -> list:
    """Dial one call per free agent (minus calls in flight) every virtual second."""
    events = []
    n = 0
    for sec in range(1, seconds + 1):
        free = sum(1 for _, state, _ in world.agent_states() if state == "free")
        want = free - len(world.calls_in_flight()) - world.queue_length()
        for _ in range(max(0, want)):
            n += 1
            world.originate(f"{prefix}{n}", f"55119{n:08d}")
        events.extend(world.advance(float(sec)))
    return events


def test_same_seed_same_events_and_other_seed_differs():
    a = _run_progressive(World(WorldConfig(agents=3), seed=7), 900)
    b = _run_progressive(World(WorldConfig(agents=3), seed=7), 900)
    c = _run_progressive(World(WorldConfig(agents=3), seed=8), 900)
    assert a == b
    assert len(a) > 100
    assert [(e.kind, e.t) for e in a] != [(e.kind, e.t) for e in c]


def test_events_come_out_in_time_order_with_call_lifecycle():
    world = World(WorldConfig(agents=2), seed=3)
    events = _run_progressive(world, 1200)
    times = [e.t for e in events]
    assert times == sorted(times)
    by_call: dict[str, list[str]] = {}
    for e in events:
        if e.call_id:
            by_call.setdefault(e.call_id, []).append(e.kind)
    finished = [
        k
        for k in by_call.values()
        if k[-1] in ("hangup", "busy", "noanswer", "congestion", "abandoned")
    ]
    assert finished
    for kinds in finished:
        assert kinds[0] == "dialing"
        if "answered" in kinds:
            i = kinds.index("answered")
            assert kinds[i + 1] == "queued"
            assert kinds[i + 2] in ("connected", "abandoned")
            if kinds[i + 2] == "connected":
                assert kinds[-1] == "hangup"


def test_outcome_proportions_match_config():
    cfg = WorldConfig(agents=0, answer_rate=0.3, busy_rate=0.1, congestion_rate=0.02)
    world = World(cfg, seed=11)
    n = 20000
    for i in range(n):
        world.originate(f"c{i}", "5511")
    world.advance(100.0)
    counts = world.counts
    assert counts["dialing"] == n
    assert abs(counts["answered"] / n - 0.30) < 0.015
    assert abs(counts["busy"] / n - 0.10) < 0.01
    assert abs(counts["congestion"] / n - 0.02) < 0.005
    assert abs(counts["noanswer"] / n - 0.58) < 0.015
    # no agents at all: every answered call is abandoned
    assert counts["abandoned"] == counts["answered"]
    assert counts["connected"] == 0


def test_answered_call_abandoned_when_no_agent_within_abandon_after():
    cfg = WorldConfig(
        agents=1,
        numbers={"111": "answer", "222": "answer"},
        abandon_after=2.0,
        talk_time_mean=1000.0,
    )
    world = World(cfg, seed=1)
    world.originate("a", "111")
    events = world.advance(60.0)
    connected = [e for e in events if e.kind == "connected"]
    assert len(connected) == 1 and connected[0].data["agent"] == "agent1"
    assert connected[0].data["wait"] == 0.0
    world.originate("b", "222")
    events = world.advance(120.0)
    ab = [e for e in events if e.kind == "abandoned"]
    answered = [e for e in events if e.kind == "answered"]
    assert len(ab) == 1 and ab[0].call_id == "b"
    assert ab[0].t == pytest.approx(answered[0].t + 2.0)
    assert ab[0].data["wait"] == pytest.approx(2.0)
    assert world.counts["abandoned"] == 1


def test_caller_waiting_less_than_abandon_after_gets_agent_finishing_wrapup():
    # agent finishes wrap-up while the second caller waits: connected, not abandoned
    cfg = WorldConfig(
        agents=1,
        numbers={"1": "answer"},
        abandon_after=10.0,
        wrapup_time=5.0,
        talk_time_mean=0.001,
        ring_time_mean=3.0,
    )
    world = World(cfg, seed=2)
    world.originate("a", "1")
    world.originate("b", "1")
    events = world.advance(100.0)
    kinds = [(e.kind, e.call_id) for e in events if e.kind in ("connected", "abandoned")]
    assert kinds == [("connected", "a"), ("connected", "b")] or kinds == [
        ("connected", "b"),
        ("connected", "a"),
    ]
    second = [e for e in events if e.kind == "connected"][1]
    assert 0.0 < second.data["wait"] <= 10.0


def test_agent_goes_through_wrapup_then_free():
    cfg = WorldConfig(agents=1, numbers={"1": "answer"}, wrapup_time=5.0)
    world = World(cfg, seed=4)
    world.originate("a", "1")
    events = world.advance(10_000.0)
    kinds = [e.kind for e in events]
    i = kinds.index("hangup")
    assert kinds[i + 1] == "agent_wrapup"
    assert kinds[i + 2] == "agent_free"
    assert events[i + 2].t == pytest.approx(events[i].t + 5.0)
    assert events[i].data["talk"] > 0
    assert world.snapshot()["agents"]["agent1"]["state"] == "free"


def test_longest_idle_agent_takes_the_call():
    cfg = WorldConfig(agents=3, numbers={"1": "answer"}, talk_time_mean=10.0, wrapup_time=0.0)
    world = World(cfg, seed=5)
    world.originate("a", "1")
    ev = world.advance(200.0)
    first = next(e for e in ev if e.kind == "connected").data["agent"]
    assert first == "agent1"
    world.originate("b", "1")
    ev = world.advance(400.0)
    # agent1 became free last, so agent2 (idle since start) is longest idle
    assert next(e for e in ev if e.kind == "connected").data["agent"] == "agent2"


def test_busy_noanswer_congestion_failed_causes_and_timeout():
    cfg = WorldConfig(
        agents=1, numbers={"b": "busy", "n": "noanswer", "c": "congestion", "f": "fail"}
    )
    world = World(cfg, seed=6)
    for cid in "bncf":
        world.originate(cid, cid)
    world.originate("n2", "n", timeout=15.0)
    events = world.advance(100.0)
    term = {e.call_id: e for e in events if e.kind in ("busy", "noanswer", "congestion", "failed")}
    assert term["b"].data["cause"] == 17
    assert term["c"].data["cause"] == 34
    assert term["n"].data["cause"] == 19 and term["n"].t == pytest.approx(30.0)
    assert term["n2"].t == pytest.approx(15.0)
    assert term["f"].kind == "failed" and term["f"].t == 0.0
    assert world.snapshot()["calls"] == {}


def test_pause_free_agent_and_pending_pause_after_call():
    cfg = WorldConfig(agents=2, numbers={"1": "answer"}, talk_time_mean=30.0)
    world = World(cfg, seed=8)
    world.pause_agent("agent2", True, "lunch")
    world.originate("a", "1")
    events = world.advance(5000.0)
    assert events[0].kind == "agent_paused" and events[0].data == {
        "agent": "agent2",
        "reason": "lunch",
    }
    assert next(e for e in events if e.kind == "connected").data["agent"] == "agent1"
    world.originate("b", "1")
    world.advance(world.now + 0.0)
    snap_before = world.advance(world.now + 40.0)
    assert any(e.kind == "connected" for e in snap_before)
    world.pause_agent("agent1", True, "break")  # talking or wrap-up: pending
    events = world.advance(world.now + 5000.0)
    assert events[-1].kind == "agent_paused"
    assert world.snapshot()["agents"]["agent1"]["state"] == "paused"
    # nobody free now: the next answered call is abandoned
    world.originate("c", "1")
    events = world.advance(world.now + 100.0)
    assert any(e.kind == "abandoned" for e in events)
    world.pause_agent("agent2", False)
    events = world.advance(world.now + 1.0)
    assert [e.kind for e in events] == ["agent_unpaused", "agent_free"]
    with pytest.raises(WorldError):
        world.pause_agent("agent9", True)


def test_ami_hangup_of_ringing_and_connected_calls():
    cfg = WorldConfig(agents=1, numbers={"1": "answer", "n": "noanswer"}, talk_time_mean=1e6)
    world = World(cfg, seed=9)
    world.originate("r", "n")
    world.originate("a", "1")
    world.advance(29.0)
    world.hangup("r")
    world.hangup("a")
    events = world.advance(100.0)
    hang = {e.call_id: e for e in events if e.kind == "hangup"}
    assert hang["r"].data["by"] == "system" and hang["r"].data["talk"] == 0.0
    assert hang["a"].data["by"] == "system" and hang["a"].data["talk"] > 0
    assert not any(e.kind == "noanswer" for e in events)
    assert world.snapshot()["agents"]["agent1"]["state"] == "free"
    with pytest.raises(WorldError):
        world.hangup("r")
    world.originate("a2", "1")
    with pytest.raises(WorldError):
        world.originate("a2", "1")  # duplicate id


def test_talk_seconds_counts_calls_in_progress_and_clock_cannot_go_back():
    cfg = WorldConfig(agents=1, numbers={"1": "answer"}, talk_time_mean=1e6, ring_time_mean=5.0)
    world = World(cfg, seed=10)
    world.originate("a", "1")
    world.advance(100.0)
    connected_at = world.snapshot()["agents"]["agent1"]["talk_started"]
    assert world.talk_seconds() == pytest.approx(100.0 - connected_at)
    assert world.next_time() is not None
    with pytest.raises(WorldError):
        world.advance(50.0)


def test_config_validation():
    with pytest.raises(ValueError):
        WorldConfig(answer_rate=0.9, busy_rate=0.2)
    with pytest.raises(ValueError):
        WorldConfig(numbers={"1": "maybe"})


def test_a_call_may_set_its_own_queue_wait():
    """The dialer's Originate carries its Queue() timeout (CENTRAL_ABANDON_AFTER); other
    callers wait as long as the config's patience."""
    cfg = WorldConfig(agents=0, numbers={"111": "answer", "222": "answer"}, abandon_after=600.0)
    world = World(cfg, seed=1)
    world.originate("dialer", "111", abandon_after=3.0)
    world.originate("person", "222")
    events = world.advance(300.0)
    answered = {e.call_id: e.t for e in events if e.kind == "answered"}
    abandoned = {e.call_id: e.t for e in events if e.kind == "abandoned"}
    assert abandoned == {"dialer": pytest.approx(answered["dialer"] + 3.0)}
    assert world.queue_length() == 1  # the person still waits
    events = world.advance(answered["person"] + 600.0)
    assert [e.call_id for e in events if e.kind == "abandoned"] == ["person"]
