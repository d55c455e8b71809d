"""Prometheus metrics shared by every process.

Each capability adds its own gauges and counters in its own module with the default
registry; this module holds the HTTP ones and renders the exposition text.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest

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


def render() -> tuple[bytes, str]:
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
