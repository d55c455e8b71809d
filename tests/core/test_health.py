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


def test_metrics_expose_request_counters(client, settings):
    settings.METRICS_OPEN = True
    client.get("/health")
    text = client.get("/metrics").content.decode()
    assert "central_http_requests_total" in text
    assert 'route="/health"' in text
    assert "central_http_request_duration_seconds_bucket" in text


def test_metrics_token(client, settings):
    settings.METRICS_TOKEN = "t0ken"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer t0ken-x").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer t0ken").status_code == 200


def test_metrics_closed_by_default(client, settings):
    """Before: anonymous /metrics answered 200 with per-campaign labels."""
    settings.METRICS_TOKEN, settings.METRICS_OPEN = "", False
    assert client.get("/metrics").status_code == 403
    settings.METRICS_OPEN = True
    assert client.get("/metrics").status_code == 200


def test_ready_details_only_for_loopback_or_operators(client, tenants):
    """Before: /ready showed the data path (and versions, errors) to anyone."""
    from django.contrib.auth import get_user_model

    remote = client.get("/ready", REMOTE_ADDR="203.0.113.7")
    assert remote.status_code == 200 and remote.json() == {"status": "ok", "failing": []}
    proxied = client.get("/ready", HTTP_X_FORWARDED_FOR="203.0.113.7")  # a proxy on this host
    assert "checks" not in proxied.json()
    client.force_login(tenants["alice"])  # a tenant owner is not an operator
    assert "checks" not in client.get("/ready", REMOTE_ADDR="203.0.113.7").json()
    root = get_user_model().objects.create_superuser("root", "root@example.com", "senha-forte-123")
    client.force_login(root)
    assert "path" in client.get("/ready", REMOTE_ADDR="203.0.113.7").json()["checks"]["disk"]


def test_request_id_is_echoed(client):
    response = client.get("/health", HTTP_X_REQUEST_ID="abc-123")
    assert response["X-Request-ID"] == "abc-123"
    assert len(client.get("/health")["X-Request-ID"]) == 32
