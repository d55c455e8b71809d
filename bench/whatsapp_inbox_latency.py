"""End to end: a customer's WhatsApp message -> the inbox shows it (p50/p95), through the simulator.

Run: .venv/bin/python bench/whatsapp_inbox_latency.py [--messages 200] [--url URL --user U --password P]

Without --url it starts `central up` on a fresh data directory (SQLite, the embedded
default: the Cloud API simulator runs inside and the demo clinic has its number; demo
calls, visits and the clinic assistant off so they do not compete). It signs in as the demo admin, switches
to the demo clinic, opens the dashboard's WebSocket (/ws/live/) as the inbox page does,
and then, one message at a time, posts a customer text on the test phone endpoint
(/messaging/phone/send/: the simulator signs it and delivers it to /webhooks/whatsapp)
and waits for the ``wa_message`` push carrying that text. The time from the POST to the
push is what a receptionist waits: webhook ack, background processing, signal, channel
layer, socket. Printed: count, p50, p95, p99, max in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import websockets

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.support import central_env, free_port, start_central  # noqa: E402


def sign_in(url: str, user: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=20, follow_redirects=False)
    client.get("/login/")
    r = client.post("/login/", data={"username": user, "password": password,
                                     "csrfmiddlewaretoken": client.cookies["csrftoken"]},
                    headers={"Referer": url + "/login/"})
    assert r.status_code == 302, f"sign-in failed: {r.status_code}"
    page = client.get("/").text
    # the organization switcher lists the memberships; pick the demo clinic's id
    match = re.search(r'<option value="(\d+)"[^>]*>Clínica Bem-Estar</option>', page)
    assert match, "the demo clinic is not among the user's organizations"
    r = client.post("/org/switch/", data={"organization": match.group(1), "next": "/messaging/",
                                          "csrfmiddlewaretoken": client.cookies["csrftoken"]},
                    headers={"Referer": url + "/"})
    assert r.status_code == 302, f"switch failed: {r.status_code}"
    return client


async def measure(url: str, client: httpx.Client, count: int) -> list[float]:
    cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    ws_url = url.replace("http", "ws", 1) + "/ws/live/"
    headers = {"Cookie": cookie, "X-CSRFToken": client.cookies["csrftoken"], "Referer": url + "/messaging/phone/"}
    samples: list[float] = []
    async with websockets.connect(ws_url, additional_headers={"Cookie": cookie, "Origin": url}) as ws, \
            httpx.AsyncClient(base_url=url, timeout=20) as http:
        for i in range(count):
            text = f"bench {time.time_ns()} #{i}"
            start = time.perf_counter()
            r = await http.post("/messaging/phone/send/", json={"type": "text", "text": text}, headers=headers)
            assert r.status_code == 200, r.text
            while True:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 30))
                if msg.get("type") == "wa_message" and (msg.get("message") or {}).get("text") == text:
                    samples.append((time.perf_counter() - start) * 1000)
                    break
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--url")
    parser.add_argument("--user", default="admin")
    parser.add_argument("--password")
    args = parser.parse_args()
    proc = None
    url, password = args.url, args.password
    if not url:
        base = Path(tempfile.mkdtemp(prefix="wa-inbox-bench-"))
        port = free_port()
        env = central_env(base / "data", CENTRAL_DEMO_CALLS="0", CENTRAL_DEMO_VISITS="0", CENTRAL_ASSISTANT="off")
        proc = start_central(["up", "--port", str(port)], env, port, base / "up.log", wait=120)
        url, (args.user, password) = proc.url, proc.creds
    try:
        client = sign_in(url, args.user, password)
        samples = asyncio.run(measure(url, client, args.messages))
    finally:
        if proc is not None:
            proc.stop()
    samples.sort()
    q = statistics.quantiles(samples, n=100, method="inclusive")
    print(f"messages {len(samples)}  p50 {q[49]:.1f} ms  p95 {q[94]:.1f} ms  p99 {q[98]:.1f} ms  "
          f"max {samples[-1]:.1f} ms")


if __name__ == "__main__":
    main()
