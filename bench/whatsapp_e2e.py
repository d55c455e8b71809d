"""Inbound WhatsApp message -> visible in the inbox API, end to end through the simulator.

Run: .venv/bin/python bench/whatsapp_e2e.py [--messages 100]

Starts ``central up --no-simulator`` (no PBX; the Cloud API simulator on a known port,
the clinic assistant off), then for each message: a customer sends a text through the
simulator's control API (the simulator signs and POSTs the webhook to Central), and the
client polls ``GET /api/v1/messaging/conversations/<id>/messages/`` every 5 ms until the
message is there. Prints p50/p95/p99 of that delay, which includes the webhook ack, the
background job (contact, conversation, message) and the API read.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.support import central_env, free_port, start_central  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port, sim_port, token = free_port(), free_port(), secrets.token_urlsafe(16)
        env = central_env(Path(tmp) / "data", CENTRAL_DEMO_CALLS="0", CENTRAL_DEMO_VISITS="0", CENTRAL_ASSISTANT="off",
                          CENTRAL_WHATSAPP_SIMULATOR_PORT=str(sim_port), CENTRAL_WHATSAPP_SIMULATOR_TOKEN=token,
                          CENTRAL_RATE_API="1000000/min,10000000/hour", CENTRAL_LOG_LEVEL="WARNING")
        proc = start_central(["up", "--no-simulator", "--port", str(port)], env, port, Path(tmp) / "up.log", wait=180)
        try:
            user, password = proc.creds
            access = httpx.post(f"{proc.url}/api/v1/auth/token/", json={"username": user, "password": password},
                                timeout=30).json()["access"]
            api = httpx.Client(base_url=f"{proc.url}/api/v1/messaging", timeout=30,
                               headers={"Authorization": f"Bearer {access}", "X-Organization": "clinica-bem-estar"})
            sim = httpx.Client(base_url=f"http://127.0.0.1:{sim_port}", headers={"X-Sim-Token": token}, timeout=30)
            wa_id = "5511987600001"
            sim.post("/_sim/customer", json={"wa_id": wa_id, "text": "primeira"})
            conv_id = None
            while conv_id is None:
                rows = api.get("/conversations/", params={"q": wa_id}).json()["results"]
                conv_id = rows[0]["id"] if rows else None
                time.sleep(0.01)
            delays = []
            for i in range(args.messages):
                text = f"mensagem {i} {secrets.token_hex(4)}"
                started = time.perf_counter()
                sim.post("/_sim/customer", json={"wa_id": wa_id, "text": text})
                while not any(m["body"] == text for m in api.get(
                        f"/conversations/{conv_id}/messages/", params={"page_size": 500}).json()["results"][-3:]):
                    time.sleep(0.005)
                delays.append((time.perf_counter() - started) * 1000)
        finally:
            proc.stop()
    delays.sort()

    def pct(p: float) -> float:
        return delays[min(len(delays) - 1, int(len(delays) * p))]

    print(f"inbound message -> visible in the inbox API, {len(delays)} messages through the simulator")
    print(f"p50 {pct(0.5):.0f} ms  p95 {pct(0.95):.0f} ms  p99 {pct(0.99):.0f} ms  max {delays[-1]:.0f} ms")
    load = os.getloadavg()
    print(f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
