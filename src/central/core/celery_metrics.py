"""Metrics of ``central worker``: its endpoint and the jobs it receives.

Celery's prefork pool runs tasks in child processes, whose counters would never reach
the parent's registry (the case prometheus_client's multiprocess mode exists for). The
parent serves the endpoint and counts what it hands to the pool (``task_received`` is
sent in the parent's consumer); the outcome of each job is on its own row (an import's
``ImportJob``), which the web processes read. Children close the inherited listening
socket so a worker that dies leaves no child holding the port.
"""

from __future__ import annotations

from .metrics import WORKER_TASKS, MetricsServer, serve_process_metrics


def serve_worker_metrics(port: int | None) -> MetricsServer | None:
    from celery.signals import task_received, worker_process_init

    server = serve_process_metrics("worker", port)

    def received(request=None, **_kwargs) -> None:
        WORKER_TASKS.labels(getattr(request, "name", None) or "unknown").inc()

    def child_started(**_kwargs) -> None:
        if server is not None:
            server.socket.close()

    task_received.connect(received, weak=False)
    worker_process_init.connect(child_started, weak=False)
    return server
