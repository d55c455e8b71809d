"""Rate limits with several windows each (e.g. ``5/min,100/hour``).

DRF's SimpleRateThrottle takes one rate per class; contact-center APIs need a burst limit
and an hourly ceiling together. The counters live in Django's cache, which is Redis when
``REDIS_URL`` is set, so every web process shares them.
"""

from __future__ import annotations

import contextlib
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

from .clientaddr import client_ip

#: The clock the windows are cut from (fixed windows: ``int(now // period)``). A test sets
#: it to the middle of a window so a burst of requests is never split across two windows
#: (it used to sleep until the next minute when it was late in one: up to 16 s a test).
clock = time.time

_PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}


def parse_rates(text: str) -> list[tuple[int, int]]:
    """``"5/min,100/hour"`` -> ``[(5, 60), (100, 3600)]``."""
    rates = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        count, _, period = part.partition("/")
        rates.append((int(count), _PERIODS[period.strip().lower()]))
    return rates


def count(scope: str, ident: str, rates: list[tuple[int, int]], *, amount: int = 1) -> tuple[float | None, list[str]]:
    """Add ``amount`` to the counters of ``ident`` in every window of ``rates``.

    Returns (seconds to wait when any window is over its limit else None, the keys counted)
    so a caller can take a hit back later (the sign-in limit counts only failures).
    """
    now = clock()
    wait: float | None = None
    keys = []
    for limit, period in rates:
        window = int(now // period)
        key = f"throttle:{scope}:{ident}:{period}:{window}"
        keys.append(key)
        # add() then incr() is atomic on Redis; the window key expires by itself.
        cache.add(key, 0, timeout=period + 1)
        try:
            used = cache.incr(key, amount)
        except ValueError:  # expired between add and incr
            cache.set(key, amount, timeout=period + 1)
            used = amount
        if used > limit:
            wait = max(wait or 0.0, (window + 1) * period - now)
    return wait, keys


def uncount(keys: list[str]) -> None:
    """Take back one hit counted by :func:`count` (in the windows it was counted in)."""
    for key in keys:
        with contextlib.suppress(ValueError):  # the window already expired
            cache.decr(key)


class MultiRateThrottle(BaseThrottle):
    scope = ""
    rates_setting = ""

    def __init__(self) -> None:
        self.rates = parse_rates(getattr(settings, self.rates_setting))
        self._wait: float | None = None

    def ident(self, request, view) -> str | None:
        raise NotImplementedError

    def get_ident(self, request) -> str:
        """The client address (central.core.clientaddr), never DRF's own reading of
        X-Forwarded-For, which believes any client when NUM_PROXIES is unset."""
        return client_ip(request) or "unknown"

    def allow_request(self, request, view) -> bool:
        ident = self.ident(request, view)
        if ident is None:
            return True
        self._wait, _keys = count(self.scope, ident, self.rates)
        return self._wait is None

    def wait(self) -> float | None:
        return self._wait


class AuthThrottle(MultiRateThrottle):
    """Per client address: stops password guessing without locking the real user out."""

    scope = "auth"
    rates_setting = "RATE_AUTH"

    def ident(self, request, view):
        return self.get_ident(request)


class ApiUserThrottle(MultiRateThrottle):
    scope = "api"
    rates_setting = "RATE_API"

    def ident(self, request, view):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return f"u{user.pk}"
        return f"ip{self.get_ident(request)}"
