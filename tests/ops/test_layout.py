"""The production layout, from the files in deploy/ and the README's commands (issue 16).

One module starts what the README's "Production deployment" installs on one machine, with
no systemd (CI has none): its own PostgreSQL and Redis (this module stops and restarts
them; the suite's shared servers are never touched), the README's `central --env-file …`
commands (migrate, collectstatic, init, diagnose) run as documented, then every unit of
deploy/systemd/ the way systemd runs it (its ExecStart with the instance filled in, the
variables of its EnvironmentFile read with systemd's rules and nothing else, its
WorkingDirectory): two web processes, worker, beat, PBX link, two dialers, voice; the PBX
simulator stands in for Asterisk; Debian's nginx runs deploy/nginx/central.conf in front.

Then, end to end through nginx: sign in and the dashboard, a WebSocket, the API, an import
through the worker, beat firing a periodic job, the dialer originating through the
simulator; Redis stopped and started and PostgreSQL restarted and stopped with no 500 and
no lost data. Paths, ports and secrets are the only values that differ from production.

It starts its own servers, so it runs once (in the SQLite pass, marked backend_free: it
touches neither the suite's database nor the suite's Redis).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shlex
import ssl
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from central.core.envfile import parse as parse_env
from tests.ops.nginx import Nginx, render
from tests.ops.services import Postgres, Redis, shared_tmp
from tests.support import CENTRAL, ROOT, free_port

pytestmark = pytest.mark.backend_free

UNITS = ROOT / "deploy" / "systemd"
PROD_BIN = "/opt/central/.venv/bin/central"
PROD_ENV = "/etc/central/central.env"
#: (unit file, instances) the README enables.
RUN = [("central-web@.service", ["WEB1", "WEB2"]), ("central-worker.service", [""]),
       ("central-beat.service", [""]), ("central-pbx.service", [""]),
       ("central-dialer@.service", ["1", "2"]), ("central-voice.service", [""])]
EXPECTED_HEARTBEATS = {"web": 2, "worker": 1, "beat": 1, "pbx": 1, "dialer": 2, "voice": 1}
PHONES = ["+5511955550001", "+5511955550002", "+5511955550003"]

SEED = """
from central.core.models import Organization
from central.dialer.models import Campaign, Contact
org = Organization.objects.get()
days = {d: [["00:00", "23:59"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
c = Campaign.objects.create(organization=org, name="Layout", status="active", queue="sales",
    dial_context="discador-out", pacing_mode="progressive", working_hours=days,
    respect_holidays=False, max_channels=3, max_cps=10, ring_timeout_s=20, abandon_after_s=30)
Contact.objects.bulk_create([Contact(organization=org, campaign=c, phone=p) for p in PHONES])
# Beat restarted after downtime: documents-maintenance (every 300 s) last ran an hour ago,
# so beat sends it as soon as it starts (its schedule file keeps the last run).
import datetime
from celery.beat import PersistentScheduler
from django.conf import settings
from central.celery import app
app.finalize()
s = PersistentScheduler(app=app, schedule_filename=str(settings.DATA_DIR / "celerybeat-schedule"), lazy=False)
s.schedule["documents-maintenance"] = s.schedule["documents-maintenance"]._next_instance(
    last_run_at=app.now() - datetime.timedelta(hours=1))
s.sync()
s.close()
print("seeded", c.pk)
"""


def unit_environment(name: str, instance: str) -> dict[str, str]:
    """The unit's own ``Environment=`` assignments (the EnvironmentFile overrides them)."""
    text = (UNITS / name).read_text().replace("%i", instance)
    pairs = {}
    for value in re.findall(r"^Environment=(.+)$", text, flags=re.M):
        for assignment in shlex.split(value):
            key, _, val = assignment.partition("=")
            pairs[key] = val
    return pairs


def unit(name: str, instance: str) -> tuple[list[str], str, str]:
    """ExecStart (argv), EnvironmentFile and WorkingDirectory of a unit, as systemd reads them."""
    text = (UNITS / name).read_text()

    def one(key: str) -> str:
        found = re.findall(rf"^{key}=(.+)$", text, flags=re.M)
        assert len(found) == 1, f"{name}: {key}= {found}"
        return found[0].strip()

    assert one("User") == "central" and one("Group") == "central", name
    argv = shlex.split(one("ExecStart").replace("%i", instance))
    assert argv[0] == PROD_BIN, argv
    return [CENTRAL, *argv[1:]], one("EnvironmentFile"), one("WorkingDirectory")


def readme_commands() -> list[list[str]]:
    """The README's `central --env-file …` commands of the production section, in order."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Production deployment", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    prefix = f"sudo -u central {PROD_BIN} --env-file {PROD_ENV} "
    commands = [shlex.split(line[len(prefix):]) for line in block.splitlines() if line.startswith(prefix)]
    assert [c[0] for c in commands] == ["migrate", "manage", "init", "diagnose"], commands
    return commands


@dataclass
class Layout:
    base: Path
    pg: Postgres
    redis: Redis
    nginx: Nginx
    env_file: Path
    env: dict[str, str]
    web_ports: list[int]
    credentials: tuple[str, str] = ("", "")
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    outputs: dict[str, subprocess.CompletedProcess] = field(default_factory=dict)

    def log(self, name: str) -> str:
        return (self.base / "logs" / f"{name}.log").read_text(errors="replace")

    def sql(self, query: str) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.pg.url, autocommit=True, connect_timeout=5) as conn:
            return list(conn.execute(query).fetchall())

    def central(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
        """A `central --env-file <the site's file> …` command, as the README runs them."""
        bare = {k: v for k, v in self.env.items() if k in {"PATH", "HOME", "LANG", "PYTHONUNBUFFERED"}}
        return subprocess.run([CENTRAL, "--env-file", str(self.env_file), *args], env=bare, input=stdin,
                              capture_output=True, text=True, timeout=180, cwd=self.env["CENTRAL_DATA_DIR"])

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.nginx.url, verify=False, timeout=30, **kwargs)


def _site_env_file(base: Path, values: dict[str, str]) -> Path:
    """deploy/central.env.example with the site's values put in, as an operator edits it."""
    text = (ROOT / "deploy" / "central.env.example").read_text()
    rest = dict(values)
    lines = []
    for line in text.splitlines():
        key = line.split("=", 1)[0]
        if "=" in line and not line.lstrip().startswith(("#", ";")) and key in rest:
            line = f"{key}={rest.pop(key)}"
        lines.append(line)
    lines += ["", "# --- this site"] + [f"{k}={v}" for k, v in rest.items()]
    path = base / "etc" / "central.env"
    path.parent.mkdir()
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o640)
    return path


def _wait(predicate, what: str, timeout: float = 60.0, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(every)


def _get(url: str) -> int:
    try:
        return httpx.get(url, timeout=2).status_code
    except httpx.HTTPError:
        return 0


@pytest.fixture(scope="module")
def layout():
    started = time.monotonic()
    base = shared_tmp("central-layout-")
    (base / "logs").mkdir()
    pg, redis = Postgres(base), Redis(base)
    data = base / "var-lib-central"
    data.mkdir(mode=0o700)
    static = base / "www" / "static"
    static.mkdir(parents=True)
    (base / "www").chmod(0o755)
    web_ports = [free_port(), free_port()]
    nginx = render(base / "nginx", web_ports, static)
    sim_port, voice_port, sim_secret = free_port(), free_port(), secrets.token_urlsafe(12)
    site = {
        "SECRET_KEY": secrets.token_urlsafe(48), "DATABASE_URL": pg.url, "REDIS_URL": redis.url,
        "CENTRAL_DATA_DIR": str(data), "CENTRAL_STATIC_ROOT": str(static),
        "ALLOWED_HOSTS": "127.0.0.1,localhost", "CSRF_TRUSTED_ORIGINS": nginx.url,
        "CENTRAL_METRICS_TOKEN": secrets.token_urlsafe(24), "CENTRAL_VOICE_TOKEN": secrets.token_urlsafe(24),
        "CENTRAL_VOICE_API_URL": f"http://127.0.0.1:{voice_port}", "CENTRAL_VOICE_API_PORT": str(voice_port),
        "CENTRAL_AMI_URL": f"ami://central@127.0.0.1:{sim_port}", "CENTRAL_AMI_SECRET": sim_secret,
        "CENTRAL_LOG_FILE": str(base / "logs" / "central.log"),
        "CENTRAL_DB_POOL_TIMEOUT": "3", "CENTRAL_RATE_API": "2000/min,20000/hour",
    }
    env_file = _site_env_file(base, site)
    # What systemd gives a unit: its EnvironmentFile's variables and little else.
    env = {"PATH": os.environ["PATH"], "HOME": str(base), "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1",
           **dict(parse_env(env_file.read_text()))}
    lay = Layout(base, pg, redis, nginx, env_file, env, web_ports)

    def start(name: str, argv: list[str], proc_env: dict[str, str], cwd: Path) -> None:
        log = open(base / "logs" / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        lay.procs[name] = subprocess.Popen(argv, env=proc_env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)

    try:
        sim_env = {"PATH": env["PATH"], "HOME": str(base), "CENTRAL_DATA_DIR": str(base / "sim"),
                   "CENTRAL_SIM_AMI_USERS": f"central:{sim_secret}", "PYTHONUNBUFFERED": "1"}
        start("simulator", [CENTRAL, "simulate-pbx", "--port", str(sim_port), "--agents", "3",
                            "--background-calls", "0"], sim_env, base)
        phases = {}
        with ThreadPoolExecutor(3) as pool:
            for job in [pool.submit(pg.init), pool.submit(redis.start), pool.submit(nginx.start)]:
                job.result()
        phases["servers"] = time.monotonic() - started
        commands = readme_commands()
        t0 = time.monotonic()
        lay.outputs["migrate"] = lay.central(*commands[0])
        phases["migrate"] = time.monotonic() - t0
        t0 = time.monotonic()

        def start_units(which: set[str]) -> None:
            instances = iter(web_ports)
            for name, names in RUN:
                for instance in names:
                    if instance.startswith("WEB"):
                        instance = str(next(instances))
                    if name not in which:
                        continue
                    argv, env_path, workdir = unit(name, instance)
                    assert (env_path, workdir) == (PROD_ENV, "/var/lib/central"), name
                    label = name.split(".")[0].replace("@", f"@{instance}") if "@" in name else name.split(".")[0]
                    # Each process's metrics on a free port instead of the unit's (9811-9815,
                    # 982N: tests/ops/test_prometheus_files.py checks those): the ports are
                    # the same for every Central on the host, e.g. the other test pass's.
                    start(label, argv, {**unit_environment(name, instance), **env,
                                        "CENTRAL_METRICS_PORT": str(free_port())}, data)

        # What needs only a migrated database starts now, next to collectstatic and init
        # (systemd starts units in parallel too); the PBX link and the dialers serve the
        # organization init creates, and beat reads the schedule the seed writes.
        first = {"central-web@.service", "central-worker.service", "central-voice.service"}
        start_units(first)

        def init_then_seed() -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess | None]:
            done = lay.central(*commands[2])
            if done.returncode:
                return done, None
            return done, lay.central("manage", "shell", "-c", f"PHONES = {PHONES!r}\n" + SEED)

        with ThreadPoolExecutor(2) as pool:  # collectstatic next to init and the operator's seed
            static_job, init_job = pool.submit(lay.central, *commands[1]), pool.submit(init_then_seed)
            lay.outputs["manage"] = static_job.result()
            lay.outputs["init"], seeded = init_job.result()
        phases["collectstatic, init, seed"] = time.monotonic() - t0
        for args in commands[:3]:  # diagnose runs once everything runs
            result = lay.outputs[args[0]]
            assert result.returncode == 0, f"central {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
        init = lay.outputs["init"].stdout
        lay.credentials = (init.split("user:", 1)[1].split()[0], init.split("password:", 1)[1].split()[0])
        assert seeded is not None and seeded.returncode == 0, seeded and seeded.stderr
        start_units({name for name, _ in RUN} - first)
        t0 = time.monotonic()
        for port in web_ports:
            _wait(lambda p=port: _get(f"http://127.0.0.1:{p}/health") == 200, f"web on {port}", 90)

        def beats() -> bool:
            rows = dict(lay.sql("SELECT kind, count(*) FROM core_processheartbeat GROUP BY kind"))
            for name, proc in lay.procs.items():
                assert proc.poll() is None, f"{name} exited {proc.returncode}:\n{lay.log(name)[-3000:]}"
            return all(rows.get(k, 0) >= n for k, n in EXPECTED_HEARTBEATS.items())

        _wait(beats, "a heartbeat from every process", 90)
        phases["processes"] = time.monotonic() - t0
        lay.outputs["started_s"] = time.monotonic() - started  # type: ignore[assignment]
        lay.outputs["phases"] = phases  # type: ignore[assignment]
        yield lay
    finally:
        for proc in lay.procs.values():
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + 3  # systemd's stop timeout is longer; a test need not wait
        for proc in lay.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        nginx.stop()
        with contextlib.suppress(Exception):
            redis.stop()
        with contextlib.suppress(Exception):
            pg.stop()


def test_documented_commands_ran_and_diagnose_passes(layout):
    assert "organization Minha Empresa (minha-empresa): created" in layout.outputs["init"].stdout
    assert layout.credentials[0] == "maria"
    assert list((layout.base / "www" / "static").rglob("*.css")), "collectstatic filled CENTRAL_STATIC_ROOT"
    diagnose = layout.central("diagnose")
    assert diagnose.returncode == 0, diagnose.stdout + diagnose.stderr
    # beat keeps its schedule in the data dir (WorkingDirectory), not wherever it started
    assert list(Path(layout.env["CENTRAL_DATA_DIR"]).glob("celerybeat-schedule*"))
    phases = ", ".join(f"{k} {v:.1f} s" for k, v in layout.outputs["phases"].items())
    print(f"\nlayout started in {layout.outputs['started_s']:.1f} s ({phases})")


def _sign_in(layout, headers: dict[str, str] | None = None) -> httpx.Client:
    client = layout.client()
    page = client.get("/login/")
    assert page.status_code == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    user, password = layout.credentials
    done = client.post("/login/", data={"username": user, "password": password, "csrfmiddlewaretoken": token},
                       headers={"Referer": layout.nginx.url + "/login/", "Origin": layout.nginx.url,
                                **(headers or {})})
    assert done.status_code == 302, done.text[:500]
    return client


def _jwt(layout) -> dict[str, str]:
    user, password = layout.credentials
    with layout.client() as client:
        token = client.post("/api/v1/auth/token/", json={"username": user, "password": password})
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access']}"}


def _websocket(layout, client: httpx.Client, path: str = "/ws/live/"):
    from websockets.sync.client import connect

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    return connect(layout.nginx.url.replace("https", "wss") + path, ssl=context, origin=layout.nginx.url,
                   additional_headers={"Cookie": cookie}, open_timeout=10)


def test_sign_in_dashboard_websocket_and_api_through_nginx(layout):
    # A client that sends its own X-Forwarded-For gets nginx's view of it, not its choice.
    with contextlib.closing(_sign_in(layout, {"X-Forwarded-For": "203.0.113.7"})) as client:
        home = client.get("/")
        assert home.status_code == 200 and "Minha Empresa" in home.text  # not "No organization"
        assert home.headers["strict-transport-security"].startswith("max-age=31536000")
        cookie = client.cookies.jar
        assert all(c.secure for c in cookie), "session and CSRF cookies are Secure in production"
        with _websocket(layout, client) as ws:
            update = json.loads(ws.recv(timeout=15))
        assert isinstance(update, dict), update
    with layout.client() as api:
        me = api.get("/api/v1/me/", headers=_jwt(layout))
        assert me.status_code == 200 and me.json()["username"] == "maria", me.text
        rid = me.headers["x-request-id"]
        assert len(rid) == 32  # nginx's $request_id, kept by Central
        metrics = api.get("/metrics")
        assert metrics.status_code == 401  # CENTRAL_METRICS_TOKEN is set in the example file
    # the audit log has nginx's view of the client (127.0.0.1), not the spoofed header
    rows = layout.sql("SELECT ip FROM core_auditlog WHERE action = 'auth.login' ORDER BY id DESC LIMIT 1")
    assert rows and str(rows[0][0]) == "127.0.0.1", rows


def _import_dnc(layout, headers, phones: list[str]) -> dict:
    csv = "telefone\n" + "\n".join(phones) + "\n"
    with layout.client() as api:
        sent = api.post("/api/v1/dialer/dnc/import/", headers=headers,
                        files={"file": ("nmp.csv", csv.encode(), "text/csv")}, data={"source": "nao_me_perturbe"})
        assert sent.status_code == 202, sent.text
        job_id = sent.json()["id"]

        def finished():
            body = api.get(f"/api/v1/dialer/imports/{job_id}/", headers=headers).json()
            return body if body["status"] in ("done", "failed") else None

        return _wait(finished, f"import {job_id}", 60)


def test_worker_runs_an_import_and_beat_fires_a_periodic_job(layout):
    job = _import_dnc(layout, _jwt(layout), ["+5511977770001", "+5511977770002"])
    assert (job["status"], job["imported"]) == ("done", 2), job
    assert "central.dialer.run_import" in layout.log("central-worker")
    _wait(lambda: "periodic job documents-maintenance done" in layout.log("central-worker"),
          "documents-maintenance, sent by beat, run by the worker", 60)
    assert "Sending due task documents-maintenance" in layout.log("central-beat")


def test_dialer_originates_through_the_simulator(layout):
    rows = _wait(lambda: layout.sql("SELECT uid, dialer, state FROM dialer_attempt WHERE dialer != ''"),
                 "attempts originated by a dialer", 60)
    assert {r[0] for r in rows} and all(r[1].startswith("dialer@") for r in rows), rows
    phones = {r[0] for r in layout.sql("SELECT phone FROM dialer_attempt")}
    assert phones <= set(PHONES)


def _no_5xx_burst(layout, headers, n: int = 20) -> list[int]:
    with layout.client() as api:
        return [api.get("/api/v1/me/", headers=headers).status_code for _ in range(n)]


def test_redis_stop_and_start_degrade_without_a_500(layout):
    from websockets.exceptions import InvalidStatus

    headers = _jwt(layout)
    client = _sign_in(layout)
    layout.redis.stop()
    try:
        codes = _no_5xx_burst(layout, headers)
        assert set(codes) == {200}, codes
        with pytest.raises(InvalidStatus) as refused:
            _websocket(layout, client)
        response = refused.value.response
        assert response.status_code == 503
        assert json.loads(response.body)["error"]["code"] == "live_unavailable"
        job = _import_dnc(layout, headers, ["+5511977770003"])  # broker down: runs in the web process
        assert (job["status"], job["imported"]) == ("done", 1), job
        with layout.client() as api:
            ready = api.get("/ready")
        assert ready.status_code == 503 and ready.json()["failing"] == ["redis"], ready.text
    finally:
        layout.redis.start()
    _wait(lambda: _get(f"http://127.0.0.1:{layout.web_ports[0]}/ready") == 200, "ready after Redis", 30)
    assert set(_no_5xx_burst(layout, headers)) == {200}
    with _websocket(layout, client) as ws:  # live again (the consumer's groups work)
        assert isinstance(json.loads(ws.recv(timeout=15)), dict)
    client.close()
    assert "Redis cache unreachable" in layout.log(f"central-web@{layout.web_ports[0]}") + \
        layout.log(f"central-web@{layout.web_ports[1]}")


def test_postgresql_restart_and_stop_no_500_no_lost_data(layout):
    headers = _jwt(layout)
    before = layout.sql("SELECT (SELECT count(*) FROM dialer_donotcall), (SELECT count(*) FROM dialer_contact), "
                        "(SELECT count(*) FROM core_organization)")[0]
    assert set(_no_5xx_burst(layout, headers, 6)) == {200}  # every web process holds pooled connections
    layout.pg.restart()
    assert set(_no_5xx_burst(layout, headers)) == {200}  # stale pooled connections: checked, replaced
    layout.pg.stop()
    try:
        with layout.client() as api:
            t0 = time.monotonic()
            ready = api.get("/ready")
            ready_s = time.monotonic() - t0
            down = api.get("/api/v1/me/", headers=headers)
        assert ready.status_code == 503 and ready.json()["failing"] == ["database"], ready.text
        assert ready_s < 4.0, ready_s
        assert down.status_code == 503 and down.json()["error"]["code"] == "database_unavailable", down.text
    finally:
        layout.pg.start()
    assert set(_no_5xx_burst(layout, headers)) == {200}
    after = layout.sql("SELECT (SELECT count(*) FROM dialer_donotcall), (SELECT count(*) FROM dialer_contact), "
                       "(SELECT count(*) FROM core_organization)")[0]
    assert after == before
    print(f"\n/ready with PostgreSQL stopped answered in {ready_s:.2f} s")


def test_no_request_through_nginx_got_a_500(layout):
    log = (layout.nginx.workdir / "logs" / "access.log").read_text()
    statuses = [int(m) for m in re.findall(r'" (\d{3}) ', log)]
    assert statuses and 500 not in statuses and 502 not in statuses, sorted(set(statuses))
    # every process still runs: none died through the Redis and PostgreSQL outages
    dead = {name: proc.returncode for name, proc in layout.procs.items() if proc.poll() is not None}
    assert not dead, dead
