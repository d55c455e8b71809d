"""Metrics of a running Central, one endpoint per process, scraped by Debian's Prometheus
(issue 16, "Monitoring").

The module starts the production process set once, each as its own process on free
ports, against a PBX simulator standing in for Asterisk: two ``central web``, ``central
pbx``, ``central dialer``, ``central voice``, the embedded ``central up`` and, when the
run has Redis (the PostgreSQL pass), ``central worker`` and ``central beat`` (Celery needs
a broker; the SQLite pass has none, so those two jobs are left out of its Prometheus
configuration, and every process uses Redis then, as in production). Then:

* every process answers /metrics only with the token, and the per-process endpoints
  listen on loopback;
* each web process counts its own requests (the "sums went 48, 51, 49, 52" of the issue
  came from scraping through nginx);
* the dialer and the PBX link expose their metrics (the issue found them absent);
* every metric name a Grafana panel or an alert rule uses is in some process's /metrics,
  except the names listed in ``central.core.metrics.PENDING_METRICS``;
* Prometheus, with deploy/prometheus/prometheus.yml (ports and token file rewritten, a
  1 s interval), scrapes every target as up, loads the rules, and a query for a domain
  metric returns data.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import yaml

from central.core.metrics import PENDING_METRICS
from tests.ops.monitoring import (
    NEEDS_REDIS,
    NOT_FROM_CENTRAL,
    RULES,
    config_for_test,
    exposed_names,
    names_used,
)
from tests.support import (
    CENTRAL,
    free_port,
    migrated_env,
    run_central,
    start_simulate_pbx,
    stop_process,
)

SEED = """
from central.core.models import Organization
from central.dialer.models import Campaign, Contact
org = Organization.objects.create(name="Loja", slug="loja")
days = {d: [["00:00", "23:59"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
c = Campaign.objects.create(organization=org, name="Vendas", status="active", queue="sales",
    dial_context="discador-out", pacing_mode="ratio", dial_ratio=1.0, working_hours=days,
    respect_holidays=False, max_channels=2, max_cps=1, ring_timeout_s=5, max_abandon_rate=0.03)
Contact.objects.bulk_create([Contact(organization=org, campaign=c, phone=f"+5511966{i:06d}") for i in range(20)])
# A finished backup and restore test, as the scheduled jobs record them (core.backups).
from django.utils import timezone
from central.core.models import BackupRun
BackupRun.objects.create(kind="backup", slot="d1", finished_at=timezone.now(), ok=True, size=4096)
BackupRun.objects.create(kind="restore_test", slot="w1", finished_at=timezone.now(), ok=True)
print(c.id)
"""


@dataclass
class Layout:
    token: str
    env: dict[str, str]
    campaign_id: int
    #: Prometheus job -> metrics URLs (http://127.0.0.1:port) of the processes started
    targets: dict[str, list[str]] = field(default_factory=dict)
    procs: list[subprocess.Popen] = field(default_factory=list)
    logs: dict[str, Path] = field(default_factory=dict)

    def get(self, url: str, token: str | None = None) -> httpx.Response:
        token = self.token if token is None else token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.get(url, headers=headers, timeout=10)

    def scrape(self, base: str) -> str:
        res = self.get(f"{base}/metrics")
        assert res.status_code == 200, (base, res.status_code, res.text[:200])
        return res.text

    def all_logs(self) -> str:
        return "\n".join(f"--- {name}\n{path.read_text(errors='replace')[-3000:]}"
                         for name, path in self.logs.items())


def _start(layout: Layout, name: str, args: list[str], env: dict[str, str], cwd: Path) -> None:
    log = cwd / f"{name}.log"
    layout.logs[name] = log
    with open(log, "w") as out:
        layout.procs.append(subprocess.Popen([CENTRAL, *args], env=env, cwd=cwd, stdout=out,
                                             stderr=subprocess.STDOUT))


def _wait_metrics(layout: Layout, base: str, ready, what: str, timeout: float = 90.0) -> str:
    """Scrape ``base`` until ``ready(text)``: the process is up and has done what we wait
    for (logged in to the AMI...). The deadline is a safety net only."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        for proc in layout.procs:
            assert proc.poll() is None, f"a process exited ({proc.args}):\n{layout.all_logs()}"
        try:
            res = layout.get(f"{base}/metrics")
            if res.status_code == 200:
                text = res.text
                if ready(text):
                    return text
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{what} not seen at {base} in {timeout}s:\n{text[-2000:]}\n{layout.all_logs()}")


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("monitoring")
    token = secrets.token_urlsafe(24)
    sim_port = free_port()
    ami_secret = secrets.token_urlsafe(12)  # made up per run: the simulator's AMI account
    env = migrated_env(tmp / "data", CENTRAL_METRICS_TOKEN=token, CENTRAL_AMI_URL=f"ami://central@127.0.0.1:{sim_port}",
                       CENTRAL_AMI_SECRET=ami_secret, CENTRAL_SIM_AMI_USERS=f"central:{ami_secret}",
                       CENTRAL_VOICE_TOKEN=secrets.token_urlsafe(16))
    env.pop("CENTRAL_METRICS_OPEN", None)
    env.pop("CENTRAL_METRICS_HOST", None)
    redis_url = os.environ.get("REDIS_URL", "")
    if redis_url:  # the PostgreSQL + Redis pass: every process on Redis, as in production
        env["REDIS_URL"] = redis_url
    seeded = run_central(["manage", "shell", "-c", SEED], env)
    assert seeded.returncode == 0, seeded.stderr
    layout = Layout(token, env, int(seeded.stdout.split()[-1]))
    sim = start_simulate_pbx(sim_port, env, tmp / "sim.log", "--agents", "3", "--background-calls", "0",
                             "--churn", "0")
    layout.procs.append(sim)
    try:
        ports = {name: free_port() for name in ("web1", "web2", "pbx", "dialer", "voice", "voice_api",
                                                 "worker", "beat", "up")}
        for web in ("web1", "web2"):
            _start(layout, web, ["web", "--port", str(ports[web])], env, tmp)
            layout.targets.setdefault("central-web", []).append(f"http://127.0.0.1:{ports[web]}")
        _start(layout, "pbx", ["pbx", "--metrics-port", str(ports["pbx"])], env, tmp)
        _start(layout, "dialer", ["dialer", "--ami", env["CENTRAL_AMI_URL"], "--metrics-port", str(ports["dialer"])],
               env, tmp)
        _start(layout, "voice", ["voice", "--api-port", str(ports["voice_api"]), "--metrics-port",
                                 str(ports["voice"])], env, tmp)
        for kind in ("pbx", "dialer", "voice"):
            layout.targets[f"central-{kind}"] = [f"http://127.0.0.1:{ports[kind]}"]
        # `central dialer` takes the campaign's lease before `central up` (whose dialer
        # would otherwise compete for it): its endpoint then has the campaign's gauges.
        _wait_metrics(layout, layout.targets["central-dialer"][0],
                      lambda text: f'central_dialer_abandon_cap{{campaign="{layout.campaign_id}"}} 0.03' in text,
                      "the campaign's gauges on central dialer (lease taken)")
        # The embedded default too: every component in one process, one endpoint. No demo
        # traffic (it would only load the machine); its PBX link and dialer use the same
        # simulator (CENTRAL_AMI_URL), its voice listeners move to free ports.
        _start(layout, "up", ["up", "--port", str(ports["up"])],
               {**env, "CENTRAL_DEMO_CALLS": "0", "CENTRAL_DEMO_VISITS": "0"}, tmp)
        layout.targets["central-up"] = [f"http://127.0.0.1:{ports['up']}"]
        if redis_url:  # Celery needs a broker: the PostgreSQL + Redis pass has one
            _start(layout, "worker", ["worker", "--concurrency", "1", "--metrics-port", str(ports["worker"])],
                   env, tmp)
            _start(layout, "beat", ["beat", "--metrics-port", str(ports["beat"])], env, tmp)
            for kind in ("worker", "beat"):
                layout.targets[f"central-{kind}"] = [f"http://127.0.0.1:{ports[kind]}"]
        # Ready when each process serves its metrics and the AMI links are logged in.
        checks = {
            "central-pbx": ("central_telephony_connected", "the PBX link's AMI login"),
            "central-dialer": ("central_dialer_ami_connected", "the dialer's AMI login"),
        }
        for job, urls in layout.targets.items():
            name, what = checks.get(job, ("central_process_info", f"{job} metrics"))
            for url in urls:
                _wait_metrics(layout, url, lambda text, name=name: _logged_in(text, name), what)
        yield layout
    finally:
        for proc in layout.procs:  # all at once: each takes a moment to shut down
            if proc.poll() is None:
                proc.terminate()
        for proc in reversed(layout.procs):
            stop_process(proc)


def _logged_in(text: str, name: str) -> bool:
    """Some sample of ``name`` (whatever its labels) is 1."""
    return any(line.startswith(name + "{") and line.endswith(" 1.0") for line in text.splitlines())


def test_every_process_answers_metrics_only_with_the_token(layout):
    for job, urls in layout.targets.items():
        for url in urls:
            assert layout.get(f"{url}/metrics", token="").status_code in (401, 403), job
            assert layout.get(f"{url}/metrics", token="wrong-" + layout.token).status_code == 401, job
            assert layout.get(f"{url}/metrics").status_code == 200, job
            kind = job.removeprefix("central-")
            assert f'central_process_info{{kind="{kind}",' in layout.scrape(url), job


def _listening_addresses(port: int) -> set[str]:
    """Local addresses of the sockets listening on ``port`` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


def test_per_process_endpoints_listen_on_loopback_by_default(layout):
    for job in ("central-pbx", "central-dialer", "central-voice"):
        port = int(layout.targets[job][0].rsplit(":", 1)[1])
        assert _listening_addresses(port) == {"0100007F"}, job  # 127.0.0.1, nothing else


def _requests(text: str, route_part: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith("central_http_requests_total{") and route_part in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_each_web_process_counts_its_own_requests(layout):
    """Before: one /metrics behind nginx answered from whichever web process nginx chose,
    so the same counter read 48, 51, 49, 52. Each process is a target of its own now:
    requests sent to one show on that one only, and the sum over both is the total."""
    web1, web2 = layout.targets["central-web"]
    route = 'route="/health"'
    before = (_requests(layout.scrape(web1), route), _requests(layout.scrape(web2), route))
    for _ in range(7):
        assert httpx.get(f"{web1}/health", timeout=10).status_code == 200
    for _ in range(3):
        assert httpx.get(f"{web2}/health", timeout=10).status_code == 200
    after = (_requests(layout.scrape(web1), route), _requests(layout.scrape(web2), route))
    assert (after[0] - before[0], after[1] - before[1]) == (7, 3), (before, after)


def test_dialer_and_pbx_link_expose_their_metrics(layout):
    """Before: ``central dialer`` and ``central pbx`` served no endpoint, so the metrics
    docs/dialer-engine.md and docs/telephony.md list could not be scraped."""
    pbx = layout.scrape(layout.targets["central-pbx"][0])
    for name in ("central_telephony_events_total", "central_telephony_connected", "central_telephony_live_calls",
                 "central_ami_reconnects_total"):
        assert f"\n{name}{{" in pbx, name
    # The campaign's gauges are on the dialer holding its lease (central dialer took it
    # first, see the fixture) and on no other: a lease that moved takes them along.
    cap = f'central_dialer_abandon_cap{{campaign="{layout.campaign_id}"}} 0.03'
    texts = {job: layout.scrape(layout.targets[job][0]) for job in ("central-dialer", "central-up")}
    holders = [job for job, text in texts.items() if cap in text]
    assert len(holders) == 1, holders
    for name in ("central_dialer_dial_level", "central_dialer_agents", "central_dialer_calls_in_progress",
                 "central_dialer_abandon_rate", "central_dialer_answered"):
        assert f"\n{name}{{campaign=\"{layout.campaign_id}\"" in texts[holders[0]], name
    assert _logged_in(texts["central-dialer"], "central_dialer_ami_connected")
    assert "# TYPE central_dialer_originates_total counter" in texts["central-dialer"]
    voice = layout.scrape(layout.targets["central-voice"][0])
    assert "# TYPE central_voice_turn_latency_seconds histogram" in voice
    web = layout.scrape(layout.targets["central-web"][0])
    assert 'central_process_heartbeat_age_seconds{host=' in web and 'kind="dialer"' in web
    assert "central_backup_last_size_bytes 4096.0" in web
    assert 'central_backup_last_run_ok{kind="restore_test"} 1.0' in web


def test_every_metric_a_dashboard_or_rule_uses_is_served(layout):
    """Dashboards and rules cannot rot silently: each name they query must be in some
    process's /metrics. Names of capabilities not on main yet are listed in one place,
    ``PENDING_METRICS``; one of them showing up is reported so the list gets trimmed."""
    exposed: set[str] = set()
    for urls in layout.targets.values():
        for url in urls:
            exposed |= exposed_names(layout.scrape(url))
    used = names_used()
    optional = NOT_FROM_CENTRAL | set(PENDING_METRICS) | (set() if "REDIS_URL" in layout.env else NEEDS_REDIS)
    missing = {name: sorted(where)[:3] for name, where in used.items() if name not in exposed | optional}
    assert not missing, missing
    arrived = sorted(name for name in PENDING_METRICS if name in exposed)
    if arrived:
        warnings.warn(f"served now, remove from PENDING_METRICS: {arrived}", stacklevel=1)
    assert len(used) > 50  # the check looked at the real files


PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"


def test_prometheus_scrapes_every_process_and_answers_a_domain_query(layout, tmp_path):
    token_file = tmp_path / "central-metrics-token"
    token_file.write_text(layout.token)
    prom_port = free_port()
    targets = {job: [u.removeprefix("http://") for u in urls] for job, urls in layout.targets.items()}
    targets["prometheus"] = [f"127.0.0.1:{prom_port}"]
    config = config_for_test(targets, token_file)
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    shutil.copy(RULES, tmp_path / RULES.name)
    log = tmp_path / "prometheus.log"
    started = time.monotonic()
    with open(log, "w") as out:
        prom = subprocess.Popen([PROMETHEUS, f"--config.file={tmp_path / 'prometheus.yml'}",
                                 f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                                 f"--web.listen-address=127.0.0.1:{prom_port}"],
                                stdout=out, stderr=subprocess.STDOUT)
    api = f"http://127.0.0.1:{prom_port}/api/v1"
    try:
        expected = sum(len(urls) for urls in targets.values())
        health: dict = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # until every target had a successful scrape
            assert prom.poll() is None, log.read_text()
            try:
                active = httpx.get(f"{api}/targets", timeout=5).json()["data"]["activeTargets"]
            except (httpx.HTTPError, ValueError, KeyError):
                active = []
            health = {(t["labels"]["job"], t["labels"]["instance"]): (t["health"], t["lastError"]) for t in active}
            if len(health) == expected and all(h == "up" for h, _ in health.values()):
                break
            time.sleep(0.2)
        assert len(health) == expected and all(h == "up" for h, _ in health.values()), (health, log.read_text())
        assert {job for job, _ in health} == set(targets)

        def query(expr: str) -> list:
            res = httpx.get(f"{api}/query", params={"query": expr}, timeout=5).json()
            assert res["status"] == "success", res
            return res["data"]["result"]

        links = query("central_telephony_connected == 1")
        assert sorted(r["metric"]["job"] for r in links) == ["central-pbx", "central-up"], links
        dialer = query("central_dialer_ami_connected")
        assert sorted((r["metric"]["job"], r["value"][1]) for r in dialer) == [
            ("central-dialer", "1"), ("central-up", "1")], dialer
        processes = query("sum by (job) (central_process_info)")
        assert {r["metric"]["job"]: r["value"][1] for r in processes} == {
            job: str(len(urls)) for job, urls in layout.targets.items()}, processes
        rules = httpx.get(f"{api}/rules", timeout=5).json()["data"]["groups"]
        assert sum(len(g["rules"]) for g in rules) == 20
        assert all(r["health"] in ("ok", "unknown") for g in rules for r in g["rules"]), rules
        elapsed = time.monotonic() - started
        assert elapsed < 30, elapsed
    finally:
        stop_process(prom)
