"""Redis away: the cache (rate limits, sign-in limits, revoked token families) falls back to
a local window instead of answering 500; stale members of the live groups are trimmed.

Each test that stops Redis starts its own redis-server (the suite's shared one is never
stopped)."""

from __future__ import annotations

import asyncio
import logging

import pytest
from django.test import override_settings

from tests.ops.services import Redis, shared_tmp


@pytest.fixture
def own_redis():
    server = Redis(shared_tmp("central-redis-"))
    server.start()
    yield server
    if server.proc is not None and server.proc.poll() is None:
        server.stop()


def _resilient(url: str) -> dict:
    return {"default": {"BACKEND": "central.core.cache.ResilientRedisCache", "LOCATION": url,
                        "KEY_PREFIX": "t", "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}}}


@pytest.mark.django_db
def test_api_and_rate_limit_keep_working_while_redis_is_down(own_redis, tenants, api_as, settings, caplog,
                                                             monkeypatch):
    """Before: every API call answered 500 (ConnectionError from the limiter's incr)."""
    from central.core import cache as resilient

    monkeypatch.setattr(resilient, "RETRY_SECONDS", 0.2)
    settings.RATE_API = "5/min"
    with override_settings(CACHES=_resilient(own_redis.url)):
        client = api_as(tenants["alice"])
        assert client.get("/api/v1/me/").status_code == 200  # counted in Redis
        own_redis.stop()
        caplog.set_level(logging.INFO, logger="central.cache")
        codes = [client.get("/api/v1/me/").status_code for _ in range(6)]
        # the local window counts from zero: 5 allowed, then 429, never 500
        assert codes == [200] * 5 + [429], codes
        assert resilient.REDIS_UP._value.get() == 0
        warnings = [r for r in caplog.records if r.levelname == "WARNING" and r.name == "central.cache"]
        assert len(warnings) == 1 and "Redis cache unreachable" in warnings[0].getMessage()
        own_redis.start()
        # the breaker lets Redis be tried again; Redis has its own count (1) from before
        asyncio.run(asyncio.sleep(0.25))
        assert client.get("/api/v1/me/").status_code == 200
        assert resilient.REDIS_UP._value.get() == 1
        assert any("answers again" in r.getMessage() for r in caplog.records)


@pytest.mark.django_db
def test_a_failed_sign_in_with_redis_down_is_a_401_not_a_500(own_redis, tenants, monkeypatch):
    from rest_framework.test import APIClient

    from central.core import cache as resilient

    monkeypatch.setattr(resilient, "RETRY_SECONDS", 0.2)
    with override_settings(CACHES=_resilient(own_redis.url)):
        own_redis.stop()
        answer = APIClient().post("/api/v1/auth/token/", {"username": "alice", "password": "errada"}, format="json")
        assert answer.status_code == 401, answer.content
        good = APIClient().post("/api/v1/auth/token/", {"username": "alice", "password": "senha-forte-123"},
                                format="json")
        assert good.status_code == 200


async def test_stale_members_of_the_live_groups_are_trimmed(redis_url):
    """A web process that is gone (or has no socket left to receive for it) leaves its
    sockets in the groups; its queue fills and every group_send reported "channels over
    capacity" until the group membership expired (a day)."""
    from channels_redis.core import RedisChannelLayer

    from central.core.live import trim_stale_members

    def process_layer():  # one per web process
        return RedisChannelLayer(hosts=[redis_url], prefix="central-trim-test", capacity=3)

    alive, gone = process_layer(), process_layer()
    live, stale = await alive.new_channel(), await gone.new_channel()
    group = "org-999"
    await alive.group_add(group, live)
    await gone.group_add(group, stale)
    for n in range(3):
        await alive.group_send(group, {"type": "live.update", "n": n})
        assert (await alive.receive(live))["n"] == n  # the live process drains its queue
    assert await trim_stale_members(alive, [group]) == 1
    members = await alive.connection(alive.consistent_hash(group)).zrange(alive._group_key(group), 0, -1)
    assert [m.decode() for m in members] == [live]
    await alive.flush()
    for layer in (alive, gone):
        await layer.close_pools()
