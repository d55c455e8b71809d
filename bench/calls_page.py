"""Calls page with 2,000,000 call records: page latency (p95) and a streamed 100,000-row export.

Run: .venv/bin/python bench/calls_page.py [--rows 2000000] [--db sqlite,postgres]
     [--database-url postgres://...] [--requests 40]

For each database a fresh child process migrates an empty database and loads ``--rows``
call records of one organization spread over a year (plus 10,000 of a second one), in
one transaction: ``executemany`` on SQLite, ``COPY`` on PostgreSQL, with the calls-page
indexes dropped during the load and built afterwards, then ``ANALYZE``. Then, through
the real view (Django test client, template rendered, tenant resolved):

* p50/p95 of the first page and of filtered pages (result, campaign, agent, direction +
  result, a number, the last 7 days, extension) and of a page 2,000 pages deep (keyset);
* the same query plans (``EXPLAIN`` / ``EXPLAIN QUERY PLAN``) for each;
* **baseline, same run**: the deep page with ``OFFSET`` (what a numbered pager does), and
  the filtered page by result with its index dropped (the table as it was, indexed on
  ``(organization, started_at)`` only);
* the export of 100,000 filtered rows (one campaign) as CSV and XLSX, consumed the way
  uvicorn does (``async for`` over the response): rows/s, Python peak (tracemalloc) and
  RSS growth; **baseline**: the same CSV through Django's plain ``StreamingHttpResponse``,
  which under ASGI builds the whole body in memory first.

PostgreSQL is started by scripts/services.sh in a private state dir unless
``--database-url`` (or ``DATABASE_URL``) is given.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")

EXPORT_ROWS = 100_000
AGENTS = 60
CAMPAIGNS = 20


def child(rows: int, requests: int) -> dict:  # noqa: C901 - one straight script
    import asyncio
    import random
    import resource
    import statistics
    import tracemalloc
    from datetime import UTC, datetime, timedelta

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "central.settings")
    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.http import StreamingHttpResponse
    from django.test import Client

    settings.ALLOWED_HOSTS = ["*"]
    call_command("migrate", verbosity=0)
    from central.core.models import Membership, Organization
    from central.dialer.models import Campaign
    from central.telephony import export as call_export
    from central.telephony.calls import CallFilters, filtered
    from central.telephony.models import AsteriskServer, CallRecord

    vendor = connection.vendor
    org = Organization.objects.create(name="Bench", slug="bench", timezone="America/Sao_Paulo")
    other = Organization.objects.create(name="Outra", slug="outra")
    servers = {o.pk: AsteriskServer.objects.create(organization=o, name="pbx", host="127.0.0.1", username="c",
                                                   secret_env="CENTRAL_TENANT_SECRET_X").pk for o in (org, other)}
    campaigns = [Campaign.objects.create(organization=org, name=f"Campanha {i}", queue="vendas")
                 for i in range(CAMPAIGNS)]
    user = get_user_model().objects.create_user("bench", "b@example.com", "senha-forte-123")
    Membership.objects.create(user=user, organization=org, role="owner")

    # --- load ------------------------------------------------------------------------------
    table = CallRecord._meta.db_table
    columns = ["organization_id", "server_id", "linkedid", "direction", "from_number", "to_number", "campaign_id",
               "attempt_id", "queue", "agent", "agent_interface", "started_at", "ring_at", "answered_at", "ended_at",
               "disposition", "hangup_cause", "hangup_cause_text", "duration", "billsec", "queue_wait", "hangup_by",
               "legs", "created_at"]
    rnd = random.Random(12)
    end = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    span = 365 * 86_400
    results = ["answered"] * 45 + ["no_answer"] * 25 + ["busy"] * 15 + ["congestion"] * 5 + ["failed"] * 5 + \
        ["abandoned"] * 5
    causes = {"answered": (16, "Normal Clearing"), "no_answer": (19, "User alerting, no answer"),
              "busy": (17, "User busy"), "congestion": (34, "Circuit/channel congestion"),
              "failed": (1, "Unallocated (unassigned) number"), "abandoned": (16, "Normal Clearing")}
    export_campaign = str(campaigns[0].pk)
    other_campaigns = [str(c.pk) for c in campaigns[1:]]

    def make(org_id: int, n: int, prefix: str):
        for i in range(n):
            # ascending time (the order calls arrive in); whole seconds, so calls share timestamps
            started = end - timedelta(seconds=span - (i * span) // n)
            disposition = results[rnd.randrange(100)]
            cause, cause_text = causes[disposition]
            answered = started + timedelta(seconds=8) if disposition == "answered" else None
            talk = rnd.randrange(20, 600) if answered else 0
            direction = "outbound" if rnd.random() < 0.7 else ("inbound" if rnd.random() < 0.85 else "internal")
            campaign = ""
            if direction == "outbound":
                # every 20th outbound call is the export's campaign (~100,000 of 2,000,000 rows)
                campaign = export_campaign if i % 14 == 0 else rnd.choice(other_campaigns)
            agent = rnd.randrange(AGENTS) if answered else None
            number = f"55{rnd.randrange(11, 99)}9{rnd.randrange(10**7, 10**8)}"
            yield (org_id, servers[org_id], f"{prefix}{i}", direction,
                   "1100" if direction == "outbound" else number, number if direction == "outbound" else
                   str(1001 + rnd.randrange(40)), campaign, f"att-{prefix}{i}" if campaign else "",
                   "vendas" if answered else "", f"Agente {agent}" if agent is not None else "",
                   f"PJSIP/{2000 + agent}" if agent is not None else "", started, started + timedelta(seconds=1),
                   answered, (answered or started) + timedelta(seconds=talk + 5), disposition, cause, cause_text,
                   talk + 13, talk, rnd.randrange(0, 60) if answered else None,
                   rnd.choice(("agent", "customer")) if answered else "", "[]", end)

    t0 = time.perf_counter()
    with connection.schema_editor() as editor:
        for index in CallRecord._meta.indexes:
            editor.remove_index(CallRecord, index)
    with transaction.atomic():
        if vendor == "postgresql":
            with connection.cursor() as cur:
                raw = cur.cursor
                with raw.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for org_id, n, prefix in ((org.pk, rows, "b"), (other.pk, 10_000, "o")):
                        for row in make(org_id, n, prefix):
                            copy.write_row(row)
        else:
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
            with connection.cursor() as cur:
                for org_id, n, prefix in ((org.pk, rows, "b"), (other.pk, 10_000, "o")):
                    batch = []
                    for row in make(org_id, n, prefix):
                        batch.append([v.isoformat(sep=" ").replace("+00:00", "") if isinstance(v, datetime) else v
                                      for v in row])
                        if len(batch) == 50_000:
                            cur.executemany(sql, batch)
                            batch = []
                    cur.executemany(sql, batch)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    with connection.schema_editor() as editor:
        for index in CallRecord._meta.indexes:
            editor.add_index(CallRecord, index)
    with connection.cursor() as cur:
        cur.execute(f"ANALYZE {table}" if vendor == "postgresql" else "ANALYZE")
    index_s = time.perf_counter() - t0
    total = CallRecord.objects.filter(organization=org).count()

    # --- pages -----------------------------------------------------------------------------
    client = Client()
    client.force_login(user)
    agent = "PJSIP/2007"
    busy_number = CallRecord.objects.filter(organization=org, direction="outbound").order_by("-id") \
        .values_list("to_number", flat=True).first()
    since = (end - timedelta(days=7)).date().isoformat()
    cases = {
        "first page": {},
        "result=busy": {"result": "busy"},
        "campaign": {"campaign": str(campaigns[3].pk)},
        "agent": {"agent": agent},
        "direction+result": {"direction": "inbound", "result": "abandoned"},
        "number": {"number": "+" + busy_number},
        "last 7 days": {"since": since},
        "extension": {"extension": "2007"},
    }

    def timed(params: dict, n: int) -> list[tuple[float, float]]:
        """(wall ms, this process's CPU ms) per request through the view."""
        out = []
        for _ in range(n):
            t, c = time.perf_counter(), time.process_time()
            response = client.get("/telephony/calls/", params)
            out.append(((time.perf_counter() - t) * 1000, (time.process_time() - c) * 1000))
            assert response.status_code == 200, response.status_code
        return out

    def query_only(qs, n: int) -> list[tuple[float, float]]:
        out = []
        for _ in range(n):
            t, c = time.perf_counter(), time.process_time()
            list(qs.all())  # a fresh queryset each time (a evaluated one caches its rows)
            out.append(((time.perf_counter() - t) * 1000, (time.process_time() - c) * 1000))
        return out

    def p95(values: list[float]) -> float:
        values = sorted(values)
        return values[max(0, -(-len(values) * 95 // 100) - 1)]

    def summary(samples: list[tuple[float, float]]) -> dict:
        wall, cpu = [w for w, _ in samples], [c for _, c in samples]
        return {"p50": statistics.median(wall), "p95": p95(wall), "cpu_p95": p95(cpu), "n": len(samples)}

    def plan(qs) -> str:
        sql, params = qs.query.sql_with_params()
        with connection.cursor() as cur:
            if vendor == "postgresql":
                cur.execute("EXPLAIN (ANALYZE, BUFFERS OFF, TIMING OFF, SUMMARY ON) " + sql, params)
            else:
                cur.execute("EXPLAIN QUERY PLAN " + sql, params)
            return "\n".join(" | ".join(str(c) for c in row[-1:]) for row in cur.fetchall())

    from zoneinfo import ZoneInfo

    from django.utils.timezone import activate

    zone = ZoneInfo("America/Sao_Paulo")
    activate(zone)
    timed({}, 3)  # warm caches and templates
    pages, plans = {}, {}
    for name, params in cases.items():
        pages[name] = summary(timed(params, requests))
        f, _errors = CallFilters.from_query(params)
        plans[name] = plan(filtered(org.pk, f, zone).order_by("-started_at", "-id")[:51])
    # a page 2,000 pages deep: keyset (the page's own link) against OFFSET (baseline)
    deep = CallRecord.objects.filter(organization=org).order_by("-started_at", "-id")[100_000 - 1]
    from central.telephony.calls import Cursor

    cursor = Cursor.of(deep).encode()
    pages["deep page (keyset)"] = summary(timed({"before": cursor}, requests))
    base_qs = CallRecord.objects.filter(organization=org).order_by("-started_at", "-id")
    keyset_qs = base_qs.filter(started_at__lte=deep.started_at).exclude(started_at=deep.started_at, id__gte=deep.pk)
    quick = max(5, requests // 4)
    pages["deep page (keyset), query only"] = summary(query_only(keyset_qs[:51], quick))
    baseline = {"deep page (OFFSET 100000), query only": summary(query_only(base_qs[100_000:100_051], quick))}
    plans["deep page (keyset)"] = plan(keyset_qs[:51])
    plans["deep page (OFFSET)"] = plan(base_qs[100_000:100_050])
    # filters without their index: the table as it was before this change (indexed on
    # (organization, started_at) only). A common value (busy, 15 % of calls) is found by
    # walking the time index; a rare one (one agent of 60) has to skip thousands of rows.
    for label, index_name, params in (("result=busy", "callrecord_org_result", {"result": "busy"}),
                                      ("agent", "callrecord_org_agent", {"agent": agent})):
        index = next(i for i in CallRecord._meta.indexes if i.name == index_name)
        with connection.schema_editor() as editor:
            editor.remove_index(CallRecord, index)
        baseline[f"{label} without its index"] = summary(timed(params, max(5, requests // 4)))
        f, _errors = CallFilters.from_query(params)
        plans[f"{label} without its index"] = plan(filtered(org.pk, f, zone).order_by("-started_at", "-id")[:51])
        with connection.schema_editor() as editor:
            editor.add_index(CallRecord, index)

    # --- export ----------------------------------------------------------------------------
    export_filter = {"campaign": export_campaign}
    export_rows = CallRecord.objects.filter(organization=org, campaign_id=export_campaign).count()

    async def consume(response) -> tuple[int, int]:
        size = chunks = 0
        async for chunk in response:
            size += len(chunk)
            chunks += 1
        return size, chunks

    def measure(fmt: str, plain: bool = False, trace: bool = False) -> dict:
        if trace:
            tracemalloc.start()
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t = time.perf_counter()
        if plain:  # baseline: what the dialer's export and Django give under ASGI
            f, _errors = CallFilters.from_query(export_filter)
            body = call_export.stream(fmt, filtered(org.pk, f, zone), org.pk, zone)
            response = StreamingHttpResponse(body)
        else:
            response = client.get(f"/telephony/calls/export.{fmt}", export_filter)
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            size, chunks = asyncio.run(consume(response))
        elapsed = time.perf_counter() - t
        peak = tracemalloc.get_traced_memory()[1] if trace else 0
        if trace:
            tracemalloc.stop()
        return {"rows": export_rows, "seconds": elapsed, "rows_s": export_rows / elapsed, "bytes": size,
                "chunks": chunks, "py_peak": peak,
                "rss_growth_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0}

    # rows/s from a plain run; the Python peak from a second run under tracemalloc (which
    # slows allocation-heavy code about twofold)
    exports = {}
    for fmt in ("csv", "xlsx"):
        exports[fmt] = measure(fmt)
        exports[fmt]["py_peak"] = measure(fmt, trace=True)["py_peak"]
    plain = measure("csv", plain=True, trace=True)
    baseline["csv, plain StreamingHttpResponse under ASGI"] = plain
    return {"vendor": vendor, "rows": total, "load_s": load_s, "index_s": index_s, "pages": pages,
            "baseline": baseline, "plans": plans, "exports": exports}


def start_postgres(state: str) -> str:
    env = {**os.environ, "CENTRAL_SERVICES_DIR": state}
    envfile = subprocess.run(["bash", str(ROOT / "scripts/services.sh"), "start"], env=env,
                             capture_output=True, text=True, check=True).stdout.strip()
    for line in Path(envfile).read_text().splitlines():
        if "CENTRAL_TEST_DATABASE_URL=" in line:
            return line.split("=", 1)[1].strip().strip("'\"").removeprefix("export ")
    raise SystemExit("no database url from scripts/services.sh")


def report(r: dict) -> None:
    db = r["vendor"]
    print(f"\n== {db}: {r['rows']:,} call records (load {r['load_s']:.0f} s, indexes + ANALYZE {r['index_s']:.0f} s)")
    print(f"{'page (through the view)':<44} {'p50 ms':>8} {'p95 ms':>8} {'cpu p95':>8}")
    for name, s in r["pages"].items():
        print(f"{name:<44} {s['p50']:>8.1f} {s['p95']:>8.1f} {s['cpu_p95']:>8.1f}")
    print("baseline, same run:")
    for name, s in r["baseline"].items():
        if "p95" in s:
            print(f"  {name:<42} {s['p50']:>8.1f} {s['p95']:>8.1f} {s['cpu_p95']:>8.1f}")
    print(f"{'export (async for, as uvicorn)':<44} {'rows':>8} {'rows/s':>8} {'MB':>6} {'py peak':>9} {'RSS +':>8}"
          "  (rows/s of the baseline is under tracemalloc)")
    rows = [*r["exports"].items()] + [(k, v) for k, v in r["baseline"].items() if "rows_s" in v]
    for name, e in rows:
        print(f"{name:<44} {e['rows']:>8,} {e['rows_s']:>8,.0f} {e['bytes'] / 1e6:>6.1f} "
              f"{e['py_peak'] / 1e6:>7.1f}MB {e['rss_growth_kb'] / 1024:>6.0f}MB")
    print("query plans:")
    for name, text in r["plans"].items():
        print(f"  [{name}]")
        for line in text.splitlines():
            print(f"     {line}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print("RESULT " + json.dumps(child(int(sys.argv[2]), int(sys.argv[3]))))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--requests", type=int, default=40, help="requests per page kind")
    ap.add_argument("--db", default="sqlite,postgres")
    ap.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-calls-"))
    pg_state = None
    for db in args.db.split(","):
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env["PYTHONPATH"] = str(ROOT / "src")
        env["CENTRAL_DATA_DIR"] = str(tmp / f"data-{db}")
        if db == "postgres":
            url = args.database_url
            if not url:
                pg_state = f"/tmp/central-bench-calls-services-{os.getpid()}"
                url = start_postgres(pg_state)
            env["DATABASE_URL"] = url
            subprocess.run([PYTHON, "-c", "import os,django;os.environ.setdefault('DJANGO_SETTINGS_MODULE',"
                            "'central.settings');django.setup();from django.db import connection;"
                            "connection.cursor().execute('DROP SCHEMA public CASCADE; CREATE SCHEMA public')"],
                           env=env, check=True, cwd=ROOT)
        t0 = time.perf_counter()
        out = subprocess.run([PYTHON, str(Path(__file__).resolve()), "--child", str(args.rows), str(args.requests)],
                             env=env, capture_output=True, text=True, cwd=ROOT)
        if out.returncode != 0:
            raise SystemExit(f"{db} child failed:\n{out.stderr[-4000:]}")
        line = next(x for x in out.stdout.splitlines() if x.startswith("RESULT "))
        report(json.loads(line[7:]))
        print(f"({db} run {time.perf_counter() - t0:.0f} s)")
    if pg_state:
        subprocess.run(["bash", str(ROOT / "scripts/services.sh"), "stop"],
                       env={**os.environ, "CENTRAL_SERVICES_DIR": pg_state}, check=False)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (the machine is shared: wall times "
          "include waiting for a CPU)")


if __name__ == "__main__":
    main()
