"""When the voice process's garbage collector runs: between two bursts of writes.

CPython starts a collection from whichever allocation crosses its threshold, so at 1,000
calls a young collection (0.1-2 ms, bench/audiosocket_load.py with ``gc.DEBUG_STATS``)
lands inside a burst of writes about once a second and every frame after it in that
burst is late by as much.  :meth:`CollectorSchedule.after_burst` runs the pacer's
collections itself, right after a burst when the next one is still a phase (5 ms) away,
as soon as CPython's young counter is half-way to its threshold: CPython's own trigger
is then rarely reached inside a burst.  Automatic collection stays on, so a pacer that
stops ticking (no calls, a test's loop left behind) leaves the process as CPython runs it.

A full collection walks every tracked object, about 72 per call: 15-40 ms at 1,000 calls
(the bench's ``fullgc`` column), a stall no placement hides.  The pacer runs one when
CPython's counters ask for it (``gc.get_count()[2]`` past its threshold) but at most once
per :data:`FULL_COLLECTION_INTERVAL`.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

#: Least time between two full collections the pacer starts, in seconds.
FULL_COLLECTION_INTERVAL = 300.0


class CollectorSchedule:
    """Young and full collections placed by :meth:`after_burst` on CPython's counters."""

    def __init__(self, full_interval: float = FULL_COLLECTION_INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.full_interval = full_interval
        self.clock = clock
        self.last_full = clock()
        self.collections = [0, 0, 0]  # run by this schedule, per generation

    def due(self) -> int | None:
        """The generation to collect now, or ``None``.  ``gc.get_count()``: tracked
        allocations since the last young collection, young collections since the last
        middle one, middle ones since the last full one; a collection of generation ``g``
        resets the counts up to ``g`` and bumps ``g + 1``, manual or automatic alike."""
        if not gc.isenabled():
            return None  # someone turned collection off (a test, a profiler): leave it so
        young, middle, old = gc.get_count()
        t0, t1, t2 = gc.get_threshold()
        if not t0 or young < t0 // 2:
            return None
        if middle < t1:
            return 0
        if old >= t2 and self.clock() - self.last_full >= self.full_interval:
            return 2
        return 1

    def after_burst(self) -> None:
        generation = self.due()
        if generation is None:
            return
        gc.collect(generation)
        self.collections[generation] += 1
        if generation == 2:
            self.last_full = self.clock()
