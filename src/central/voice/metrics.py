"""Prometheus metrics of the voice process (``central voice``, or ``central up``).

Nothing here runs per audio frame (1,000 calls per core is the budget, issue 17): the
turn latency is observed once per turn, and everything else is read from the running
``VoiceService`` objects when Prometheus scrapes (a collector, possible because each
process serves its own registry: central.core.metrics).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable

from prometheus_client import REGISTRY, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

TURN_LATENCY = Histogram(
    "central_voice_turn_latency_seconds",
    "End of the caller's speech to the first byte of the answer",
    ["source"],
    buckets=(0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0),
)

_services: weakref.WeakSet = weakref.WeakSet()


def track(service) -> None:
    """Report this service at every scrape while it lives."""
    _services.add(service)


def observe_turn(metrics) -> None:
    total_ms = metrics.total_ms
    if total_ms > 0:
        TURN_LATENCY.labels(metrics.source).observe(total_ms / 1000)


def _serving(listener) -> bool:
    server = listener.server
    return server is not None and server.is_serving()


class VoiceCollector:
    def describe(self) -> Iterable[Metric]:
        return list(self.collect())  # no service yet at import: names only, no samples

    def collect(self) -> Iterable[Metric]:
        labels = ["organization", "extension"]
        sessions = GaugeMetricFamily("central_voice_sessions", "Calls in progress per AI extension and leg",
                                     labels=[*labels, "leg"])
        total = CounterMetricFamily("central_voice_calls", "Calls accepted per AI extension", labels=labels)
        up = GaugeMetricFamily("central_voice_listener_up", "1 while the AudioSocket listener accepts calls",
                               labels=[*labels, "listener"])
        errors = CounterMetricFamily("central_voice_protocol_errors", "Connections dropped for bad AudioSocket input",
                                     labels=labels)
        failed = GaugeMetricFamily("central_voice_extension_failed",
                                   "1 for an enabled AI extension that could not start (port, address, providers)",
                                   labels=["extension"])
        dropped = CounterMetricFamily("central_voice_frames_dropped", "Audio frames the pacer could not send in time")
        drops = 0
        for service in list(_services):
            pacer = service.pacer
            drops += pacer.stats.frames_dropped if pacer else 0
            for rt in list(service.extensions.values()):
                key = [str(rt.config.organization_id), rt.config.number]
                sessions.add_metric([*key, "visitor"], rt.visitor_sessions())
                sessions.add_metric([*key, "resident"], rt.resident_sessions())
                total.add_metric(key, rt.ai.stats.sessions_total + rt.ret.stats.sessions_total)
                up.add_metric([*key, "ai"], 1 if _serving(rt.ai) else 0)
                up.add_metric([*key, "return"], 1 if _serving(rt.ret) else 0)
                errors.add_metric(key, rt.ai.stats.protocol_errors + rt.ret.stats.protocol_errors)
            for number in list(service.failed):
                failed.add_metric([number], 1)
        dropped.add_metric([], drops)
        yield from (sessions, total, up, errors, failed, dropped)


REGISTRY.register(VoiceCollector())
