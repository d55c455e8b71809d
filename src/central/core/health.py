"""Liveness, readiness and metrics endpoints.

``/health`` answers as long as the process serves requests (for restarts by systemd or a
load balancer); ``/ready`` checks each dependency and says which one is wrong, with the
latency of each check, so an operator sees at a glance why traffic should not be sent here.

Who sees what (docs/security.md, rule 2): ``/ready``'s per-check details (data path,
versions, errors) go to operators and to loopback clients that did not come through a
proxy; anyone else gets the status alone. ``/metrics`` (per-campaign labels) needs
``CENTRAL_METRICS_TOKEN`` unless the operator opened it with ``CENTRAL_METRICS_OPEN``.
"""

from __future__ import annotations

import ipaddress
import shutil
import time
from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse

#: Seconds /ready waits for each dependency: a probe must answer before the load
#: balancer's own timeout, not after the pool's CENTRAL_DB_POOL_TIMEOUT (10 s).
READY_TIMEOUT = 2.0


def check_database() -> dict:
    pool = getattr(connection, "pool", None) if connection.vendor == "postgresql" else None
    if pool is not None and connection.connection is None:
        # A connection of the pool, waited for READY_TIMEOUT at most (the pool checks it
        # before lending it: a dead one after a restart is replaced, not reported).
        pool.open()
        with pool.connection(timeout=READY_TIMEOUT) as conn:
            conn.execute("SELECT 1").fetchone()
        return {"engine": connection.vendor}
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"engine": connection.vendor}


def check_redis() -> dict:
    if not settings.REDIS_URL:
        return {"skipped": "REDIS_URL not set (embedded mode)"}
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=READY_TIMEOUT,
                                  socket_connect_timeout=READY_TIMEOUT)
    try:
        info = client.info("server")  # answers only when the server is up, like PING
    finally:
        client.close()
    return {"version": info.get("redis_version")}


def check_disk() -> dict:
    usage = shutil.disk_usage(settings.DATA_DIR)
    free_mb = usage.free // 1_000_000
    minimum = int(getattr(settings, "MIN_FREE_DISK_MB", 200))
    if free_mb < minimum:
        raise RuntimeError(f"only {free_mb} MB free in {settings.DATA_DIR} (minimum {minimum} MB)")
    return {"free_mb": free_mb, "path": str(settings.DATA_DIR)}


CHECKS: dict[str, Callable[[], dict]] = {
    "database": check_database,
    "redis": check_redis,
    "disk": check_disk,
}


def run_checks() -> tuple[bool, dict]:
    results: dict[str, dict] = {}
    healthy = True
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            info = check()
            status = "skipped" if "skipped" in info else "ok"
        except Exception as exc:  # every failure becomes a line in the report
            info = {"error": f"{type(exc).__name__}: {exc}"}
            status = "fail"
            healthy = False
        results[name] = {"status": status, "latency_ms": round((time.perf_counter() - started) * 1000, 2), **info}
    return healthy, results


def health(request):
    return JsonResponse({"status": "ok"})


def local_operator_request(request, *, database_ok: bool = True) -> bool:
    """A loopback client that did not come through a proxy (a proxy on this host also
    connects from loopback, but adds a forwarding header), or a signed-in operator.

    With ``database_ok`` False the session is not read: it lives in the database, and
    reading it would make /ready wait out the pool's timeout and then fail."""
    from .operators import is_operator

    meta = request.META
    if not (meta.get("HTTP_X_FORWARDED_FOR") or meta.get("HTTP_FORWARDED") or meta.get("HTTP_X_REAL_IP")):
        try:
            if ipaddress.ip_address(meta.get("REMOTE_ADDR", "")).is_loopback:
                return True
        except ValueError:
            pass
    return database_ok and is_operator(getattr(request, "user", None))


def ready(request):
    healthy, results = run_checks()
    body: dict = {"status": "ok" if healthy else "fail"}
    if local_operator_request(request, database_ok=results["database"]["status"] == "ok"):
        body["checks"] = results
    else:  # which dependency failed, without paths, versions or error texts
        body["failing"] = sorted(name for name, r in results.items() if r["status"] == "fail")
    return JsonResponse(body, status=200 if healthy else 503)


def metrics(request):
    """This process's metrics and the cluster-wide ones (central.core.metrics: one
    endpoint per process; scrape every web process directly, not through the proxy)."""
    from .metrics import access_denied, render

    denied = access_denied(request.META.get("HTTP_AUTHORIZATION", ""))
    if denied is not None:
        return HttpResponse(denied[1], status=denied[0], content_type="text/plain")
    body, content_type = render(cluster=True)
    return HttpResponse(body, content_type=content_type)
