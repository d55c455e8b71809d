"""Legacy import throughput and peak memory: 100,000 contacts from a real MariaDB.

Run: .venv/bin/python bench/legacy_import.py [--rows 100000] [--database-url postgres://...]

Loads a throw-away MariaDB (scripts/services.sh, private state dir, unless
CENTRAL_TEST_MARIADB_URL is set) with the legacy schema and ``rows`` realistic contacts
(tests/legacy/legacy_db.py: 1 name in 5 written as UTF-8 through latin1, 1 in 100 twice,
phones in the shapes people typed, 1 in 50 invalid, every 200th a repeated number), then
runs, each in a fresh child process on the same Central database (SQLite in a temporary
data dir, or --database-url):

* baseline: the dialer's CSV import (``importer.import_contacts``) of the same contacts,
  written as a CSV, into another campaign;
* dry run, real run, and a second real run (which must change nothing).

For each: rows/s, wall time, the child's peak RSS and its growth over the RSS after
Django setup. Then the repairs of the real run (names, phones normalised / rejected by
reason).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
sys.path.insert(0, str(ROOT))

CHILD = r"""
import json, os, resource, sys, time
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "central.settings")
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from central.core.models import Organization
from central.dialer.models import Contact
phase, mariadb_url, csv_path = sys.argv[1], sys.argv[2], sys.argv[3]
org, _ = Organization.objects.get_or_create(slug="bench-legacy", defaults={"name": "Bench legado"})
base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
out = {"phase": phase}
if phase == "csv":
    from central.dialer import importer
    from central.dialer.models import Campaign
    camp = Campaign.objects.create(organization=org, name="CSV", queue="vendas")
    job = importer.new_job(org, kind="contacts", filename="bench.csv", stored_path=csv_path, campaign=camp)
    job = importer.import_contacts(job)
    out.update(rows=job.rows, detail={"imported": job.imported, "merged": job.merged, "rejected": job.rejected})
else:
    from central.legacy.runner import Options, run
    result = run(Options(organization=org, mariadb_url=mariadb_url, dry_run=(phase == "dry")))
    out.update(rows=result.contact_rows, detail=result.tally.as_dict(), errors=result.errors)
out["elapsed"] = time.perf_counter() - t0
out["base_rss_kb"] = base_rss
out["peak_rss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out["contacts_in_db"] = Contact.objects.filter(organization=org).count()
print(json.dumps(out))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--database-url", default="")
    args = ap.parse_args()
    from tests.legacy import legacy_db

    work = Path(tempfile.mkdtemp(prefix="bench-legacy-"))
    server = os.environ.get("CENTRAL_TEST_MARIADB_URL", "")
    services = None
    if not server:
        services = {**os.environ, "CENTRAL_SERVICES_DIR": str(work / "services")}
        env_file = subprocess.run(["bash", str(ROOT / "scripts" / "services.sh"), "mariadb"], env=services,
                                  capture_output=True, text=True, check=True).stdout.strip()
        server = Path(env_file).read_text().strip().split("=", 1)[1]
    try:
        url = legacy_db.create_database(server)
        t = time.perf_counter()
        legacy_db.insert(url, "discador_campanhas", legacy_db.CAMPAIGN_COLS, [
            (1, "Bench", "active", 30, 2.0, 3.0, 60, None, None, None, None)])
        rows = legacy_db.realistic_contacts(args.rows)
        legacy_db.insert(url, "discador_contatos", legacy_db.CONTACT_COLS, rows)
        print(f"loaded {args.rows:,} legacy contacts into MariaDB in {time.perf_counter() - t:.1f} s")
        csv_path = work / "contacts.csv"
        with open(csv_path, "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, delimiter=";")
            w.writerow(["nome", "telefone", "telefone2"])
            for r in rows:
                name = r[2].decode("utf-8") if isinstance(r[2], bytes) else r[2]
                w.writerow([name, r[3] or "", r[4] or ""])
        del rows
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env.update(CENTRAL_DATA_DIR=str(work / "data"), PYTHONPATH=str(ROOT / "src"))
        if args.database_url:
            env["DATABASE_URL"] = args.database_url
        results = {}
        for phase in ("csv", "dry", "real", "again"):
            proc = subprocess.run([PYTHON, "-c", CHILD, phase, url, str(csv_path)], env=env, capture_output=True,
                                  text=True, cwd=work)
            if proc.returncode:
                print(proc.stderr[-3000:])
                raise SystemExit(1)
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            results[phase] = r
            print(f"{phase:>6}: {r['rows']:>8,} rows  {r['elapsed']:6.1f} s  {r['rows'] / r['elapsed']:>9,.0f} rows/s  "
                  f"peak RSS {r['peak_rss_kb'] / 1024:6.1f} MB (+{(r['peak_rss_kb'] - r['base_rss_kb']) / 1024:.1f} MB "
                  f"over setup)  contacts in db {r['contacts_in_db']:,}")
        for phase in ("dry", "real", "again"):
            print(f"{phase} actions:", json.dumps(results[phase]["detail"]["actions"].get("discador_contatos", {})))
        print("repairs and normalisations of the real run (discador_contatos):")
        for kind, reasons in results["real"]["detail"]["notes"].get("discador_contatos", {}).items():
            for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1]):
                print(f"  {n:>8,}  {kind}" + ("" if reason == "-" else f": {reason}"))
        print("csv baseline:", json.dumps(results["csv"]["detail"]))
        legacy_db.drop_database(url)
    finally:
        if services:
            subprocess.run(["bash", str(ROOT / "scripts" / "services.sh"), "stop"], env=services, check=False)


if __name__ == "__main__":
    main()
