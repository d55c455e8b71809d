"""Two real ``central dialer`` processes; one is killed with SIGKILL mid-campaign.

The survivor takes the campaign over when the lease expires (well within 30 s), adopts
or closes the dead one's calls in flight by asking the PBX, and goes on dialing. The
simulator records every Originate it executed, with the AMI connection it came on:
no attempt is originated twice and no contact more often than its attempt count.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections import Counter

import pytest

from central.simulator import Simulator, SimulatorConfig
from central.simulator.world import WorldConfig
from tests.support import CENTRAL, migrated_env, query_database, run_central, until

pytestmark = pytest.mark.asyncio

SEED = """
from central.core.models import Organization
from central.dialer.models import Campaign, Contact
org = Organization.objects.create(name="Crash", slug="crash")
days = {d: [["00:00", "23:59"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
c = Campaign.objects.create(organization=org, name="Crash", status="active", queue="sales",
    dial_context="discador-out", pacing_mode="ratio", dial_ratio=2.0, working_hours=days,
    respect_holidays=False, max_channels=12, max_cps=10, ring_timeout_s=5)
Contact.objects.bulk_create([Contact(organization=org, campaign=c, phone=f"+5511977{i:06d}") for i in range(400)])
print(c.id)
"""

# The end of the test reads and writes the database directly (tests.support.query_database):
# a `central manage shell` costs seconds of Python and Django start.
PAUSE = "UPDATE dialer_campaign SET status = 'paused'"
IN_PROGRESS = "SELECT uid FROM dialer_attempt WHERE state != 'completed'"


def _report(env) -> dict:
    return {
        "attempts": [{"uid": uid, "state": state, "dialer": dialer}
                     for uid, state, dialer in query_database(env, "SELECT uid, state, dialer FROM dialer_attempt")],
        "contacts": dict(query_database(env, "SELECT phone, attempts FROM dialer_contact WHERE attempts > 0")),
        "lease": [{"holder": holder, "generation": generation}
                  for holder, generation in query_database(env, "SELECT holder, generation FROM dialer_campaignlease")],
    }


class Spy:
    def __init__(self, sim: Simulator) -> None:
        self.seen: list[tuple[float, str, str, str]] = []  # (time, peer, ChannelId, number)
        original = sim.pbx._a_originate

        def spy(msg, aid, session):
            number = (msg.get("Channel") or "").split("/", 1)[-1].split("@", 1)[0]
            self.seen.append((time.monotonic(), session.peer, msg.get("ChannelId") or "", number))
            return original(msg, aid, session)

        sim.pbx._a_originate = spy


def _dialer(env, port: int, name: str, log_path) -> subprocess.Popen:
    log = open(log_path, "w")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        [CENTRAL, "dialer", "--ami", f"ami://central@127.0.0.1:{port}", "--name", name,
         "--lease-ttl", "4", "--renew-every", "1"],
        env={**env, "CENTRAL_AMI_SECRET": "central-demo"}, stdout=log, stderr=subprocess.STDOUT)


async def _shell(env, code: str) -> str:
    res = await asyncio.to_thread(run_central, ["manage", "shell", "-c", code], env)
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


async def test_sigkill_one_dialer_the_other_takes_over_without_double_dial(tmp_path):
    env = migrated_env(tmp_path / "data")  # SEED's migrate then has nothing left to do
    await _shell(env, SEED)

    world = WorldConfig(agents=4, answer_rate=0.5, busy_rate=0.2, ring_time_mean=1.5, talk_time_mean=2.5,
                        wrapup_time=0.0, no_answer_timeout=4.0)
    sim = await Simulator(SimulatorConfig(clock="real", world=world, seed=3)).start()
    spy = Spy(sim)
    a = b = None
    try:
        a = _dialer(env, sim.port, "A", tmp_path / "a.log")
        for _ in range(300):
            if len(spy.seen) >= 8:
                break
            await asyncio.sleep(0.1)
        assert len(spy.seen) >= 8, (tmp_path / "a.log").read_text()
        peer_a = spy.seen[0][1]
        connections = sim.stats["connections"]
        b = _dialer(env, sim.port, "B", tmp_path / "b.log")
        for _ in range(300):  # B is up (its AMI connection)...
            if sim.stats["connections"] > connections:
                break
            await asyncio.sleep(0.1)
        assert sim.stats["connections"] > connections, (tmp_path / "b.log").read_text()
        await asyncio.sleep(2.0)  # ...polling every second for 2 s, but A holds the lease
        assert all(p == peer_a for _, p, _, _ in spy.seen), "B dialed while A held the lease"
        a.send_signal(signal.SIGKILL)
        await asyncio.to_thread(a.wait, 10)
        killed = time.monotonic()
        taken = None
        for _ in range(400):
            by_b = [t for t, p, _, _ in spy.seen if p != peer_a]
            if by_b:
                taken = by_b[0] - killed
                break
            await asyncio.sleep(0.1)
        assert taken is not None, (tmp_path / "b.log").read_text()
        assert taken < 30.0
        # B dials on: a few Originates of its own (was: a 2 s sleep)
        await asyncio.to_thread(until, lambda: sum(1 for _, p, _, _ in spy.seen if p != peer_a) >= 4, 30,
                                "B's next Originates")
        # Once paused and drained (calls in progress end and the dialer records them), B has
        # nothing left to write: the report is final.
        await asyncio.to_thread(query_database, env, PAUSE)
        await asyncio.to_thread(until, lambda: not query_database(env, IN_PROGRESS), 90,
                                "the attempts in progress after the pause to complete", 0.1)
        report = await asyncio.to_thread(_report, env)
        b.send_signal(signal.SIGTERM)
        await asyncio.to_thread(b.wait, 15)
    finally:
        for p in (a, b):
            if p is not None and p.poll() is None:
                p.kill()
        await sim.stop()

    ids = [cid for _, _, cid, _ in spy.seen]
    assert len(ids) == len(set(ids)), "an attempt was originated twice"
    attempts = {row["uid"]: row for row in report["attempts"]}
    assert set(ids) <= set(attempts)
    assert [u for u, row in attempts.items() if row["state"] != "completed"] == []  # none lost
    per_number = Counter(n for _, _, _, n in spy.seen)
    assert per_number == Counter(report["contacts"])  # no contact dialed beyond its attempts
    assert {row["dialer"] for row in attempts.values()} == {"A", "B"}
    assert report["lease"][0]["holder"] == "B" and report["lease"][0]["generation"] >= 2
