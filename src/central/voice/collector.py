"""When the voice process's garbage collector runs: between two bursts of writes.

CPython starts a collection from whichever allocation crosses its threshold, so at 1,000
calls a young collection (0.1-2 ms, bench/audiosocket_load.py with ``gc.DEBUG_STATS``)
lands inside a burst of writes about once a second, and every frame after it in that
burst is late by as much.  :meth:`CollectorSchedule.after_burst` runs the collections
CPython would run, on its own counters and thresholds, right after a burst, when the
next one is still a phase (5 ms) away.  It starts them when the young counter is
half-way to CPython's trigger, so the trigger itself is rarely reached inside a burst.
Automatic collection stays on: a pacer that stops ticking (no calls, a test's loop left
behind) leaves the process collected as CPython does.

A full collection walks every tracked object, about 72 per call: 15-40 ms at 1,000 calls
(the bench's ``fullgc`` column), a stall no placement hides.  CPython 3.11 runs one when
``gc.get_count()[2]`` passes its threshold *and* the objects that reached the old
generation since the last full collection are a quarter of the objects that survived it
(``Modules/gcmodule.c``, ``long_lived_pending > long_lived_total / 4``: it keeps full
collections from making the collector quadratic).  Python does not expose those two
figures, so :meth:`due` measures the old generation's size instead; it decides as CPython
would, so memory behaves as it would, and only the moment moves.
"""

from __future__ import annotations

import gc


class CollectorSchedule:
    """Young, middle and full collections placed by :meth:`after_burst`."""

    def __init__(self) -> None:
        self.collections = [0, 0, 0]  # run by this schedule, per generation
        #: Objects in the old generation after the last full collection (CPython's
        #: ``long_lived_total``), measured when this schedule ran it, or the first time it
        #: looked after one it did not run (``gc.collect()`` elsewhere, CPython's own).
        self.survivors = 0
        self._fulls_seen = -1

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
        if old >= t2 and self._old_generation_grew_a_quarter():
            return 2
        return 1

    def _old_generation_grew_a_quarter(self) -> bool:
        """CPython's rule for a full collection, on the old generation's size (a list of
        it: about a millisecond at 1,000 calls, made at most once per ``t2`` middle
        collections, between bursts)."""
        size = len(gc.get_objects(generation=2))
        fulls = gc.get_stats()[2]["collections"]
        if fulls != self._fulls_seen:  # one ran that this schedule did not measure
            self._fulls_seen, self.survivors = fulls, size
            return False
        return size - self.survivors > self.survivors // 4

    def after_burst(self) -> None:
        generation = self.due()
        if generation is None:
            return
        gc.collect(generation)
        self.collections[generation] += 1
        if generation == 2:
            self.survivors = len(gc.get_objects(generation=2))
            self._fulls_seen = gc.get_stats()[2]["collections"]
