"""The per-process metrics endpoint and the dialer's per-campaign gauges, in process."""

from __future__ import annotations

import logging
import socket

import httpx
import pytest

from central.core.metrics import serve_process_metrics
from central.dialer import metrics as dialer_metrics

pytestmark = pytest.mark.backend_free


def test_endpoint_answers_metrics_with_the_token_and_health_without(settings):
    settings.METRICS_TOKEN, settings.METRICS_OPEN = "s3cret-token-for-this-test", False
    server = serve_process_metrics("dialer", _free_port())
    assert server is not None
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        assert httpx.get(f"{base}/metrics", timeout=5).status_code == 401
        ok = httpx.get(f"{base}/metrics", headers={"Authorization": "Bearer s3cret-token-for-this-test"}, timeout=5)
        assert ok.status_code == 200 and 'central_process_info{kind="dialer"' in ok.text
        assert httpx.get(f"{base}/health", timeout=5).json() == {"status": "ok"}
        assert httpx.get(f"{base}/other", timeout=5).status_code == 404
        settings.METRICS_TOKEN = ""
        assert httpx.get(f"{base}/metrics", timeout=5).status_code == 403  # neither token nor OPEN
    finally:
        server.shutdown()
        server.server_close()


def test_a_taken_port_is_logged_and_the_process_goes_on(caplog):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with caplog.at_level(logging.ERROR, logger="central.metrics"):
            assert serve_process_metrics("dialer", port) is None
    assert f"cannot serve metrics on 127.0.0.1:{port}" in caplog.text


def test_port_zero_turns_the_endpoint_off():
    assert serve_process_metrics("voice", 0) is None


def test_a_campaign_leaving_this_dialer_leaves_its_endpoint():
    """Before: a dialer that lost or released a campaign's lease kept exporting its last
    gauges, so a sum over dialers counted the campaign twice after a takeover and an
    abandonment alert could fire on a frozen value."""
    for cid in ("9101", "9102"):
        dialer_metrics.DIAL_LEVEL.labels(cid).set(1.5)
        dialer_metrics.AGENTS.labels(cid, "logged").set(3)
        dialer_metrics.ABANDON_RATE.labels(cid, "1h").set(0.02)
        dialer_metrics.ABANDON_CAP.labels(cid).set(0.03)
    dialer_metrics.forget_campaign(9101)
    campaigns = {s.labels["campaign"] for g in (dialer_metrics.DIAL_LEVEL, dialer_metrics.AGENTS,
                                                 dialer_metrics.ABANDON_RATE, dialer_metrics.ABANDON_CAP)
                 for family in g.collect() for s in family.samples}
    assert "9101" not in campaigns and "9102" in campaigns
    dialer_metrics.forget_campaign(9102)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
