"""Prometheus metrics shared by every process, and how each process serves them.

Each capability adds its own gauges and counters in its own module with the default
registry; this module holds the HTTP ones, the ones every process has (process info,
disk), the cluster-wide ones computed from the database, and the per-process endpoint.

**One endpoint per process, not prometheus_client's multiprocess mode** (docs/operations.md,
"Monitoring"). Central's processes are separate programs (``central web`` ×N, ``worker``,
``beat``, ``pbx``, ``dialer``, ``voice``), often on several hosts, not forks of one
server: a shared ``PROMETHEUS_MULTIPROC_DIR`` would only cover processes of one host, and
multiprocess mode forbids what we use (custom collectors such as the voice service's and
the disk's, ``remove``/``clear`` of label sets, gauges without an aggregation mode of
their own). So each process keeps its own registry and serves it: ``central web`` and
``central up`` on their HTTP port (``/metrics``), every other process on a small loopback
endpoint of its own (``METRICS_PORTS``). Prometheus scrapes every process, never the load
balancer, and tells them apart by the ``instance`` label; dashboards and alert rules
aggregate with ``sum without (instance)``. Cluster-wide figures read from the database
(heartbeat ages, ...) are served by web processes only (``CLUSTER_REGISTRY``), the same
value from each: rules take ``max without (instance)``.
"""

from __future__ import annotations

import hmac
import logging
import os
import shutil
import socket
import threading
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Annotated

import typer
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric

log = logging.getLogger("central.metrics")

#: Default metrics port of each process kind that has no HTTP port of its own
#: (``--metrics-port`` / ``CENTRAL_METRICS_PORT`` change it, 0 turns it off). The scrape
#: configuration in deploy/prometheus/ uses the same numbers (tests/ops check it).
METRICS_PORTS: dict[str, int] = {"worker": 9811, "beat": 9812, "pbx": 9813, "dialer": 9814, "voice": 9815}

#: The ``--metrics-port`` option of ``worker``, ``beat``, ``pbx``, ``dialer`` and ``voice``.
MetricsPort = Annotated[int | None, typer.Option(
    "--metrics-port", envvar="CENTRAL_METRICS_PORT", show_default=False,
    help="Port of this process's /metrics (default per kind: worker 9811, beat 9812, pbx 9813, "
         "dialer 9814, voice 9815; 0 turns it off). Address: CENTRAL_METRICS_HOST, default 127.0.0.1.")]

HTTP_REQUESTS = Counter(
    "central_http_requests_total", "HTTP requests by route and status", ["method", "route", "status"]
)
HTTP_ERRORS = Counter(
    "central_http_errors_total", "HTTP responses with status >= 500", ["method", "route"]
)
HTTP_LATENCY = Histogram(
    "central_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
BAD_INPUT = Counter(
    "central_bad_input_total", "Rejected input by source and reason", ["source", "reason"]
)
PROCESS_INFO = Gauge("central_process_info", "1 for the running process: its kind and Central's version",
                     ["kind", "version"])
WORKER_TASKS = Counter("central_worker_tasks_received", "Background jobs handed to this Celery worker",
                       ["task"])

# --- Names of metrics that capabilities being built now will expose --------------------
# The dashboards and alert rules in deploy/ already use them; the capability that feeds
# one imports its name from here (one spelling). Until it exists on main the name is in
# PENDING_METRICS, which tests/ops/test_monitoring.py reads: a pending name is not
# required in a running Central's /metrics, every other name is.
WEBHOOK_DELIVERIES = "central_webhook_deliveries_total"
"""Counter, labels ``channel`` (``whatsapp``...) and ``outcome`` (``accepted``,
``duplicate``, ``bad_signature``, ``missing_signature``): webhook deliveries received."""
WEBHOOK_PROCESSING_LAG = "central_webhook_processing_lag_seconds"
"""Gauge, label ``channel``: age of the oldest received and not yet processed delivery
(0 when none waits); ``webhook_lag`` below serves it from the messaging inbox."""

PENDING_METRICS: dict[str, str] = {
    WEBHOOK_DELIVERIES: "messaging (issue 9): the webhook view is not on main yet",
}


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("central")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


class DiskCollector:
    """Free and total space of the data directory, read at each scrape (``statvfs``)."""

    _NAMES = ("central_disk_free_bytes", "central_disk_size_bytes", "central_disk_min_free_bytes")

    def describe(self) -> Iterable[Metric]:
        """Names only: without it, registering would call ``collect`` at import time, which
        reads Django's settings before ``central --env-file`` has loaded the file."""
        return [GaugeMetricFamily(name, "", labels=["path"]) for name in self._NAMES]

    def collect(self) -> Iterable[Metric]:
        try:
            from django.conf import settings

            path = str(settings.DATA_DIR)
            minimum = int(getattr(settings, "MIN_FREE_DISK_MB", 200)) * 1_000_000
            usage = shutil.disk_usage(path)
        except Exception:  # settings not configured, directory gone: no series, not a crash
            return
        for name, doc, value in (
            ("central_disk_free_bytes", "Free bytes where the data directory lives", usage.free),
            ("central_disk_size_bytes", "Size of the file system of the data directory", usage.total),
            ("central_disk_min_free_bytes", "Free space under which /ready fails (MIN_FREE_DISK_MB)", minimum),
        ):
            family = GaugeMetricFamily(name, doc, labels=["path"])
            family.add_metric([path], value)
            yield family


REGISTRY.register(DiskCollector())

# --- Cluster-wide figures, from the database, served by web processes -------------------
CLUSTER_REGISTRY = CollectorRegistry(auto_describe=True)
_cluster_collectors: list[Callable[[], Iterable[Metric]]] = []


def cluster_collector(fn: Callable[[], Iterable[Metric]]) -> Callable[[], Iterable[Metric]]:
    """Register a function that reads the database and yields metric families.

    It runs at each scrape of a web process's ``/metrics`` (every 15 s per web process),
    so it must be one or two indexed queries. An exception is logged and skipped."""
    _cluster_collectors.append(fn)
    return fn


class _Cluster:
    def describe(self) -> Iterable[Metric]:
        return []  # never query the database at registration (import) time

    def collect(self) -> Iterable[Metric]:
        for fn in list(_cluster_collectors):
            try:
                yield from list(fn())
            except Exception:
                log.warning("cluster metric %s failed", getattr(fn, "__name__", fn), exc_info=True)


CLUSTER_REGISTRY.register(_Cluster())


@cluster_collector
def heartbeat_ages() -> Iterable[Metric]:
    """Seconds since each process's last heartbeat: a stale row is a dead or hung process
    (alert ``CentralProcessHeartbeatStale``)."""
    from django.utils import timezone

    from .models import ProcessHeartbeat

    now = timezone.now()
    age = GaugeMetricFamily("central_process_heartbeat_age_seconds",
                            "Seconds since the process's last heartbeat row update",
                            labels=["kind", "host", "process"])
    for name, kind, host, last_seen in ProcessHeartbeat.objects.values_list("name", "kind", "host", "last_seen"):
        age.add_metric([kind, host, name], max(0.0, (now - last_seen).total_seconds()))
    yield age


@cluster_collector
def webhook_lag() -> Iterable[Metric]:
    """Age of the oldest webhook delivery stored and not yet processed (0 when none
    waits): deliveries are acknowledged before processing, so a stuck or slow background
    job shows here first (alert ``CentralWebhookProcessingLag``). Reads the messaging
    inbox (``WebhookEvent``) through its ``(processed_at, id)`` index: the oldest pending
    row is the first by id."""
    from django.apps import apps
    from django.utils import timezone

    if not apps.is_installed("central.messaging"):
        return
    from central.messaging.models import WebhookEvent

    oldest = (WebhookEvent.objects.filter(processed_at__isnull=True).order_by("id")
              .values_list("received_at", flat=True).first())
    lag = GaugeMetricFamily(WEBHOOK_PROCESSING_LAG,
                            "Seconds the oldest received and unprocessed webhook delivery has waited",
                            labels=["channel"])
    lag.add_metric(["whatsapp"], max(0.0, (timezone.now() - oldest).total_seconds()) if oldest else 0.0)
    yield lag


@cluster_collector
def backup_state() -> Iterable[Metric]:
    """The last scheduled backup and restore test (``central.core.backups.last_runs``):
    when each finished, whether it worked, the backup's size. Alerts
    ``CentralBackupStale`` / ``CentralBackupFailed`` / ``CentralRestoreTest*``."""
    from .backups import last_runs

    finished = GaugeMetricFamily("central_backup_last_run_timestamp_seconds",
                                 "When the last backup or restore test finished (Unix time)", labels=["kind"])
    ok = GaugeMetricFamily("central_backup_last_run_ok", "1 if the last backup or restore test worked, 0 if not",
                           labels=["kind"])
    size = GaugeMetricFamily("central_backup_last_size_bytes", "Size of the last backup file")
    for kind, run in last_runs().items():
        if run is None:
            continue
        finished.add_metric([kind], (run.finished_at or run.started_at).timestamp())
        ok.add_metric([kind], 1 if run.ok else 0)
        if kind == "backup":
            size.add_metric([], run.size)
    yield from (finished, ok, size)


# --- Access and rendering ----------------------------------------------------------------

def access_denied(authorization: str) -> tuple[int, str] | None:
    """``None`` when a request with this ``Authorization`` header may read metrics, else
    the status and text to answer (docs/security.md: ``CENTRAL_METRICS_TOKEN`` as a Bearer
    token, compared in constant time; with no token, only ``CENTRAL_METRICS_OPEN=1`` opens
    it). Every metrics endpoint, web or per process, asks this one function."""
    from django.conf import settings

    token = settings.METRICS_TOKEN
    if token:
        if hmac.compare_digest(authorization.encode(), f"Bearer {token}".encode()):
            return None
        return 401, "unauthorized\n"
    if settings.METRICS_OPEN:
        return None
    return 403, "set CENTRAL_METRICS_TOKEN (or CENTRAL_METRICS_OPEN=1)\n"


def render(cluster: bool = False) -> tuple[bytes, str]:
    """The exposition text of this process (and the cluster-wide figures when asked)."""
    body = generate_latest(REGISTRY)
    if cluster:
        body += generate_latest(CLUSTER_REGISTRY)
    return body, CONTENT_TYPE_LATEST


def mark_process(kind: str) -> None:
    """Set ``central_process_info{kind}`` (once per process; ``central up`` is ``up``)."""
    PROCESS_INFO.labels(kind, _version()).set(1)


# --- The per-process endpoint ------------------------------------------------------------

class _Handler(BaseHTTPRequestHandler):
    server_version = "central-metrics"
    sys_version = ""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        path = self.path.split("?", 1)[0]
        if path == "/health":
            self._answer(200, b'{"status": "ok"}\n', "application/json")
            return
        if path != "/metrics":
            self._answer(404, b"not found\n", "text/plain")
            return
        denied = access_denied(self.headers.get("Authorization", ""))
        if denied is not None:
            self._answer(denied[0], denied[1].encode(), "text/plain")
            return
        try:
            body, content_type = render()
        finally:
            # A collector that reads the database (documents' gauges) opened a connection
            # in this handler thread: give it back, or each scrape would leak one.
            _close_thread_connections()
        self._answer(200, body, content_type)

    def _answer(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - scrapes are not news
        pass


def _close_thread_connections() -> None:
    try:
        from django.db import connections
    except ImportError:  # pragma: no cover - Django is always installed with Central
        return
    connections.close_all()  # this thread's connections only (they are thread-local)


class MetricsServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int]) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)


def metrics_host() -> str:
    """Where per-process endpoints listen: loopback unless ``CENTRAL_METRICS_HOST`` says
    otherwise (a container, or Prometheus on another host; keep the token then)."""
    return os.environ.get("CENTRAL_METRICS_HOST", "127.0.0.1") or "127.0.0.1"


def serve_process_metrics(kind: str, port: int | None = None, host: str | None = None) -> MetricsServer | None:
    """Serve this process's registry on ``host:port`` (``GET /metrics``, ``GET /health``)
    from a daemon thread, so it works the same in asyncio processes and in Celery.

    A port already taken (a second dialer on the same host with the default port) is
    logged as an error and the process goes on without its endpoint: monitoring must not
    stop the dialer. Its Prometheus target then shows down, which is alerted on."""
    mark_process(kind)
    port = METRICS_PORTS.get(kind, 0) if port is None else port
    if not port:
        return None
    host = host or metrics_host()
    try:
        server = MetricsServer((host, port))
    except OSError as exc:
        log.error("%s: cannot serve metrics on %s:%s (%s); use --metrics-port", kind, host, port, exc)
        return None
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.5},
                     name=f"metrics-{kind}", daemon=True).start()
    log.debug("%s: metrics on http://%s:%s/metrics", kind, host, server.server_address[1])
    return server
