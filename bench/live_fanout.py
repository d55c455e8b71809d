"""Live fan-out: the wallboard and a campaign panel open in N clients while the PBX runs
200 agents; delay from the AMI event to each client (p50/p95/max).

Run: .venv/bin/python bench/live_fanout.py [--clients 50] [--agents 200] [--samples 40]

It starts ``central simulate-pbx`` (its own process, standing in for Asterisk: 200 agents
in queue ``sales``, background traffic that keeps them busy) and ``central up`` against it
(``CENTRAL_AMI_URL``; SQLite and the in-memory channel layer unless DATABASE_URL /
REDIS_URL are set), seeds an organization with a supervisor and an active campaign on
``sales``, and opens, per client, the two sockets the two pages open: the campaign
panel's ``/ws/live/`` and the wallboard's ``/ws/live/?topics=ops&raw=0``.

Then, ``--samples`` times, it pauses or unpauses one agent over its own AMI connection
(``QueuePause``: Asterisk emits ``QueueMemberPause`` at once) and times, on every client,

* **baseline**: the PBX link's own ``queue_members`` push carrying that member's new
  state (what the panels already received before the overview existed), and
* **wallboard**: the ``ops`` push whose paused-agents list shows the change (the overview
  recomputed from the database and sent once per organization),

from the moment the action was written (the event follows within the simulator's loop
turn). Printed: both distributions from the same run, in milliseconds, and the load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import websockets

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.support import (  # noqa: E402
    free_port,
    migrated_env,
    run_central,
    start_central,
    start_simulate_pbx,
    stop_process,
)

USER, PASSWORD = "supervisora", "senha-forte-123"
AGENT = "Local/agent{n}@agent-phones"

SEED = """
from django.contrib.auth import get_user_model
from central.core.models import Membership, Organization
from central.dialer.models import Campaign, Contact
org = Organization.objects.create(name="Loja", slug="loja")
user = get_user_model().objects.create_user("{user}", password="{password}")
Membership.objects.create(user=user, organization=org, role="owner", is_default=True)
days = {{d: [["00:00", "23:59"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}}
c = Campaign.objects.create(organization=org, name="Campanha", status="active", queue="sales",
    dial_context="discador-out", pacing_mode="ratio", dial_ratio=1.0, working_hours=days,
    respect_holidays=False, max_channels=40, max_cps=10, ring_timeout_s=20)
Contact.objects.bulk_create([Contact(organization=org, campaign=c, phone=f"+5511955{{i:06d}}") for i in range(20000)])
print(c.id)
"""


def sign_in(url: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=30, follow_redirects=False)
    client.get("/login/")
    r = client.post("/login/", data={"username": USER, "password": PASSWORD,
                                     "csrfmiddlewaretoken": client.cookies["csrftoken"]},
                    headers={"Referer": url + "/login/"})
    assert r.status_code == 302, f"sign-in failed: {r.status_code}"
    return client


class AMI:
    """The bench's own AMI connection (blocking; actions only, events off)."""

    def __init__(self, port: int, secret: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        self._block(b"\r\n")
        self.action("Login", Username="central", Secret=secret, Events="off")

    def _block(self, end: bytes = b"\r\n\r\n") -> bytes:
        while end not in self.buf:
            self.buf += self.sock.recv(65536)
        head, _, self.buf = self.buf.partition(end)
        return head

    def send(self, name: str, **fields: str) -> str:
        aid = secrets.token_hex(4)
        lines = [f"Action: {name}", f"ActionID: {aid}", *(f"{k}: {v}" for k, v in fields.items())]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        return aid

    def action(self, name: str, **fields: str) -> None:
        aid = self.send(name, **fields)
        while f"ActionID: {aid}".encode() not in self._block():
            pass


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def summary(name: str, values: list[float]) -> str:
    if not values:
        return f"{name:<10} no samples"
    return (f"{name:<10} n={len(values):>5}  p50={statistics.median(values):7.1f}  p95={pct(values, 0.95):7.1f}  "
            f"max={max(values):7.1f} ms")


async def run(url: str, cookie: str, ami: AMI, clients: int, samples: int, agent: str) -> tuple[list, list, int]:
    ws_url = url.replace("http", "ws", 1) + "/ws/live/"
    headers = {"Cookie": cookie, "Origin": url}
    panels = [await websockets.connect(ws_url, additional_headers=headers, max_size=None) for _ in range(clients)]
    walls = [await websockets.connect(ws_url + "?topics=ops&raw=0", additional_headers=headers, max_size=None)
             for _ in range(clients)]
    state = {"t0": 0.0, "paused": False, "seq": 0}
    baseline: list[float] = []
    wallboard: list[float] = []
    seen: dict[tuple[str, int], set[int]] = {("base", 0): set(), ("ops", 0): set()}
    received = {"messages": 0}

    async def reader(ws, kind: str, idx: int) -> None:
        async for raw in ws:
            received["messages"] += 1
            msg = json.loads(raw)
            t = time.perf_counter()
            key = (kind, state["seq"])
            if not state["seq"] or idx in seen.setdefault(key, set()):
                continue
            if kind == "base" and msg.get("type") == "queue_members":
                if any(m.get("interface") == agent and (m.get("availability") == "paused") == state["paused"]
                       for m in msg.get("members", [])):
                    seen[key].add(idx)
                    baseline.append((t - state["t0"]) * 1000)
            elif kind == "ops" and msg.get("type") == "ops":
                listed = any(p.get("interface") == agent for p in msg.get("paused", []))
                if listed == state["paused"]:
                    seen[key].add(idx)
                    wallboard.append((t - state["t0"]) * 1000)

    tasks = [asyncio.create_task(reader(ws, "base", i)) for i, ws in enumerate(panels)]
    tasks += [asyncio.create_task(reader(ws, "ops", i)) for i, ws in enumerate(walls)]
    await asyncio.sleep(3)  # the first overview of the organization; sockets settled
    loop = asyncio.get_running_loop()
    for n in range(1, samples + 1):
        state["seq"] = n
        state["paused"] = not state["paused"]
        state["t0"] = time.perf_counter()
        await loop.run_in_executor(None, lambda: ami.action(
            "QueuePause", Queue="sales", Interface=agent, Paused="true" if state["paused"] else "false",
            Reason="bench"))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and (len(seen.get(("base", n), ())) < clients
                                               or len(seen.get(("ops", n), ())) < clients):
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)
    for task in tasks:
        task.cancel()
    for ws in panels + walls:
        await ws.close()
    return baseline, wallboard, received["messages"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--calls-per-minute", type=float, default=150.0,
                        help="background traffic (with 90 %% answered and 90 s talk: ~200 agents busy)")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="live-fanout-"))
    sim_port, web_port = free_port(), free_port()
    secret = secrets.token_urlsafe(12)
    env = migrated_env(tmp / "data", CENTRAL_AMI_URL=f"ami://central@127.0.0.1:{sim_port}",
                       CENTRAL_AMI_SECRET=secret, CENTRAL_SIM_AMI_USERS=f"central:{secret}", CENTRAL_AMI_ORG="loja",
                       **{k: os.environ[k] for k in ("DATABASE_URL", "REDIS_URL") if os.environ.get(k)})
    seeded = run_central(["manage", "shell", "-c", SEED.format(user=USER, password=PASSWORD)], env)
    assert seeded.returncode == 0, seeded.stderr
    sim = up = None
    try:
        sim = start_simulate_pbx(sim_port, env, tmp / "sim.log", "--agents", str(args.agents), "--churn", "0",
                                 "--background-calls", str(args.calls_per_minute), "--answer-rate", "0.9",
                                 "--talk-time", "90", "--ring-time", "3")
        up = start_central(["up", "--port", str(web_port)], env, web_port, tmp / "up.log", wait=120)
        client = sign_in(up.url)
        cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
        ami = AMI(sim_port, secret)
        time.sleep(20)  # traffic builds up: agents get busy, the campaign dials
        load = os.getloadavg()[0]
        baseline, wallboard, messages = asyncio.run(
            run(up.url, cookie, ami, args.clients, args.samples, AGENT.format(n=args.agents)))
        print(f"live fan-out: {args.clients} clients x (campaign panel + wallboard), {args.agents} agents, "
              f"{args.calls_per_minute:g} calls/min, {args.samples} pause/unpause samples; "
              f"database {'PostgreSQL' if 'DATABASE_URL' in env else 'SQLite'}, "
              f"channel layer {'Redis' if 'REDIS_URL' in env else 'in-memory'}; load {load:.1f} -> "
              f"{os.getloadavg()[0]:.1f}; {messages} messages received")
        print("delay from the AMI event (QueuePause) to the client, per client and sample:")
        print(summary("baseline", baseline) + "   (PBX link's queue_members push, campaign panel socket)")
        print(summary("wallboard", wallboard) + "   (ops overview push, wallboard socket)")
        expected = args.clients * args.samples
        print(f"missed: baseline {expected - len(baseline)}, wallboard {expected - len(wallboard)} of {expected}")
    finally:
        stop_process(up.proc if up else None)
        stop_process(sim)


if __name__ == "__main__":
    main()
