"""Rate limits: 429 with Retry-After and the error body; shared across processes via Redis."""

from __future__ import annotations

import time

import httpx
import pytest
import redis
from rest_framework.test import APIClient

from tests.support import free_port, migrated_env, start_central

pytestmark = pytest.mark.django_db


#: 30 s into a minute and 30 min into an hour: limits count in fixed windows (per minute,
#: per hour), and requests that straddled a window boundary would be counted in two.
MID_WINDOW = 1_800_001_830.0


@pytest.fixture(autouse=True)
def _inside_one_window(monkeypatch):
    """The in-process tests count on a clock set inside one window (no wait for one)."""
    from central.core import throttling

    monkeypatch.setattr(throttling, "clock", lambda: MID_WINDOW)


def test_auth_endpoint_allows_5_per_minute_then_429(tenants):
    client = APIClient()
    codes = [
        client.post("/api/v1/auth/token/", {"username": "alice", "password": "errada"}, format="json").status_code
        for _ in range(6)
    ]
    assert codes[:5] == [401] * 5
    assert codes[5] == 429
    response = client.post("/api/v1/auth/token/", {"username": "alice", "password": "senha-forte-123"}, format="json")
    assert response.status_code == 429, "even the right password waits once the limit is hit"
    assert int(response["Retry-After"]) >= 1
    assert response.json()["error"]["code"] == "throttled"


def test_api_limit_is_per_user(tenants, api_as, settings):
    settings.RATE_API = "3/min,1000/hour"
    alice, bob = api_as(tenants["alice"]), api_as(tenants["bob"])
    assert [alice.get("/api/v1/me/").status_code for _ in range(4)] == [200, 200, 200, 429]
    assert bob.get("/api/v1/me/").status_code == 200


def test_hourly_window_applies_too(tenants, api_as, settings):
    settings.RATE_API = "100/min,2/hour"
    alice = api_as(tenants["alice"])
    assert [alice.get("/api/v1/me/").status_code for _ in range(3)] == [200, 200, 429]


def test_limit_is_shared_across_two_web_processes(tmp_path, redis_url):
    """Two `central web` processes on one Redis: the 6th login attempt is refused wherever it lands."""
    # Already migrated (a copy of the session's template): migrating costs seconds per test.
    # One hourly window (the period is not the point): a burst straddles its edge only in
    # the hour's last seconds, where the test waits for the next hour (once in 240 runs).
    env = migrated_env(tmp_path / "data", REDIS_URL=redis_url, CENTRAL_RATE_AUTH="5/hour")
    # The hour's counters of an earlier run on this Redis (same address) would count too.
    redis.Redis.from_url(redis_url).flushdb()
    ports = [free_port(), free_port()]
    procs = [
        start_central(["web", "--port", str(p)], env, p, tmp_path / f"web{i}.log") for i, p in enumerate(ports)
    ]
    try:
        if time.time() % 3600 > 3585:  # the processes took a while to start
            time.sleep(3601 - time.time() % 3600)
        codes = []
        for i in range(6):
            url = f"{procs[i % 2].url}/api/v1/auth/token/"
            codes.append(httpx.post(url, json={"username": "ninguem", "password": "x"}, timeout=10).status_code)
        assert codes[:5] == [401] * 5, codes
        assert codes[5] == 429, codes
    finally:
        for proc in procs:
            proc.stop()
