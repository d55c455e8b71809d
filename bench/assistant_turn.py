"""Clinic assistant, offline engine: a patient's WhatsApp message -> the assistant's reply
accepted by the Cloud API (p50/p95), end to end through the simulator.

Run: .venv/bin/python bench/assistant_turn.py [--patients 100]

Starts ``central up --no-simulator`` (no PBX) on a fresh data directory (SQLite, the
embedded default; demo calls and visits off), with messaging's Cloud API simulator and
the demo clinic's number and agenda. One patient at a time (a new WhatsApp number each),
three turns each: "oi" (the menu, a list), "qual o endereço?" (address and opening hours,
text) and "quero marcar uma consulta" (the LGPD name question). For each turn the
clock starts right before the phone's message is posted to the simulator
(``/_sim/customer``: it signs the webhook and delivers it to ``/webhooks/whatsapp``) and
stops at the time the simulator accepted the assistant's reply on its Graph API
(``Sent.at``): webhook ack, background processing, the responder (rails, flow, agenda
reads), the queue, the sender, the HTTP call. The per-recipient pacing is scaled down
(as in the tests) so Meta's one-message-per-6-s pair limit is not what is measured.
Printed: turns, p50, p95, p99, max in milliseconds, per kind and overall.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.support import free_port, migrated_env, start_central  # noqa: E402

TURNS = (("menu", "oi"), ("address", "qual o endereço?"), ("lgpd", "quero marcar uma consulta"))


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def run(patients: int) -> dict[str, list[float]]:
    base = Path(tempfile.mkdtemp(prefix="bench-assistant-"))
    port, sim_port = free_port(), free_port()
    token = secrets.token_urlsafe(16)
    env = migrated_env(base / "data", CENTRAL_DEMO_CALLS="0", CENTRAL_DEMO_VISITS="0",
                       CENTRAL_WHATSAPP_SIMULATOR_PORT=str(sim_port), CENTRAL_WHATSAPP_SIMULATOR_TOKEN=token,
                       CENTRAL_WHATSAPP_RECIPIENT_INTERVAL="0.02", CENTRAL_WHATSAPP_RECIPIENT_BURST="10")
    proc = start_central(["up", "--no-simulator", "--port", str(port)], env, port, base / "up.log", wait=180)
    samples: dict[str, list[float]] = {kind: [] for kind, _text in TURNS}
    try:
        sim = httpx.Client(base_url=f"http://127.0.0.1:{sim_port}", headers={"X-Sim-Token": token}, timeout=30)
        sim.post("/_sim/config", json={"delay_sent": 0.01, "delay_delivered": 0.02, "delay_read": 0.05,
                                       "pair_burst": 11, "pair_interval": 0.02})
        for i in range(patients):
            wa_id = f"55119{77000000 + i:08d}"
            seen = 0
            for kind, text in TURNS:
                t0 = time.time()
                r = sim.post("/_sim/customer", json={"wa_id": wa_id, "text": text})
                assert r.status_code == 200, r.text
                deadline = time.monotonic() + 30
                while True:
                    sent = sim.get("/_sim/sent", params={"wa_id": wa_id}).json()["sent"]
                    if len(sent) > seen:
                        break
                    if time.monotonic() > deadline:
                        raise SystemExit(f"no reply to {text!r} from patient {i} within 30 s")
                    time.sleep(0.002)
                samples[kind].append((sent[seen]["at"] - t0) * 1000)
                # wait for the whole turn (the flow may send more than one message) to settle
                seen = len(sent)
    finally:
        proc.stop()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100)
    args = parser.parse_args()
    samples = run(args.patients)
    every = [v for values in samples.values() for v in values]
    print(f"{'turn':<10} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for kind, values in [*samples.items(), ("all", every)]:
        print(f"{kind:<10} {len(values):>5} {statistics.median(values):>8.1f} {pct(values, 95):>8.1f} "
              f"{pct(values, 99):>8.1f} {max(values):>8.1f}")


if __name__ == "__main__":
    main()
