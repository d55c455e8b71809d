"""The ``central`` command: one entry point for every process and operator task.

Processes (``up``, ``web``, ``worker``, ``beat``, ``pbx``, ``dialer``, ``voice``,
``simulate-pbx``) and operator tasks (``status``, ``diagnose``, ``backup``, ``restore``,
``migrate``, ``manage``) live here; each command sets Django up only when it needs it so
that ``--help`` and configuration errors answer fast and clearly.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from central.core.metrics import MetricsPort

app = typer.Typer(
    help="Central: contact-center operations on Asterisk.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Help comes from docstrings written with ``code`` spans: Markdown renders them (and
    # joins the docstrings' wrapped lines) instead of printing the backticks.
    rich_markup_mode="markdown",
)

_display_type_rich = typer.core.TyperOption.display_type_rich


def _flag_without_type(self, ctx):
    """A flag takes no value: no "<bool>" after ``--help`` or ``--simulator``."""
    return None if self.is_flag else _display_type_rich(self, ctx)


typer.core.TyperOption.display_type_rich = _flag_without_type

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data directory (SQLite, secret key, snapshots). Env: CENTRAL_DATA_DIR."),
]


@app.callback()
def _options(
    env_file: Annotated[
        Path | None,
        typer.Option(
            "--env-file", envvar="CENTRAL_ENV_FILE", show_envvar=True,
            help="Read settings from this file first, with systemd's EnvironmentFile= rules "
            "(e.g. /etc/central/central.env, the file the units read); variables already "
            "set in the environment win.",
        ),
    ] = None,
) -> None:
    """Central: contact-center operations on Asterisk."""
    if env_file is None:
        return
    from central.core.envfile import EnvFileError, load

    try:
        load(env_file)
    except (OSError, EnvFileError) as exc:
        typer.secho(f"cannot read the environment file {env_file}: {exc}", fg="red", err=True)
        raise typer.Exit(2) from exc


def _setup(data_dir: Path | None = None) -> None:
    if data_dir is not None:
        os.environ["CENTRAL_DATA_DIR"] = str(data_dir.resolve())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "central.settings")
    import django
    from django.core.exceptions import ImproperlyConfigured

    try:
        django.setup()
    except ImproperlyConfigured as exc:
        typer.secho(f"configuration error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from exc


def _migrate(verbosity: int = 0) -> None:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=verbosity)


def _print_demo(creds: tuple[str, str] | None, url: str) -> None:
    typer.secho(f"Central is starting at {url}", fg="green", bold=True)
    if creds:
        user, password = creds
        typer.secho("Demo organization created. Sign in with (shown only this once):", bold=True)
        typer.echo(f"  user:     {user}")
        typer.echo(f"  password: {password}")


@app.command()
def up(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port.")] = 8000,
    simulator: Annotated[bool, typer.Option(help="Start the built-in PBX simulator when no Asterisk is configured.")] = True,
    data_dir: DataDir = None,
) -> None:
    """Everything on one machine: migrate, demo data, web, PBX link, dialer, voice."""
    _setup(data_dir)
    _migrate()
    from central.core.demo import ensure_demo

    creds = ensure_demo()
    _print_demo(creds, f"http://{host}:{port}/")
    from central.core.embedded import run_embedded
    from central.core.metrics import mark_process

    mark_process("up")

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_embedded(host, port, simulator=simulator))


@app.command()
def web(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    data_dir: DataDir = None,
) -> None:
    """The web process only (API, dashboard, WebSockets, webhooks)."""
    _setup(data_dir)
    from central.core.live import trim_forever
    from central.core.metrics import mark_process
    from central.core.runtime import heartbeat_forever, run_together, serve_web
    from central.dashboard.broadcaster import broadcast_forever
    from central.dialer.importworker import recovery_forever

    mark_process("web")

    async def main() -> None:
        await run_together(
            serve_web(host, port), heartbeat_forever("web", lambda: {"port": port}), broadcast_forever(),
            recovery_forever(),  # imports of a web process that died resume here
            trim_forever(),  # stale members of the live groups (after a Redis outage)
        )

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


@app.command()
def worker(
    concurrency: Annotated[int, typer.Option(help="Worker processes.")] = 2,
    metrics_port: MetricsPort = None,
    data_dir: DataDir = None,
) -> None:
    """A Celery worker (production: needs REDIS_URL)."""
    _setup(data_dir)
    from django.conf import settings

    if not settings.CELERY_BROKER_URL:
        typer.secho("worker needs REDIS_URL (or CELERY_BROKER_URL); embedded mode runs jobs in-process.", fg="red", err=True)
        raise typer.Exit(2)
    from central.celery import app as celery_app
    from central.core.celery_metrics import serve_worker_metrics

    serve_worker_metrics(metrics_port)
    celery_app.worker_main(["worker", "--loglevel=INFO", f"--concurrency={concurrency}"])


@app.command()
def beat(metrics_port: MetricsPort = None, data_dir: DataDir = None) -> None:
    """The Celery beat scheduler. Run exactly one per installation.

    Its state file lives in the data directory, not in the working directory (a unit
    without ``WorkingDirectory=`` runs in ``/``, which the service user cannot write:
    beat crashed at start with ``Permission denied: 'celerybeat-schedule'``)."""
    _setup(data_dir)
    from django.conf import settings

    if not settings.CELERY_BROKER_URL:
        typer.secho("beat needs REDIS_URL (or CELERY_BROKER_URL); `central up` schedules in-process.",
                    fg="red", err=True)
        raise typer.Exit(2)
    from central.celery import app as celery_app
    from central.core.metrics import serve_process_metrics

    serve_process_metrics("beat", metrics_port)

    schedule = settings.DATA_DIR / "celerybeat-schedule"
    try:
        celery_app.start(["--quiet", "beat", f"--loglevel={settings.LOG_LEVEL}", f"--schedule={schedule}"])
    except Exception as exc:  # already logged by Celery as one record with its traceback
        raise typer.Exit(1) from exc


@app.command()
def migrate(data_dir: DataDir = None) -> None:
    """Apply database migrations."""
    _setup(data_dir)
    _migrate(verbosity=1)


def _read_new_password(username: str, email: str, from_stdin: bool) -> tuple[str, bool]:
    """(password, generated): one line of stdin with --password-stdin, a hidden prompt
    (twice) on a terminal, else a generated one. Never an argument (visible in `ps`)."""
    import getpass
    import secrets

    from django.core.exceptions import ValidationError

    from central.core.firstrun import check_password

    if from_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif sys.stdin.isatty():
        password = getpass.getpass(f"Password for {username} (empty: generate one): ")
        if password and getpass.getpass("Again: ") != password:
            typer.secho("init: the passwords differ", fg="red", err=True)
            raise typer.Exit(2)
    else:
        password = ""
    if not password:
        return secrets.token_urlsafe(15), True
    try:
        check_password(password, username, email)
    except ValidationError as exc:
        typer.secho("init: " + " ".join(exc.messages), fg="red", err=True)
        raise typer.Exit(2) from exc
    return password, False


@app.command()
def init(
    org: Annotated[str, typer.Option("--org", help="Name of the first organization, e.g. 'Minha Empresa'.")],
    admin: Annotated[str, typer.Option("--admin", help="Username of its owner (created when missing).")],
    email: Annotated[str, typer.Option("--email", help="The owner's e-mail.")] = "",
    slug: Annotated[str, typer.Option("--slug", help="Organization identifier (default: from the name).")] = "",
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the new user's password from stdin.")] = False,
    data_dir: DataDir = None,
) -> None:
    """First run of a production install: the first organization and its owner.

    Idempotent: run again, it says what exists and changes nothing. A new user's password
    is asked on a terminal, read with --password-stdin, or generated and printed once."""
    _setup(data_dir)
    from django.contrib.auth import get_user_model
    from django.db import DatabaseError, connection
    from django.db.migrations.executor import MigrationExecutor

    from central.core.firstrun import InitError, initialize

    try:
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        exists = get_user_model().objects.filter(username=admin).exists() if not pending else False
    except DatabaseError as exc:
        typer.secho(f"init: cannot read the database ({exc})", fg="red", err=True)
        raise typer.Exit(2) from exc
    if pending:
        typer.secho("init: the database is not migrated; run `central migrate` first", fg="red", err=True)
        raise typer.Exit(2)
    password, generated = (None, False) if exists else _read_new_password(admin, email, password_stdin)
    try:
        result = initialize(org, admin, email=email, slug=slug, password=password)
    except InitError as exc:
        typer.secho(f"init: {exc}", fg="red", err=True)
        raise typer.Exit(1) from exc
    o = result.organization
    if not result.changed:
        typer.echo(f"already initialized: {admin} is owner of {o.name} ({o.slug}); nothing changed")
        return
    typer.echo(f"organization {o.name} ({o.slug}): {'created' if result.organization_created else 'exists'}")
    typer.echo(f"user {admin}: {'created (staff, superuser)' if result.user_created else 'exists, password unchanged'}"
               f"; owner of {o.slug}")
    if generated:
        typer.secho("Sign in with (shown only this once):", bold=True)
        typer.echo(f"  user:     {admin}")
        typer.echo(f"  password: {password}")


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def manage(ctx: typer.Context, data_dir: DataDir = None) -> None:
    """Run a Django management command, e.g. ``central manage createsuperuser``."""
    _setup(data_dir)
    from django.core.management import execute_from_command_line

    execute_from_command_line(["central manage", *ctx.args])


def _ago(ts: float | None, now: float) -> str:
    return "-" if not ts else f"{int(now - ts)} s ago"


def _ami_lines(row: dict, now: float) -> list[str]:
    """Per Asterisk server: the AMI connection of a process's PBX links and dialers,
    from the figures its heartbeat carries (``central pbx``, ``central dialer``, ``up``):
    connected or not, since when, the last error."""
    info = row.get("info") or {}
    lines = []
    for name, link in sorted((info.get("servers") or {}).items()):
        state = "connected" if link.get("connected") else "NOT CONNECTED"
        error = f"  last error: {link['last_error']}" if link.get("last_error") else ""
        lines.append(f"  pbx link  {name:<20} {link.get('host', ''):<22} AMI {state:<13} "
                     f"since {_ago(link.get('since'), now):<10} "
                     f"events {link.get('events', 0)}  calls {link.get('calls_in_progress', 0)}  "
                     f"records {link.get('records', 0)}{error}")
    dialers = dict(info.get("dialers") or {})
    if row["kind"] == "dialer" and "ami_connected" in info:
        dialers[info.get("server", "default")] = info
    for name, d in sorted(dialers.items()):
        state = "connected" if d.get("ami_connected") else "NOT CONNECTED"
        error = f"  last error: {d['last_error']}" if d.get("last_error") else ""
        lines.append(f"  dialer    {name:<20} {'':<22} AMI {state:<13} "
                     f"campaigns {len(d.get('campaigns') or [])}  originates {d.get('originates', 0)}{error}")
    return lines


def _component_lines(components: dict, now: float) -> list[str]:
    """The supervised components of a ``central up`` (state, since, restarts, last error)."""
    lines = []
    for name, c in components.items():
        error = f"  last error: {c['last_error']}" if c.get("last_error") else ""
        lines.append(f"  component {name:<12} {c['state'].upper():<10} since {_ago(c.get('since'), now):<10} "
                     f"restarts {c.get('restarts', 0)}{error}")
    return lines


def _server_rows() -> list[dict]:
    """Every Asterisk server of the database with the status its PBX link last wrote."""
    from central.telephony.models import AsteriskServer

    return [{"name": s.name, "organization": s.organization.slug, "host": f"{s.host}:{s.port}",
             "enabled": s.enabled, "simulator": s.use_simulator, "status": s.status,
             "detail": s.status_detail, "status_at": s.status_at}
            for s in AsteriskServer.objects.select_related("organization").order_by("organization__slug", "name")]


def _uptime(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    return (f"{days}d" if days else "") + f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Every process that heartbeats (state alive / STALE / GONE, host, pid, uptime, last
    heartbeat, restarts) with each one's AMI connection per Asterisk server; the
    supervised components of the `central up` of this data directory (control socket);
    the Asterisk servers' last known status."""
    _setup(data_dir)
    import time

    from django.contrib.auth import get_user_model

    from central.core.control import ControlError, request
    from central.core.models import Organization
    from central.dashboard.status import process_rows

    try:
        rows = process_rows()
        info = {
            "processes": rows,
            "asterisk_servers": _server_rows(),
            "organizations": Organization.objects.count(),
            "users": get_user_model().objects.count(),
        }
    except Exception as exc:
        typer.secho(f"cannot read status from the database: {exc}", fg="red", err=True)
        raise typer.Exit(1) from exc
    try:
        info["local"] = request("status", timeout=3)
    except ControlError:
        info["local"] = None
    if as_json:
        typer.echo(json.dumps(info, indent=2, default=str))
        return
    now = time.time()
    typer.echo(f"organizations: {info['organizations']}  users: {info['users']}")
    if not rows:
        typer.echo("no Central process is running (no heartbeat)")
    for row in rows:
        state = row["state"] if row["state"] == "alive" else row["state"].upper()
        typer.echo(f"{row['kind']:<8} {state:<6} host {row['host']:<16} pid {row['pid']:<8} "
                   f"up {_uptime(row['uptime_s']):<10} last heartbeat {row['age_s']} s ago  "
                   f"restarts {row['restarts']}")
        for line in _ami_lines(row, now):
            typer.echo(line)
        local = info["local"]
        if local and local.get("pid") == row["pid"] and row["kind"] == "up":
            for line in _component_lines(local.get("components") or {}, now):
                typer.echo(line)
    for srv in info["asterisk_servers"]:
        flags = "" if srv["enabled"] else " (disabled)"
        flags += " (simulator)" if srv["simulator"] else ""
        typer.echo(f"asterisk {srv['organization']}/{srv['name']:<30} {srv['host']:<22} "
                   f"{srv['status']}{flags}  {srv['detail']}".rstrip())


def _control(op: str, **fields) -> dict:
    from central.core.control import ControlError, request

    try:
        answer = request(op, **fields)
    except ControlError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(1) from exc
    if not answer.get("ok"):
        typer.secho(answer.get("error") or "refused", fg="red", err=True)
        raise typer.Exit(1)
    return answer


@app.command()
def stop(
    wait: Annotated[float, typer.Option(help="Seconds to wait for it to exit (0: do not wait).")] = 30.0,
    data_dir: DataDir = None,
) -> None:
    """Stop the `central up` of this data directory (through its control socket)."""
    _setup(data_dir)
    import time

    answer = _control("stop")
    pid = int(answer.get("stopping") or 0)

    def running() -> bool:
        # The socket is local: the pid is on this machine. A zombie (exited, its parent
        # has not collected it yet) has stopped.
        try:
            return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
        except (OSError, IndexError):
            return False

    deadline = time.monotonic() + wait
    while wait and running() and time.monotonic() < deadline:
        time.sleep(0.1)
    if wait and running():
        typer.secho(f"central up (pid {pid}) did not stop within {wait:.0f} s", fg="red", err=True)
        raise typer.Exit(1)
    typer.echo(f"central up (pid {pid}) stopped" if wait else f"central up (pid {pid}) stopping")


@app.command()
def restart(
    component: Annotated[str | None, typer.Argument(help="A component (e.g. telephony, dialer, voice); none: all but web and control.")] = None,
    crash: Annotated[bool, typer.Option("--crash", help="Kill it as a crash would (a drill: backoff, metric, log).")] = False,
    data_dir: DataDir = None,
) -> None:
    """Restart components of the running `central up` (through its control socket)."""
    _setup(data_dir)
    answer = _control("restart", component=component, crash=crash)
    typer.echo(f"{'killed' if crash else 'restarting'}: {', '.join(answer.get('restarted', []))}")


@app.command()
def diagnose(data_dir: DataDir = None) -> None:
    """Check database, Redis, each Asterisk, disk and versions; exit 1 on any failure."""
    # A diagnosis should answer in seconds, not wait out the pool's default 10 s.
    os.environ.setdefault("CENTRAL_DB_POOL_TIMEOUT", "3")
    _setup(data_dir)
    from central.core.diagnose import run

    results = run()
    width = max(len(r.name) for r in results)
    for r in results:
        mark = typer.style(" OK ", fg="green") if r.ok else typer.style("FAIL", fg="red", bold=True)
        if r.warning:
            mark = typer.style("WARN", fg="yellow", bold=True)
        typer.echo(f"[{mark}] {r.name:<{width}}  {r.detail}  ({r.latency_ms} ms)")
    failed = [r.name for r in results if not r.ok]
    if failed:
        typer.secho(f"{len(failed)} check(s) failed: {', '.join(failed)}", fg="red", err=True)
        raise typer.Exit(1)
    typer.secho("all checks passed", fg="green")


@app.command()
def backup(
    target: Annotated[Path | None, typer.Argument(help="Backup file (default: <backup dir>/central-<time>, with retention).")] = None,
    data_dir: DataDir = None,
) -> None:
    """Back up the database while it runs (a private 0600 file). Without FILE: into the
    backup directory, recorded for the restore test, old ones pruned (7 daily, 4 weekly by
    default), copied to object storage when configured: what the daily job does."""
    _setup(data_dir)
    from central.core.backup import BackupError
    from central.core.backups import run_backup, write_backup

    if target is not None:
        try:
            write_backup(target)
        except (BackupError, FileExistsError) as exc:
            typer.secho(str(exc), fg="red", err=True)
            raise typer.Exit(1) from exc
        typer.echo(f"backup written to {target} ({target.stat().st_size} bytes)")
        return
    run = run_backup()
    if not run.ok:
        typer.secho(f"backup failed: {run.detail}", fg="red", err=True)
        raise typer.Exit(1)
    typer.echo(f"backup written to {run.path} ({run.size} bytes){'; ' + run.detail if run.detail else ''}")


@app.command()
def maintenance(
    apply: Annotated[bool, typer.Option("--apply", help="Delete and optimise (default: a dry run that only reports).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable report.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Retention per organization (attempts, call records, conversations, audit log),
    expired sessions/tokens/cache, VACUUM/ANALYZE or PRAGMA optimize. Dry run by default;
    runs daily (CENTRAL_MAINTENANCE_AT) with --apply semantics."""
    _setup(data_dir)
    from central.core.maintenance import run

    report = run(apply=apply).as_dict()
    if as_json:
        typer.echo(json.dumps(report, indent=2, default=str))
        return
    typer.echo("maintenance: " + ("APPLIED" if apply else "dry run (nothing changed; --apply to do it)"))
    for row in report["retention"]:
        verb = "deleted" if apply else "would delete"
        typer.echo(f"  retention {row['organization']:<20} {row['kind']:<14} older than {row['days']} days: "
                   f"{verb} {row['rows']}")
    for name, count in report["expired"].items():
        typer.echo(f"  expired   {name:<20} {count}")
    typer.echo(f"  database  {report['database']}")
    for gap in report["gaps"]:
        typer.secho(f"  not done: {gap}", fg="yellow")


@app.command("restore-test")
def restore_test_command(
    source: Annotated[Path | None, typer.Argument(help="A backup file (default: the latest in the backup directory).")] = None,
    data_dir: DataDir = None,
) -> None:
    """Restore a backup into a scratch database and check it (migrations, row counts);
    the database in use is not touched. Runs weekly (CENTRAL_RESTORE_TEST_AT)."""
    _setup(data_dir)
    from central.core.backup import BackupError
    from central.core.backups import restore_test

    try:
        report = restore_test(source)
    except BackupError as exc:
        typer.secho(f"restore test FAILED: {exc}", fg="red", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"restore test passed: {report['source']}: {report['tables']} tables, {report['rows']} rows, "
               f"{report['counts_checked']} counts checked, {report['migrations_applied']} migrations applied")


@app.command()
def restore(
    source: Annotated[Path, typer.Argument(help="A file written by `central backup`.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Replace the database with a backup. Stop the other processes first."""
    _setup(data_dir)
    from central.core.backup import BackupError
    from central.core.backup import restore as do_restore

    if not yes and not typer.confirm(f"Replace the current database with {source}?"):
        raise typer.Exit(1)
    try:
        do_restore(source)
    except BackupError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"restored from {source}")


@app.command()
def workers(data_dir: DataDir = None) -> None:
    """Ping every Celery worker and show what it is running (production)."""
    _setup(data_dir)
    from django.conf import settings

    if not settings.CELERY_BROKER_URL:
        typer.echo("embedded mode: background jobs run inside the `central up` process (no workers)")
        return
    from central.celery import app as celery_app

    inspector = celery_app.control.inspect(timeout=2)
    replies = inspector.ping() or {}
    if not replies:
        typer.secho("no worker answered", fg="red", err=True)
        raise typer.Exit(1)
    active = inspector.active() or {}
    for name in sorted(replies):
        typer.echo(f"{name:<40} ok   active tasks: {len(active.get(name, []))}")


@app.command()
def queues(data_dir: DataDir = None) -> None:
    """Length of each background job queue in Redis (production)."""
    _setup(data_dir)
    from django.conf import settings

    if not settings.CELERY_BROKER_URL:
        typer.echo("embedded mode: no job queues (jobs run in-process)")
        return
    import redis

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=3)
    names = sorted({k.decode() for k in client.keys("*") if client.type(k) == b"list"} | {"celery"})
    for name in names:
        typer.echo(f"{name:<30} {client.llen(name)}")


@app.command()
def logs(
    lines: Annotated[int, typer.Option("-n", help="Recent lines to show first.")] = 50,
    follow: Annotated[bool, typer.Option("-f", help="Keep printing new lines.")] = False,
    component: Annotated[str, typer.Option("--component", help="Only this component (telephony, dialer, web, supervisor...).")] = "",
    level: Annotated[str, typer.Option("--level", help="This level and above (debug, info, warning, error).")] = "",
    process: Annotated[str, typer.Option("--process", help="Only this process kind (up, web, worker, beat, pbx, dialer, voice).")] = "",
    tenant: Annotated[str, typer.Option("--tenant", help="Only lines of this organization (slug).")] = "",
    request_id: Annotated[str, typer.Option("--request-id", help="Only lines of this request.")] = "",
    grep: Annotated[str, typer.Option("--grep", help="Only lines containing this text.")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON lines as they are.")] = False,
    data_dir: DataDir = None,
) -> None:
    """The JSON logs of every process, filtered: from Redis in production (every process
    ships its lines there), from the running `central up` (control socket), else from
    CENTRAL_LOG_FILE. The same stream as the dashboard's log console."""
    _setup(data_dir)
    import time

    from django.conf import settings

    from central.core.control import ControlError, socket_path, stream_logs
    from central.core.logstream import LogFilter, filter_lines, format_line

    flt = LogFilter.from_dict({"component": component, "level": level, "process": process, "tenant": tenant,
                               "request_id": request_id, "text": grep})

    def show(entry: dict) -> None:
        typer.echo(json.dumps(entry, ensure_ascii=False) if as_json else format_line(entry))

    if settings.REDIS_URL:
        import redis

        from central.core.logstream import STREAM, decode, redis_backlog

        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=10)
        backlog, last_id = redis_backlog(client, flt, lines)
        for entry in backlog:
            show(entry)
        while follow:
            for _stream, rows in client.xread({STREAM: last_id}, block=5000, count=500) or []:
                for entry_id, fields in rows:
                    last_id = entry_id
                    entry = decode(fields)
                    if entry is not None and flt.matches(entry):
                        show(entry)
        return
    if socket_path().exists():
        try:
            with contextlib.suppress(KeyboardInterrupt):
                for entry in stream_logs(dataclasses.asdict(flt), lines, follow):
                    show(entry)
            return
        except ControlError as exc:
            if not settings.LOG_FILE:
                typer.secho(str(exc), fg="red", err=True)
                raise typer.Exit(1) from exc
    if not settings.LOG_FILE:
        typer.echo("no live log source: no Redis (REDIS_URL), no running central up here, and CENTRAL_LOG_FILE "
                   "is not set (journalctl -u 'central-*' under systemd)")
        raise typer.Exit(1)
    path = Path(settings.LOG_FILE)
    if not path.exists():
        typer.secho(f"{path} does not exist yet", fg="red", err=True)
        raise typer.Exit(1)
    from collections import deque

    with path.open(errors="replace") as handle:
        for entry in deque(filter_lines(handle, flt), maxlen=lines):
            show(entry)
        while follow:
            line = handle.readline()
            if line:
                for entry in filter_lines([line], flt):
                    show(entry)
            else:
                time.sleep(0.5)


def _register_capability_commands() -> None:
    """Capabilities add their process commands from their own ``commands`` module."""
    from importlib import import_module
    from importlib.util import find_spec

    for name in ("telephony", "simulator", "dialer", "voice", "legacy", "messaging"):
        module_name = f"central.{name}.commands"
        if find_spec(module_name) is not None:
            import_module(module_name).register(app, _setup)


_register_capability_commands()


def main() -> None:
    app(prog_name="central")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
