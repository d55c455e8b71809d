"""p50/p95 latency of an authenticated list endpoint with 10,000 rows, SQLite and PostgreSQL.

Run: .venv/bin/python bench/api_latency.py [--rows 10000] [--requests 500]

For each database it starts a real `central web` process pinned to one core (taskset),
fills the audit log of one organization with --rows rows, then issues --requests
sequential GET /api/v1/audit-log/?page=N requests with a JWT (pages spread over the whole
table, filters and ordering as the dashboard uses them) and prints the percentiles.
PostgreSQL and Redis are started by scripts/services.sh unless DATABASE_URL is given.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.support import CENTRAL, free_port, start_central  # noqa: E402

SEED = """
import sys
from django.contrib.auth import get_user_model
from central.core.models import AuditLog, Membership, Organization
rows = int(sys.argv[1])
org = Organization.objects.create(name="Bench", slug="bench")
other = Organization.objects.create(name="Other", slug="other")
user = get_user_model().objects.create_user("bench", password="bench-password-123")
Membership.objects.create(user=user, organization=org, role="owner")
batch = [AuditLog(organization=org if i % 10 else other, actor_name="bench", action=f"bench.action{i % 7}",
                  target_type="core.organization", target_id=str(i), details={"i": i}) for i in range(rows * 10 // 9)]
AuditLog.objects.bulk_create(batch, batch_size=5000)
print(AuditLog.objects.filter(organization=org).count())
"""


def measure(label: str, env: dict, rows: int, requests: int) -> dict:
    data = Path(env["CENTRAL_DATA_DIR"])
    subprocess.run([CENTRAL, "migrate"], env=env, check=True, capture_output=True)
    seeded = subprocess.run(
        [CENTRAL, "manage", "shell", "-c", SEED.replace("sys.argv[1]", str(rows))],
        env=env, check=True, capture_output=True, text=True,
    )
    count = int(seeded.stdout.strip().splitlines()[-1])
    port = free_port()
    env = {**env, "CENTRAL_RATE_API": "100000/min,1000000/hour"}
    taskset = shutil.which("taskset")
    args = ["web", "--port", str(port)]
    proc = start_central(args, env, port, data / "web.log")
    if taskset:
        subprocess.run([taskset, "-a", "-p", "-c", "0", str(proc.proc.pid)], capture_output=True)
    try:
        with httpx.Client(base_url=proc.url, timeout=30) as client:
            token = client.post("/api/v1/auth/token/", json={"username": "bench", "password": "bench-password-123"}).json()["access"]
            headers = {"Authorization": f"Bearer {token}"}
            pages = max(1, count // 50)
            for i in range(20):  # warm-up: connections, caches
                client.get("/api/v1/audit-log/", headers=headers, params={"page": 1 + i % pages})
            times = []
            for i in range(requests):
                params = {"page": 1 + (i * 37) % pages}
                if i % 4 == 1:
                    params["action"] = "bench.action3"
                    params["page"] = 1
                if i % 4 == 2:
                    params["ordering"] = "created_at"
                started = time.perf_counter()
                response = client.get("/api/v1/audit-log/", headers=headers, params=params)
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, response.text
                assert len(response.json()["results"]) > 0
    finally:
        proc.stop()
    times.sort()
    return {
        "db": label,
        "rows": count,
        "requests": requests,
        "p50_ms": statistics.median(times),
        "p95_ms": times[int(len(times) * 0.95) - 1],
        "max_ms": times[-1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    results = []
    base_env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    with tempfile.TemporaryDirectory() as tmp:
        env = {**base_env, "CENTRAL_DATA_DIR": f"{tmp}/sqlite", "CENTRAL_LOG_LEVEL": "WARNING"}
        results.append(measure("sqlite", env, args.rows, args.requests))
        pg_url = os.environ.get("DATABASE_URL", "")
        started_services = False
        if not pg_url.startswith("postgres"):
            services = {**os.environ, "CENTRAL_SERVICES_DIR": f"/tmp/central-bench-services-{os.getpid()}"}
            env_file = subprocess.run(["bash", str(ROOT / "scripts/services.sh"), "start"], env=services,
                                      check=True, capture_output=True, text=True).stdout.strip()
            started_services = True
            for line in Path(env_file).read_text().splitlines():
                key, _, value = line.removeprefix("export ").partition("=")
                os.environ[key] = value
            pg_url = os.environ["CENTRAL_TEST_DATABASE_URL"]
        try:
            env = {**base_env, "CENTRAL_DATA_DIR": f"{tmp}/pg", "DATABASE_URL": pg_url, "CENTRAL_LOG_LEVEL": "WARNING"}
            results.append(measure("postgresql", env, args.rows, args.requests))
        finally:
            if started_services:
                subprocess.run(["bash", str(ROOT / "scripts/services.sh"), "stop"], env=services, check=False)
    print(f"\nGET /api/v1/audit-log/ (JWT, page_size 50), server pinned to one core, {args.requests} sequential requests")
    print(f"{'database':<12}{'rows':>8}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}")
    for r in results:
        print(f"{r['db']:<12}{r['rows']:>8}{r['p50_ms']:>10.1f}{r['p95_ms']:>10.1f}{r['max_ms']:>10.1f}")
    print("target: p95 < 100 ms")


if __name__ == "__main__":
    main()
