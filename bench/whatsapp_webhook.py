"""Signed WhatsApp webhook deliveries per second acknowledged by ``central web``, and how fast
the background job applies them; against a naive view that processes before answering.

Run: .venv/bin/python bench/whatsapp_webhook.py [--requests 20000] [--naive-requests 3000]
     [--connections 32] [--customers 2000] [--db sqlite,postgresql] [--production]

For each database: a fresh data directory and database, one organization with one
number (app secret from a ``CENTRAL_TENANT_SECRET_*`` variable), then ``central web``
pinned to core 0 (``taskset``) with the bench settings (bench/whatsapp_webhook_django.py:
a responder that decides and queues a reply for every message, and the naive view). The
load client (this process, pinned to core 1) sends pre-built, pre-signed HTTP/1.1
requests over ``--connections`` keep-alive connections from raw asyncio sockets (no HTTP
library on the client's side, so the client does not measure itself); 10 % of the
requests repeat an earlier delivery byte for byte (Meta's duplicates).

* **fast path** ``/webhooks/whatsapp``: ack rate and p50/p95/p99 ack latency; then the
  time until every stored event is processed by the job (the web process's own thread in
  the embedded default: it shares the pinned core with the acks), reported as a rate.
* **naive** ``/bench/naive-webhook``: the same deliveries, processed (contact,
  conversation, message, reply) before the 200.
* ``--production`` (PostgreSQL): ``central web`` pinned to core 0 acks, a Celery ``central
  worker`` (Redis broker) applies the events.

After each run it checks: every request answered 200; one stored event and one message
per distinct delivery; one bot reply per message (zero duplicated effects); nothing left
unprocessed (zero lost). PostgreSQL and Redis come from scripts/services.sh unless
DATABASE_URL / REDIS_URL are set.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.support import CENTRAL, free_port, start_central  # noqa: E402

APP_SECRET = "bench-app-secret-0123456789abcdef"
PROCESS_TIMEOUT = 180.0
SECRET_ENV = "CENTRAL_TENANT_SECRET_BENCH_WA_APP"
PNID = "106540352242922"
SEED = f"""
from central.core.models import Organization
from central.messaging.models import WhatsAppNumber
org = Organization.objects.create(name="Clínica Bench", slug="clinica-bench", kind="clinic")
WhatsAppNumber.objects.create(organization=org, phone_number_id="{PNID}", display_number="+5511300000001",
                              app_secret_env="{SECRET_ENV}")
print("seeded")
"""
CHECK_SQL = {
    "events": "SELECT count(*) FROM messaging_webhookevent",
    "pending": "SELECT count(*) FROM messaging_webhookevent WHERE processed_at IS NULL",
    "messages": "SELECT count(*) FROM messaging_message WHERE direction = 'in'",
    "duplicated": "SELECT count(*) FROM (SELECT wamid FROM messaging_message WHERE direction = 'in' "
                  "GROUP BY wamid HAVING count(*) > 1) d",
    "replies": "SELECT count(*) FROM messaging_message WHERE direction = 'out' AND sender = 'bot'",
    # Applied but not yet given to the responder (its reply is queued right after the commit).
    "undispatched": "SELECT count(*) FROM messaging_webhookevent WHERE kind = 'message' AND dispatched_at IS NULL "
                    "AND processed_at IS NOT NULL",
}


def check(env: dict) -> dict:
    """The counts that prove zero lost and zero duplicated, read with plain SQL (cheap to poll)."""
    url = env.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        import psycopg

        with psycopg.connect(url) as conn:
            return {k: conn.execute(q).fetchone()[0] for k, q in CHECK_SQL.items()}
    import sqlite3

    conn = sqlite3.connect(Path(env["CENTRAL_DATA_DIR"]) / "central.sqlite3", timeout=30)
    try:
        return {k: conn.execute(q).fetchone()[0] for k, q in CHECK_SQL.items()}
    finally:
        conn.close()


def build_requests(n: int, customers: int, path: str, host: str, seed: int = 7) -> tuple[list[bytes], int]:
    """``n`` requests, 10 % of them an exact repeat of an earlier one; returns (requests, distinct)."""
    sys.path.insert(0, str(ROOT / "src"))
    from central.messaging.cloudapi import sign

    rng = random.Random(seed)
    made: list[bytes] = []
    distinct = 0
    base_ts = int(time.time())
    for i in range(n):
        if made and rng.random() < 0.10:
            made.append(made[rng.randrange(len(made))])
            continue
        wa_id = f"55119{70000000 + rng.randrange(customers):08d}"
        delivery = {"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{
            "field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "551130000001", "phone_number_id": PNID},
                "contacts": [{"profile": {"name": f"Paciente {wa_id[-4:]}"}, "wa_id": wa_id}],
                "messages": [{"from": wa_id, "id": f"wamid.BENCH{seed}x{i:09d}", "timestamp": str(base_ts),
                              "type": "text", "text": {"body": f"Olá, quero marcar consulta ({i})"}}]}}]}]}
        body = json.dumps(delivery, separators=(",", ":")).encode()
        head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                f"X-Hub-Signature-256: {sign(APP_SECRET, body)}\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        made.append(head + body)
        distinct += 1
    return made, distinct


async def _connection(host: str, port: int, requests: list[bytes], cursor: list[int], latencies: list[float],
                      statuses: dict[int, int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while True:
            i = cursor[0]
            if i >= len(requests):
                return
            cursor[0] = i + 1
            started = time.perf_counter()
            writer.write(requests[i])
            status_line = await reader.readline()
            status = int(status_line.split()[1])
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()


async def load(host: str, port: int, requests: list[bytes], connections: int) -> dict:
    cursor, latencies, statuses = [0], [], {}
    started = time.perf_counter()
    await asyncio.gather(*(_connection(host, port, requests, cursor, latencies, statuses)
                           for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1000

    return {"requests": len(latencies), "seconds": elapsed, "rate": len(latencies) / elapsed,
            "p50": pct(0.50), "p95": pct(0.95), "p99": pct(0.99), "statuses": statuses, "end": time.monotonic()}


def manage(env: dict, code: str) -> str:
    out = subprocess.run([CENTRAL, "manage", "shell", "-c", code], env=env, check=True, capture_output=True,
                         text=True)
    return out.stdout.strip().splitlines()[-1]


def pin(pid: int, core: str) -> None:
    if shutil.which("taskset"):
        subprocess.run(["taskset", "-a", "-p", "-c", core, str(pid)], capture_output=True)


def run_case(label: str, env: dict, path: str, n: int, customers: int, connections: int,
             production: bool = False) -> dict:
    data = Path(env["CENTRAL_DATA_DIR"])
    data.mkdir(parents=True, exist_ok=True)
    subprocess.run([CENTRAL, "migrate"], env=env, check=True, capture_output=True)
    manage(env, SEED)
    port = free_port()
    server = start_central(["web", "--port", str(port)], env, port, data / "web.log")
    pin(server.proc.pid, "0")
    worker = None
    if production:
        log = open(data / "worker.log", "w")  # noqa: SIM115 - lives as long as the worker
        worker = subprocess.Popen([CENTRAL, "worker", "--concurrency", "1"], env=env, stdout=log,
                                  stderr=subprocess.STDOUT)
        pin(worker.pid, "1")
    try:
        requests, distinct = build_requests(n, customers, path, f"127.0.0.1:{port}")
        warm, warm_distinct = build_requests(50, 10, path, f"127.0.0.1:{port}", seed=99)
        asyncio.run(load("127.0.0.1", port, warm, 4))  # connections, caches, first queries
        distinct += warm_distinct
        result = asyncio.run(load("127.0.0.1", port, requests, connections))
        deadline = time.monotonic() + PROCESS_TIMEOUT
        while True:
            counts = check(env)
            done = counts["pending"] == 0 and counts["undispatched"] == 0 and counts["messages"] >= distinct
            if done or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        processed_at = time.monotonic()
        result["processing_seconds"] = processed_at - (result["end"] - result["seconds"])
        applied = counts["events"] - counts["pending"]
        result["applied"] = applied
        result["processing_rate"] = applied / result["processing_seconds"]
        result.update(check=counts, distinct=distinct, label=label)
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(15)
            if result.get("applied", 0) == 0 if "result" in locals() else True:
                print("worker log (tail):\n" + (data / "worker.log").read_text(errors="replace")[-2000:], flush=True)
        server.stop()
    # Zero lost: every distinct delivery is stored; applied ones have one message and one reply.
    ok = (result["statuses"] == {200: n} and counts["events"] == distinct and counts["duplicated"] == 0
          and counts["messages"] == counts["events"] - counts["pending"]
          # a reply may already be queued while its event's dispatch mark is not yet written
          and counts["messages"] - counts["undispatched"] <= counts["replies"] <= counts["messages"])
    result["ok"] = ok
    result["complete"] = counts["pending"] == 0
    print_row(result)
    return result


HEADER = (f"{'case':<28}{'requests':>9}{'acks/s':>9}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}"
          f"{'applied':>14}{'applied/s':>11}{'check':>7}")


def print_row(r: dict) -> None:
    applied = f"{r['applied']}/{r['distinct']}"
    print(f"{r['label']:<28}{r['requests']:>9}{r['rate']:>9.0f}{r['p50']:>8.1f}{r['p95']:>8.1f}{r['p99']:>8.1f}"
          f"{applied:>14}{r['processing_rate']:>11.1f}{'ok' if r['ok'] else 'FAIL':>7}", flush=True)
    if not r["ok"]:
        print(f"    statuses {r['statuses']} distinct {r['distinct']} check {r['check']}", flush=True)


def services_env() -> tuple[dict, dict | None]:
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        return {"DATABASE_URL": os.environ["DATABASE_URL"], "REDIS_URL": os.environ.get("REDIS_URL", "")}, None
    services = {**os.environ, "CENTRAL_SERVICES_DIR": f"/tmp/central-bench-wa-{os.getpid()}"}
    env_file = subprocess.run(["bash", str(ROOT / "scripts/services.sh"), "start"], env=services, check=True,
                              capture_output=True, text=True).stdout.strip()
    values = {}
    for line in Path(env_file).read_text().splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        values[key] = value
    return {"DATABASE_URL": values["CENTRAL_TEST_DATABASE_URL"], "REDIS_URL": values["CENTRAL_TEST_REDIS_URL"]}, services


def fresh_pg(url: str) -> str:
    import uuid
    from urllib.parse import urlparse, urlunparse

    import psycopg

    name = f"central_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunparse(urlparse(url)._replace(path=f"/{name}"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--naive-requests", type=int, default=3_000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--production", action="store_true", help="also PostgreSQL + Redis + Celery worker")
    parser.add_argument("--process-timeout", type=float, default=180.0,
                        help="seconds to wait for the job to apply every event after the load")
    args = parser.parse_args()
    global PROCESS_TIMEOUT
    PROCESS_TIMEOUT = args.process_timeout
    pin(os.getpid(), "1")
    base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    base.update({"CENTRAL_LOG_LEVEL": "WARNING", SECRET_ENV: APP_SECRET, "CENTRAL_ASSISTANT": "off",
                 "PYTHONPATH": os.pathsep.join([str(ROOT / "bench"), os.environ.get("PYTHONPATH", "")]),
                 "DJANGO_SETTINGS_MODULE": "whatsapp_webhook_django"})
    dbs = [d for d in args.db.split(",") if d]
    results = []
    services = None
    with tempfile.TemporaryDirectory() as tmp:
        try:
            pg = None
            if "postgresql" in dbs or args.production:
                pg, services = services_env()
            for db in dbs:
                for path, n, kind in (("/webhooks/whatsapp", args.requests, "fast"),
                                      ("/bench/naive-webhook", args.naive_requests, "naive")):
                    env = {**base, "CENTRAL_DATA_DIR": f"{tmp}/{db}-{kind}"}
                    if db == "postgresql":
                        env["DATABASE_URL"] = fresh_pg(pg["DATABASE_URL"])
                    print(f"running {db} {kind} ({n} requests)...\n{HEADER}", flush=True)
                    results.append(run_case(f"{db} {kind}", env, path, n, args.customers, args.connections))
            if args.production:
                env = {**base, "CENTRAL_DATA_DIR": f"{tmp}/prod", "DATABASE_URL": fresh_pg(pg["DATABASE_URL"]),
                       "REDIS_URL": pg["REDIS_URL"]}
                print(f"running production layout ({args.requests} requests)...", flush=True)
                results.append(run_case("postgresql+redis+celery", env, "/webhooks/whatsapp", args.requests,
                                        args.customers, args.connections, production=True))
        finally:
            if services is not None:
                subprocess.run(["bash", str(ROOT / "scripts/services.sh"), "stop"], env=services, check=False)
    print(f"\nSigned deliveries (10 % duplicates), {args.connections} keep-alive connections, "
          f"central web pinned to core 0, client on core 1")
    print(HEADER)
    for r in results:
        print_row(r)
    print("applied: events applied by the job (contact, conversation, message, reply queued) / distinct deliveries "
          "when the job finished or --process-timeout passed; applied/s over the time since the first request")
    print("goal: >= 1,000 acks/s on one core with p95 ack < 50 ms (PostgreSQL), zero lost, zero duplicated")
    try:
        load_avg = os.getloadavg()
        print(f"load average during the run: {load_avg[0]:.1f} {load_avg[1]:.1f} {load_avg[2]:.1f} "
              f"on {os.cpu_count()} cores")
    except OSError:
        pass


if __name__ == "__main__":
    main()
