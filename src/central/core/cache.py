"""The Redis cache, degrading to an in-process cache while Redis is unreachable.

Production keeps the rate-limit windows (``central.core.throttling``), the sign-in
limits, the revoked token families and the dialer's live figures in Django's cache, which
is Redis so that every web process shares them. With Django's own ``RedisCache`` a Redis
outage turned every API call into a 500 (the limiter's ``incr`` raised ``ConnectionError``
before the view ran). :class:`ResilientRedisCache` catches Redis' connection and timeout
errors, serves the operation from a local ``LocMemCache`` of this process instead, and
stays on it for :data:`RETRY_SECONDS` before trying Redis again (a refused connection is
cheap, a black-holed one costs the socket timeout: neither should be paid per request).

What that means while Redis is down, for at most the outage:

- rate limits and sign-in limits count per process (a local window): a client spread
  over N web processes gets up to N times its limit, never unlimited;
- a token family revoked during the outage is revoked in this process only (its access
  tokens expire within ``CENTRAL_JWT_ACCESS_MINUTES`` anyway; refresh tokens are
  blacklisted in the database regardless);
- cached figures (the dialer's live state) read as missing.

Each switch is logged (``central.cache``: a warning when Redis goes away, at most one a
minute while it stays away, info when it is back) and counted in
``central_cache_fallback_total`` / ``central_cache_redis_up``.
"""

from __future__ import annotations

import logging
import threading
import time

from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from prometheus_client import Counter, Gauge

log = logging.getLogger("central.cache")

#: Seconds the local cache serves alone after a Redis error before Redis is tried again.
RETRY_SECONDS = 5.0
#: Seconds between two "still unreachable" warnings.
WARN_EVERY = 60.0

FALLBACK = Counter("central_cache_fallback_total",
                   "Cache operations served by the in-process cache because Redis was unreachable",
                   ["operation"])
REDIS_UP = Gauge("central_cache_redis_up", "1 while the shared (Redis) cache answers, 0 while it does not")


def _redis_errors() -> tuple[type[BaseException], ...]:
    import redis

    return (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, ConnectionError, TimeoutError)


class _Breaker:
    """Process-wide state: Django builds one cache object per thread, the outage is one."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.down_until = 0.0
        self.down_since: float | None = None
        self.last_warning = 0.0

    def open(self) -> bool:
        return time.monotonic() < self.down_until

    def trip(self, exc: BaseException) -> None:
        now = time.monotonic()
        with self.lock:
            self.down_until = now + RETRY_SECONDS
            first = self.down_since is None
            if first:
                self.down_since = now
            if first or now - self.last_warning >= WARN_EVERY:
                self.last_warning = now
                log.warning("Redis cache unreachable (%s): rate limits and cached values are "
                            "per process until it answers again", exc)
        REDIS_UP.set(0)

    def closed_again(self) -> None:
        if self.down_since is None:
            return
        with self.lock:
            if self.down_since is None:
                return
            log.info("Redis cache answers again after %.1f s", time.monotonic() - self.down_since)
            self.down_since = None
        REDIS_UP.set(1)


BREAKER = _Breaker()
REDIS_UP.set(1)


def _resilient(name: str):
    def method(self, *args, **kwargs):
        if not BREAKER.open():
            try:
                result = getattr(RedisCache, name)(self, *args, **kwargs)
            except self._errors as exc:
                BREAKER.trip(exc)
            else:
                BREAKER.closed_again()
                return result
        FALLBACK.labels(name).inc()
        return getattr(self._local, name)(*args, **kwargs)

    method.__name__ = name
    method.__doc__ = f"RedisCache.{name}, or the local cache while Redis is unreachable."
    return method


class ResilientRedisCache(RedisCache):
    """Django's RedisCache with an in-process fallback (see the module docstring)."""

    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        # One shared store per process (LocMemCache keeps its data by name).
        self._local = LocMemCache("central-redis-fallback", {"OPTIONS": {"MAX_ENTRIES": 20_000}})
        self._errors = _redis_errors()

    add = _resilient("add")
    get = _resilient("get")
    set = _resilient("set")
    touch = _resilient("touch")
    delete = _resilient("delete")
    get_many = _resilient("get_many")
    has_key = _resilient("has_key")
    incr = _resilient("incr")
    set_many = _resilient("set_many")
    delete_many = _resilient("delete_many")
    clear = _resilient("clear")
