"""``central diagnose``: every check an on-call engineer would run by hand, in one report.

Each check returns (ok, detail). The report names the failing dependency and what to do,
and the command exits non-zero so scripts and monitors can use it.
"""

from __future__ import annotations

import platform
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlparse


@dataclass
class CheckResult:
    name: str
    ok: bool
    detail: str
    latency_ms: float
    #: Works, but an operator should act (e.g. data files readable by other users).
    warning: bool = False


class CheckWarning(Exception):
    """Raised by a check that passes with a caveat: shown as WARN, does not fail diagnose."""


def _database() -> str:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    if connection.vendor == "postgresql":
        # Connect once without the pool: the pool only says "couldn't get a connection",
        # while the operator needs the server's own reason (refused, auth, no database).
        import psycopg

        s = connection.settings_dict
        psycopg.connect(
            host=s.get("HOST") or None, port=s.get("PORT") or None, dbname=s.get("NAME"),
            user=s.get("USER") or None, password=s.get("PASSWORD") or None, connect_timeout=3,
        ).close()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    executor = MigrationExecutor(connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if pending:
        raise RuntimeError(f"{len(pending)} migrations pending: run `central migrate`")
    settings_db = connection.settings_dict
    where = settings_db.get("NAME") if connection.vendor == "sqlite" else f"{settings_db.get('HOST')}:{settings_db.get('PORT')}/{settings_db.get('NAME')}"
    return f"{connection.vendor} {where}, migrations up to date"


def _redis() -> str:
    from django.conf import settings

    from .health import check_redis

    info = check_redis()  # the same check /ready runs
    if "skipped" in info:
        return "not configured (embedded mode: in-process channel layer and jobs)"
    return f"redis {info['version']} at {urlparse(settings.REDIS_URL).hostname}"


def _disk() -> str:
    from .health import check_disk

    info = check_disk()  # the same check (and minimum) /ready uses
    return f"{info['free_mb']} MB free in {info['path']}"


def _permissions() -> str:
    from django.conf import settings

    from .datafiles import loose_paths

    loose = loose_paths(settings.DATA_DIR)
    if loose:
        shown = ", ".join(f"{p} ({m:o})" for p, m in loose[:5]) + (f" and {len(loose) - 5} more" if len(loose) > 5 else "")
        raise CheckWarning(f"{len(loose)} data paths readable by group/others: {shown}; "
                           f"fix with: chmod -R go-rwx {settings.DATA_DIR}")
    return f"{settings.DATA_DIR} and its files are private (0700/0600)"


def _versions() -> str:
    import django

    return f"python {platform.python_version()}, django {django.get_version()}"


@dataclass
class AsteriskTarget:
    name: str
    host: str
    port: int
    #: Where to connect: the address the outbound rule checked (tenant rows), or the host.
    address: str
    #: Why a tenant row is not contacted at all (its host is refused by the outbound rule).
    refused: str = ""


def asterisk_targets(database_ok: bool = True) -> list[AsteriskTarget]:
    """Every configured Asterisk, each address checked once.

    ``CENTRAL_AMI_URL`` is named ``env``. The PBX link stores it as a server row too
    (``central.telephony.link.env_server``), so a row at the same host and port is the
    same Asterisk: it is reported once, as ``env/<row name>``, not checked twice (nor are
    two rows of different tenants on one Asterisk: ``a/b``).

    Tenant rows follow the outbound rule (``central.core.outbound.check_destination``) like
    the PBX link: a refused host (loopback, private, metadata, the database...) is never
    contacted, only reported, and an allowed one is reached at the address that was
    checked. The platform's own ``CENTRAL_AMI_URL`` is the operator's choice."""
    from django.conf import settings

    from .outbound import OutboundRefused, check_destination

    targets: dict[tuple[str, int], AsteriskTarget] = {}
    if settings.AMI_URL:
        url = urlparse(settings.AMI_URL)
        host, port = url.hostname or "127.0.0.1", url.port or 5038
        targets[(host, port)] = AsteriskTarget("env", host, port, host)
    if database_ok:
        try:
            from central.telephony.models import AsteriskServer

            rows = list(AsteriskServer.objects.filter(enabled=True).order_by("id"))
        except Exception:  # telephony tables may not exist yet; the database check reports that
            rows = []
        for server in rows:
            found = targets.get((server.host, server.port))
            if found is None and server.use_simulator:  # the platform's own, address set by it
                found = targets[(server.host, server.port)] = AsteriskTarget("", server.host, server.port, server.host)
            elif found is None:
                try:
                    address, refused = check_destination(server.host, server.port)[0], ""
                except OutboundRefused as exc:
                    address, refused = "", str(exc)
                found = targets[(server.host, server.port)] = AsteriskTarget(
                    "", server.host, server.port, address, refused)
            names = found.name.split("/") if found.name else []
            if server.name not in names:
                found.name = "/".join([*names, server.name])
    return list(targets.values())


def _asterisk_check(target: AsteriskTarget) -> Callable[[], str]:
    host, port = target.host, target.port

    def check() -> str:
        if target.refused:
            raise CheckWarning(f"{host}:{port} not contacted: refused by the outbound rule ({target.refused})")
        with socket.create_connection((target.address, port), timeout=3) as sock:
            sock.settimeout(3)
            banner = sock.recv(200).decode("utf-8", "replace").strip()
        if not banner.startswith("Asterisk Call Manager/"):
            raise RuntimeError(f"{host}:{port} answered but is not AMI: {banner[:60]!r}")
        return f"{host}:{port} {banner}"

    return check


def run() -> list[CheckResult]:
    checks: list[tuple[str, Callable[[], str]]] = [
        ("database", _database),
        ("redis", _redis),
        ("disk", _disk),
        ("permissions", _permissions),
        ("versions", _versions),
    ]
    results = [_timed(name, check) for name, check in checks]
    try:
        targets = asterisk_targets(database_ok=results[0].ok)
    except Exception:
        targets = []
    results.extend(_timed(f"asterisk:{t.name}", _asterisk_check(t)) for t in targets)
    if results[0].ok:
        # Each active campaign's dial context/exten and queue exist on its Asterisk.
        from central.dialer.diagnose import campaign_checks

        try:
            checks = campaign_checks()
        except Exception as exc:  # dialer tables missing: the database check says why
            checks = [("campaigns", _raiser(exc))]
        results.extend(_timed(name, check) for name, check in checks)
    return results


def _raiser(exc: Exception) -> Callable[[], str]:
    def check() -> str:
        raise exc

    return check


def _timed(name: str, check: Callable[[], str]) -> CheckResult:
    started = time.perf_counter()
    warning = False
    try:
        detail, ok = check(), True
    except CheckWarning as exc:
        detail, ok, warning = str(exc), True, True
    except Exception as exc:
        detail, ok = f"{type(exc).__name__}: {exc}".strip(), False
    return CheckResult(name, ok, detail, round((time.perf_counter() - started) * 1000, 1), warning)
