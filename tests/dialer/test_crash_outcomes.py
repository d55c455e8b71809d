"""SIGKILL a real ``central dialer`` mid-campaign: every call that spanned the kill gets its
true outcome (issue 14, item 1).

Real processes over real sockets: the simulator (manual clock, in this process, standing in
for Asterisk), ``central pbx`` (the PBX link, writing call records), dialer A and dialer B,
started after the kill. Two campaigns run at once, one dialing
``Local/<number>@discador-out`` and one with a trunk (``Local/{number}@customers``), each
with four calls whose state at the kill is fixed by the simulator's forced outcomes:

* ``ringing``: still ringing; it ends after the takeover by the Originate timeout
  (OriginateResponse Reason 3, cause 19);
* ``bridged``: bridged to an agent, still talking when B takes over;
* ``bridged, ended``: bridged to an agent, hung up after the kill and before the takeover
  (nobody follows it but the PBX link);
* ``finished``: busy, recorded by A before the kill.

The test prints the table of expected vs stored outcomes and asserts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from central.simulator import Simulator, SimulatorConfig
from central.simulator.world import WorldConfig
from central.telephony.ami.client import AMIClient
from tests.support import CENTRAL, migrated_env, run_central

pytestmark = pytest.mark.asyncio

PHONES = {  # (campaign, state at the kill) -> phone
    ("no trunk", "ringing"): "+5511933330001",
    ("no trunk", "bridged"): "+5511933330002",
    ("no trunk", "bridged, ended"): "+5511933330003",
    ("no trunk", "finished"): "+5511933330004",
    ("trunk", "ringing"): "+5511944440001",
    ("trunk", "bridged"): "+5511944440002",
    ("trunk", "bridged, ended"): "+5511944440003",
    ("trunk", "finished"): "+5511944440004",
}
FATE = {"ringing": "noanswer", "bridged": "answer", "bridged, ended": "answer", "finished": "busy"}
#: state at the kill -> (result, agent?, contact status) the attempt must end with
EXPECTED = {
    "ringing": ("no_answer", False, "pending"),
    "bridged": ("answered", True, "done"),
    "bridged, ended": ("answered", True, "done"),
    "finished": ("busy", False, "pending"),
}

SEED = """
from central.core.models import Organization
from central.dialer.models import Campaign, Contact
org = Organization.objects.create(name="Crash", slug="crash")
days = {d: [["00:00", "23:59"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
phones = json.loads(PHONES)
ids = {}
for label, trunk in (("no trunk", ""), ("trunk", "Local/{number}@customers")):
    c = Campaign.objects.create(organization=org, name=label, status="active", queue="sales",
        dial_context="discador-out", trunk=trunk, pacing_mode="progressive", working_hours=days,
        respect_holidays=False, max_channels=4, max_cps=20, ring_timeout_s=60, abandon_after_s=30)
    Contact.objects.bulk_create([Contact(organization=org, campaign=c, phone=p)
                                 for key, p in phones.items() if key.startswith(label + "|")])
    ids[label] = c.id
print(json.dumps(ids))
"""


class Db:
    """Read-only look at the processes' database (SQLite file or PostgreSQL)."""

    def __init__(self, env: dict[str, str]) -> None:
        url = env.get("DATABASE_URL", "")
        if url:
            import psycopg

            self.conn = psycopg.connect(url, autocommit=True)
        else:
            self.conn = sqlite3.connect(Path(env["CENTRAL_DATA_DIR"]) / "central.sqlite3", timeout=10)

    def rows(self, sql: str) -> list[tuple]:
        cur = self.conn.cursor()
        cur.execute(sql)
        return list(cur.fetchall())

    def close(self) -> None:
        self.conn.close()


class Spy:
    """Every Originate the simulated PBX executed, with the AMI connection it came on."""

    def __init__(self, sim: Simulator) -> None:
        self.seen: list[tuple[str, str, str]] = []  # (peer, ChannelId, number)
        original = sim.pbx._a_originate

        def spy(msg, aid, session):
            number = (msg.get("Channel") or "").split("/", 1)[-1].split("@", 1)[0]
            self.seen.append((session.peer, msg.get("ChannelId") or "", number))
            return original(msg, aid, session)

        sim.pbx._a_originate = spy


def _start(args: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen:
    log = open(log_path, "w")  # noqa: SIM115 - closed with the process
    return subprocess.Popen([CENTRAL, *args], env=env, stdout=log, stderr=subprocess.STDOUT)


def _log_tails(logs: Path, lines: int = 40) -> str:
    """The last lines of each process's log: they live in tmp_path and are gone with it,
    so a failure must carry them to be diagnosable from a CI run."""
    out = []
    for path in sorted(logs.glob("*.log")):
        tail = path.read_text(errors="replace").splitlines()[-lines:]
        out.append(f"--- {path.name} (last {len(tail)} lines) ---\n" + "\n".join(tail))
    return "\n".join(out)


async def _until(predicate, what: str, timeout: float = 60.0, every: float = 0.2, *, logs: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(every)
    raise AssertionError(f"timed out waiting for {what}\n{_log_tails(logs)}")


async def test_sigkill_mid_campaign_every_spanning_call_gets_its_true_outcome(tmp_path):
    env = migrated_env(tmp_path / "data")
    seed = run_central(["manage", "shell", "-c", "import json\nPHONES = " + repr(json.dumps(
        {f"{c}|{s}": p for (c, s), p in PHONES.items()})) + "\n" + SEED], env)
    assert seed.returncode == 0, seed.stderr
    campaigns = json.loads(seed.stdout.strip().splitlines()[-1])

    numbers = {}
    for (label, state), phone in PHONES.items():
        numbers[phone if label == "no trunk" else phone.lstrip("+")] = FATE[state]
    world = WorldConfig(agents=4, ring_time_mean=2.0, talk_time_mean=1e7, wrapup_time=0.0, numbers=numbers)
    sim = await Simulator(SimulatorConfig(clock="manual", world=world, seed=11)).start()
    spy = Spy(sim)
    ami_env = {**env, "CENTRAL_AMI_SECRET": "central-demo", "CENTRAL_AMI_URL": f"ami://central@127.0.0.1:{sim.port}"}
    dialer_args = ["dialer", "--ami", f"ami://central@127.0.0.1:{sim.port}", "--lease-ttl", "4", "--renew-every", "1"]
    procs: dict[str, subprocess.Popen] = {}
    db = Db(env)
    actions = AMIClient(sim.host, sim.port, "central", "central-demo", name="test-actions", ping_interval=None)
    try:
        procs["pbx"] = _start(["pbx"], {**ami_env, "CENTRAL_AMI_ORG": "crash"}, tmp_path / "pbx.log")
        # A dials only once the link is logged in (this test is about the dialer's crash,
        # not the link's start): the server row says "connected" right after its Login.
        # (A call begun before that would be adopted from the link's resync anyway:
        # tests/telephony/test_link_adopt.py.)
        await _until(lambda: db.rows("SELECT status FROM telephony_asteriskserver") == [("connected",)],
                     "the PBX link's login", 60, logs=tmp_path)
        procs["A"] = _start([*dialer_args, "--name", "A"], ami_env, tmp_path / "a.log")
        await actions.start()
        await _until(lambda: len(spy.seen) >= 8, "A's 8 Originates", 90, logs=tmp_path)
        peer_a = spy.seen[0][0]
        uid_of = {}
        for _, uid, number in spy.seen:
            phone = number if number.startswith("+") else "+" + number
            key = next(k for k, p in PHONES.items() if p == phone)
            uid_of[key] = uid

        def world_state(key):
            return sim.pbx.world.snapshot()["calls"].get(uid_of[key], {}).get("state", "gone")

        # Simulated seconds until every call is where it must be at the kill.
        for _ in range(30):
            if all(world_state(k) == {"ringing": "ringing", "finished": "gone"}.get(s, "connected")
                   for k in PHONES for s in [k[1]]):
                break
            await sim.advance(1.0)
            await asyncio.sleep(0.1)
        states = {k: world_state(k) for k in PHONES}
        assert all(states[k] == {"ringing": "ringing", "finished": "gone"}.get(k[1], "connected")
                   for k in PHONES), states

        uids_sql = ",".join(f"'{u}'" for u in uid_of.values())
        # A has written what it saw: the busy calls completed, the bridged ones answered.
        await _until(lambda: sorted(r[0] for r in db.rows(
            f"SELECT state FROM dialer_attempt WHERE uid IN ({uids_sql})")) ==
            sorted(["completed"] * 2 + ["answered"] * 4 + ["ringing"] * 2), "A's progress", 30, logs=tmp_path)
        procs["A"].send_signal(signal.SIGKILL)
        await asyncio.to_thread(procs["A"].wait, 10)
        killed = time.monotonic()

        # Bridged calls that end while no dialer is alive: only the PBX link sees them.
        for label in ("no trunk", "trunk"):
            leg1 = sim.pbx.renderer.calls[uid_of[(label, "bridged, ended")]].leg1
            resp = await actions.send_action("Hangup", {"Channel": leg1.name, "Cause": "16"})
            assert resp.get("Message") == "Channel Hungup"
        ended = ",".join(f"'{uid_of[(lbl, 'bridged, ended')]}'" for lbl in ("no trunk", "trunk"))
        await _until(lambda: len(db.rows(f"SELECT id FROM telephony_callrecord WHERE attempt_id IN ({ended})")) == 2,
                     "the link's call records", 30, logs=tmp_path)
        # Dialer B starts only now, so these calls surely ended before any takeover (the
        # standby-dialer case is test_engine_takeover.py).
        procs["B"] = _start([*dialer_args, "--name", "B"], ami_env, tmp_path / "b.log")

        # B takes both campaigns over and settles the dead dialer's calls.
        await _until(lambda: len(db.rows("SELECT id FROM dialer_campaignlease WHERE holder = 'B'")) == 2,
                     "B's takeover", 40, logs=tmp_path)
        takeover_s = time.monotonic() - killed  # includes B's start-up
        await _until(lambda: len(db.rows(f"SELECT id FROM dialer_attempt WHERE uid IN ({ended}) "
                                         "AND state = 'completed'")) == 2, "B's reconcile", 30, logs=tmp_path)

        # The calls B adopted end: the ringing ones by the Originate timeout (60 s), the
        # bridged ones when the customer hangs up.
        for label in ("no trunk", "trunk"):
            leg1 = sim.pbx.renderer.calls[uid_of[(label, "bridged")]].leg1
            await actions.send_action("Hangup", {"Channel": leg1.name, "Cause": "16"})
        for _ in range(70):
            await sim.advance(1.0)
            await asyncio.sleep(0.02)
        await _until(lambda: not db.rows(f"SELECT id FROM dialer_attempt WHERE uid IN ({uids_sql}) "
                                         "AND state != 'completed'"), "every attempt completed", 30, logs=tmp_path)
        rows = {r[0]: r for r in db.rows(
            "SELECT a.uid, a.result, a.agent, a.reconciled, a.note, c.status, a.dialer "
            f"FROM dialer_attempt a JOIN dialer_contact c ON c.id = a.contact_id WHERE a.uid IN ({uids_sql})")}
        reconciled = db.rows("SELECT count(*) FROM dialer_attempt WHERE reconciled")[0][0]
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    await asyncio.to_thread(p.wait, 15)
            if p.poll() is None:
                p.kill()
        with contextlib.suppress(Exception):
            await actions.close()
        db.close()
        await sim.stop()

    ids = [uid for _, uid, _ in spy.seen]
    assert len(ids) == len(set(ids)) == 8, "an attempt was originated twice"
    assert all(peer == peer_a for peer, _, _ in spy.seen), "B re-dialed a call of A"
    table = ["| campaign | state at the kill | expected | stored | agent | contact | reconciled |",
             "|---|---|---|---|---|---|---|"]
    problems = []
    for key in PHONES:
        _, result, agent, flagged, note, status, _dialer = rows[uid_of[key]]
        want_result, want_agent, want_status = EXPECTED[key[1]]
        table.append(f"| {key[0]} | {key[1]} | {want_result}, contact {want_status} | {result} | "
                     f"{agent or '-'} | {status} | {'yes' if flagged else 'no'} |")
        if (result, bool(agent), status) != (want_result, want_agent, want_status):
            problems.append((key, result, agent, status, note))
        if want_agent and not agent.startswith("Local/agent"):
            problems.append((key, "agent is not a queue member", agent))
    print(f"\ncrash-test outcomes (takeover {takeover_s:.1f} s after SIGKILL, "
          f"{campaigns}):\n" + "\n".join(table))
    assert problems == [], problems
    assert takeover_s < 30.0
    # Spanning calls settled or adopted by B are flagged; A's own busy calls are not.
    assert reconciled == 6
    assert all(rows[uid_of[(c, "finished")]][3] == 0 for c in ("no trunk", "trunk"))
    # ...and the live panel's counter (issue 14: "the reconciled counter stayed at 0") says so.
    live = run_central(["manage", "shell", "-c", (
        "import json\nfrom django.utils import timezone\nfrom central.dialer.metrics import campaign_live\n"
        "from central.dialer.models import Campaign\n"
        "print(json.dumps({c.name: [campaign_live(c, timezone.now())[k] for k in ('reconciled_today', 'unknown_today')]"
        " for c in Campaign.objects.all()}))")], env)
    assert live.returncode == 0, live.stderr
    assert json.loads(live.stdout.strip().splitlines()[-1]) == {"no trunk": [3, 0], "trunk": [3, 0]}
