"""Contact import throughput and peak memory: 1,000,000 rows on SQLite and PostgreSQL.

Run: .venv/bin/python bench/dialer_import.py [--rows 1000000] [--db sqlite,postgres]
     [--database-url postgres://...]

For each database a fresh child process migrates an empty database, creates a campaign,
and imports a generated CSV (semicolon, UTF-8, ``nome;telefone;telefone2;cidade;plano``,
every 100th row an invalid phone, every 50th a duplicate of an earlier row) through the
same ``importer.import_contacts`` the API job and the CLI use. It reports rows/s, the
child's peak RSS (``ru_maxrss``) and the RSS growth over the baseline after Django setup
(which is what the import itself costs; a streaming import stays flat as rows grow).
A second, smaller run under ``tracemalloc`` gives the peak of Python allocations.
PostgreSQL is started by scripts/services.sh in a private state dir unless
--database-url (or DATABASE_URL) is given.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")

CHILD = r"""
import json, os, resource, sys, time, tracemalloc
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "central.settings")
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from central.core.models import Organization
from central.dialer import importer
from central.dialer.models import Campaign, Contact

rows, path, trace = int(sys.argv[1]), sys.argv[2], sys.argv[3] == "1"
org = Organization.objects.create(name="Bench", slug=f"bench-{os.getpid()}")
camp = Campaign.objects.create(organization=org, name="Bench", queue="vendas")
base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if trace:
    tracemalloc.start()
job = importer.new_job(org, kind="contacts", filename="bench.csv", stored_path=path, campaign=camp)
t0 = time.perf_counter()
r0 = resource.getrusage(resource.RUSAGE_SELF)
job = importer.import_contacts(job)
elapsed = time.perf_counter() - t0
r1 = resource.getrusage(resource.RUSAGE_SELF)
cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
peak_py = tracemalloc.get_traced_memory()[1] if trace else 0
print(json.dumps({
    "rows": job.rows, "imported": job.imported, "merged": job.merged, "rejected": job.rejected,
    "status": job.status, "elapsed": elapsed, "cpu": cpu, "count": Contact.objects.filter(campaign=camp).count(),
    "base_rss_kb": base_rss, "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    "peak_py": peak_py,
}))
"""


def generate(path: Path, rows: int) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("nome;telefone;telefone2;cidade;plano\n")
        for i in range(rows):
            if i % 100 == 99:
                f.write(f"Cliente {i};(11) 1234-{i % 10000:04d};;Campinas;prata\n")  # invalid
            elif i % 50 == 49:
                j = i - 25
                f.write(f"Cliente {j} bis;(11) 9{61000000 + j};(11) 3{2000000 + j % 1000000:07d};Santos;ouro\n")
            else:
                f.write(f"Cliente {i};(11) 9{61000000 + i};;São Paulo;ouro\n")


def run_child(env: dict, rows: int, path: Path, trace: bool) -> dict:
    out = subprocess.run([PYTHON, "-c", CHILD, str(rows), str(path), "1" if trace else "0"],
                         env=env, capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise SystemExit(f"child failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def start_postgres(state: str) -> tuple[str, dict]:
    env = {**os.environ, "CENTRAL_SERVICES_DIR": state}
    envfile = subprocess.run(["bash", str(ROOT / "scripts/services.sh"), "start"], env=env,
                             capture_output=True, text=True, check=True).stdout.strip()
    url = ""
    for line in Path(envfile).read_text().splitlines():
        if "CENTRAL_TEST_DATABASE_URL=" in line:
            url = line.split("=", 1)[1]
    return url, env


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--trace-rows", type=int, default=50_000, help="rows for the tracemalloc run (0: skip)")
    ap.add_argument("--db", default="sqlite,postgres")
    ap.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-import-"))
    csv_path = tmp / "contacts.csv"
    t0 = time.perf_counter()
    generate(csv_path, args.rows)
    size = csv_path.stat().st_size
    print(f"generated {args.rows:,} rows, {size / 1e6:.1f} MB in {time.perf_counter() - t0:.1f} s ({csv_path})")
    small = tmp / "small.csv"
    if args.trace_rows:
        generate(small, args.trace_rows)

    results = []
    pg_state = None
    for db in args.db.split(","):
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env["PYTHONPATH"] = str(ROOT / "src")
        if db == "postgres":
            url = args.database_url
            if not url:
                # Not under mkdtemp's 0700 dir: the postgres user must reach its data dir.
                pg_state = f"/tmp/central-bench-import-services-{os.getpid()}"
                url, _ = start_postgres(pg_state)
            env["DATABASE_URL"] = url
        for trace, rows, path in ((False, args.rows, csv_path), (True, args.trace_rows, small)):
            if trace and not rows:
                continue
            env["CENTRAL_DATA_DIR"] = str(tmp / f"data-{db}-{int(trace)}")
            if db == "postgres":  # a clean database per run: drop the previous run's tables
                subprocess.run([PYTHON, "-c", "import os,django;os.environ.setdefault('DJANGO_SETTINGS_MODULE','central.settings');django.setup();"
                                "from django.db import connection;c=connection.cursor();c.execute('DROP SCHEMA public CASCADE; CREATE SCHEMA public')"],
                               env=env, check=True, cwd=ROOT)
            r = run_child(env, rows, path, trace)
            r.update(db=db, trace=trace)
            results.append(r)
            print(f"{db:<9} {'tracemalloc' if trace else 'plain':<11} {r['rows']:>9,} rows {r['elapsed']:7.1f} s "
                  f"{r['rows'] / r['elapsed']:>9,.0f} rows/s  cpu {r['cpu']:.1f} s  ({r['status']}, {r['count']:,} contacts)",
                  flush=True)
    if pg_state:
        subprocess.run(["bash", str(ROOT / "scripts/services.sh"), "stop"],
                       env={**os.environ, "CENTRAL_SERVICES_DIR": pg_state}, check=False)

    print()
    print(f"{'database':<10} {'rows':>10} {'seconds':>8} {'rows/s':>9} {'cpu s':>7} {'rows/cpu-s':>10} {'imported':>9} {'merged':>7} {'rejected':>8} "
          f"{'peak RSS':>9} {'RSS growth':>10} {'py peak*':>9}")
    for r in [x for x in results if not x["trace"]]:
        traced = next((x for x in results if x["trace"] and x["db"] == r["db"]), None)
        py = f"{traced['peak_py'] / 1e6:.1f} MB" if traced else "-"
        print(f"{r['db']:<10} {r['rows']:>10,} {r['elapsed']:>8.1f} {r['rows'] / r['elapsed']:>9,.0f} "
              f"{r['cpu']:>7.1f} {r['rows'] / max(r['cpu'], 1e-9):>10,.0f} "
              f"{r['imported']:>9,} {r['merged']:>7,} {r['rejected']:>8,} {r['peak_rss_kb'] / 1024:>6.0f} MB "
              f"{(r['peak_rss_kb'] - r['base_rss_kb']) / 1024:>7.0f} MB {py:>9}")
    if args.trace_rows:
        print(f"* tracemalloc peak of Python allocations during a {args.trace_rows:,}-row import")
    print(f"file: {size / 1e6:.1f} MB CSV; batch 5000 rows per transaction; load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} CPUs (wall time suffers when the machine is shared; cpu s is the import process's own)")


if __name__ == "__main__":
    main()
