"""Peak memory of parsing hostile import files: an XLSX zip bomb and a CSV width bomb.

Run: .venv/bin/python bench/import_bombs.py [--src PATH] [--xlsx-mb 300] [--csv-mb 10]

For each bomb (generated in a temporary directory, never committed) a fresh child process
sets Django up on an empty SQLite data directory, creates a campaign and runs
``importer.import_contacts`` on the file *in that process*, the way the web process did
before imports moved to a capped worker. It prints the child's RSS after setup, its peak
RSS during the import (``VmHWM``, reset through ``/proc/self/clear_refs`` after setup), the difference, and the job's status and message.
``--src`` points at another checkout's ``src`` (for example a ``git worktree`` of an older
commit) to measure the code before a change with the same files.

The bomb builders are the ones of ``tests/dialer/test_import_worker.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.dialer.test_import_worker import MB, width_bomb, xlsx_bomb  # noqa: E402

CHILD = r"""
import json, os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "central.settings")
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from central.core.models import Organization
from central.dialer import importer
from central.dialer.models import Campaign

def status_kb(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])

org = Organization.objects.create(name="A", slug="a")
camp = Campaign.objects.create(organization=org, name="C", queue="q")
path = sys.argv[1]
job = importer.new_job(org, kind="contacts", filename=os.path.basename(path), stored_path=path, campaign=camp)
base = status_kb("VmRSS")
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset the peak (VmHWM) to the current RSS: measure the import alone
job = importer.import_contacts(job)
peak = status_kb("VmHWM")
print(json.dumps({"rss_after_setup_kb": base, "peak_rss_kb": peak, "growth_kb": peak - base,
                  "status": job.status, "message": job.message}))
"""


def measure(src: Path, bomb: Path) -> dict:
    with tempfile.TemporaryDirectory(prefix="bomb-data-") as data:
        env = {**os.environ, "CENTRAL_DATA_DIR": data, "PYTHONPATH": str(src), "CENTRAL_IMPORT_KEEP_UPLOADS": "1"}
        env.pop("DATABASE_URL", None)
        env.pop("REDIS_URL", None)
        out = subprocess.run([sys.executable, "-c", CHILD, str(bomb)], env=env, capture_output=True, text=True,
                             timeout=900)
        if out.returncode != 0:
            return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else out.returncode}
        return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--src", type=Path, default=ROOT / "src")
    parser.add_argument("--xlsx-mb", type=int, default=300)
    parser.add_argument("--csv-mb", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bombs-") as tmp:
        bombs = {
            "xlsx": xlsx_bomb(Path(tmp) / "bomba.xlsx", args.xlsx_mb * MB),
            "csv": width_bomb(Path(tmp) / "bomba.csv", args.csv_mb * MB),
        }
        for kind, path in bombs.items():
            result = measure(args.src.resolve(), path)
            print(f"{kind}: file {path.stat().st_size / 1024:.0f} KB -> {json.dumps(result, ensure_ascii=False)}")


if __name__ == "__main__":
    main()
