"""The Redis channel layer, as the settings configure it, against a real Redis.

An idle ``receive`` is a blocking ``BZPOPMIN`` of ``brpop_timeout`` (5 s) repeated; with
redis-py 8's default 5 s socket timeout the pop and its one retry timed out and
``receive`` raised ``TimeoutError`` after 10 s. Every consumer (the live dashboards, the
agent's desk, the log console) receives that way, so each WebSocket that had nothing to say
for 10 s was closed, and the PBX link's action loop logged a traceback every 10 s.
"""

from __future__ import annotations

import asyncio

import pytest
from channels_redis.core import RedisChannelLayer

from central.settings import redis_channel_host_options

# Brings its own Redis (the session's redis_url), whichever backend the pass uses.
pytestmark = [pytest.mark.asyncio, pytest.mark.backend_free]


async def test_an_idle_receive_outlasts_two_blocking_pops_then_gets_its_message(redis_url):
    layer = RedisChannelLayer(hosts=[{"address": redis_url, **redis_channel_host_options()}])
    channel = await layer.new_channel()
    receive = asyncio.ensure_future(layer.receive(channel))
    try:
        # Two whole BZPOPMIN rounds and a second: where the old settings raised.
        done, _ = await asyncio.wait({receive}, timeout=2 * layer.brpop_timeout + 1)
        assert not done, f"receive ended while idle: {receive.exception() or receive.result()!r}"
        await layer.send(channel, {"type": "hello", "n": 1})
        assert await asyncio.wait_for(receive, 10) == {"type": "hello", "n": 1}
    finally:
        receive.cancel()
        await layer.flush()
        await layer.close_pools()
