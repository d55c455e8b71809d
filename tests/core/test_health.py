"""Liveness, readiness with per-dependency status and latency, Prometheus metrics."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_health(client):
    assert client.get("/health").json() == {"status": "ok"}


def test_ready_reports_each_dependency(client, settings):
    body = client.get("/ready").json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["status"] == "ok"
    assert isinstance(body["checks"]["database"]["latency_ms"], float)
    assert body["checks"]["redis"]["status"] == ("ok" if settings.REDIS_URL else "skipped")


def test_ready_fails_when_a_dependency_fails(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = client.get("/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["checks"]["redis"]["status"] == "fail"
    assert "Error" in body["checks"]["redis"]["error"]


def test_metrics_expose_request_counters(client):
    client.get("/health")
    text = client.get("/metrics").content.decode()
    assert "central_http_requests_total" in text
    assert 'route="/health"' in text
    assert "central_http_request_duration_seconds_bucket" in text


def test_metrics_token(client, settings):
    settings.METRICS_TOKEN = "t0ken"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer t0ken").status_code == 200


def test_request_id_is_echoed(client):
    response = client.get("/health", HTTP_X_REQUEST_ID="abc-123")
    assert response["X-Request-ID"] == "abc-123"
    assert len(client.get("/health")["X-Request-ID"]) == 32
