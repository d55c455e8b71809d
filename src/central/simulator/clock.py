"""Clocks for the simulator: one virtual, one real, same two-method interface.

The world model (``world.py``) never reads a clock: it is given times. The simulator asks
its clock two things: ``now()`` (seconds since the simulation started, the World's time
axis) and ``epoch()`` (the wall-clock time Asterisk would print at that instant, used for
``Uniqueid`` values such as ``1795445790.22``, ``Ping`` timestamps, ``EventTV`` and
``LoginTime``). Keeping both on one object lets a virtual 8-hour shift print the
timestamps of an 8-hour shift while taking seconds of real time.

Evidence: not an Asterisk behaviour (the virtual clock is the simulator's own); the
``epoch`` values it feeds follow the captures' formats.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float: ...

    def epoch(self) -> float: ...


class RealClock:
    """Real time: ``now`` follows ``time.monotonic`` (immune to NTP steps), ``epoch``
    follows ``time.time``."""

    virtual = False

    def __init__(self) -> None:
        self._t0 = time.monotonic()
        self._epoch0 = time.time()

    def now(self) -> float:
        return time.monotonic() - self._t0

    def epoch(self) -> float:
        return self._epoch0 + self.now()


class VirtualClock:
    """Time that only moves when told to (``set``/``advance``); never goes backwards."""

    virtual = True

    def __init__(self, start_epoch: float | None = None) -> None:
        self._now = 0.0
        self._epoch0 = time.time() if start_epoch is None else start_epoch

    def now(self) -> float:
        return self._now

    def epoch(self) -> float:
        return self._epoch0 + self._now

    def set(self, t: float) -> None:
        if t > self._now:
            self._now = t

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a virtual clock does not go backwards")
        self._now += seconds
