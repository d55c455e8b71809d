"""When the voice process's garbage collector runs: between two bursts of writes.

CPython starts a collection from whichever allocation crosses its threshold, so at 1,000
calls a young collection (0.1-2 ms, bench/audiosocket_load.py with ``gc.DEBUG_STATS``)
lands inside a burst of writes about once a second, and every frame after it in that
burst is late by as much.  :meth:`CollectorSchedule.after_burst` runs the collections
CPython would run, on its own counters and thresholds, right after a burst, when the
next one is still a phase (5 ms) away.  It starts them when the young counter is
half-way to CPython's trigger, so the trigger itself is rarely reached inside a burst,
and at least every :data:`YOUNG_INTERVAL`: CPython 3.11 takes one off that counter for
every tracked object freed, old ones included, so with calls ending (and freed) at 17 a
second the counter stood still while 24,000 new objects piled up in the young
generation, and their collection took 10-21 ms (``gc.DEBUG_STATS``, bench ``--churn``).
Automatic young and middle collections stay on, for whatever allocates between bursts.

A full collection walks every tracked object, about 72 per call: 15-40 ms at 1,000 calls
(the bench's ``fullgc`` column), a stall no placement hides.  CPython 3.11 runs one when
``gc.get_count()[2]`` passes its threshold *and* the objects that reached the old
generation since the last full collection are a quarter of the objects that survived it
(``Modules/gcmodule.c``, ``long_lived_pending > long_lived_total / 4``: it keeps full
collections from making the collector quadratic).  Python does not expose those two
figures, so :meth:`due` measures the old generation's size instead, and so counts a
call's objects freed when it ended (``AudioSocketSession._finish``) as the shrinking they
are, where CPython counts only what reached the old generation, the new calls'
objects included: this rule ran no full collection in a minute of 1,000 calls with 17 a
second replaced (bench ``--churn 17 --seconds 60``).
While calls are up (:meth:`start` to :meth:`stop`), CPython's own full collections are
off (its third threshold raised): one started by an allocation at 1,200 calls walked
80,000 objects in 31 ms inside a burst.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

#: Longest time between two young collections the pacer runs, in seconds.
YOUNG_INTERVAL = 0.25
#: CPython's third threshold while calls are up: its own full collections never run.
NO_FULL_COLLECTIONS = 1 << 30

_running = 0  # schedules started and not stopped, process-wide
_saved_threshold: tuple[int, int, int] | None = None


class CollectorSchedule:
    """Young, middle and full collections placed by :meth:`after_burst`."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.last_young = clock()
        self.collections = [0, 0, 0]  # run by this schedule, per generation
        #: Objects in the old generation after the last full collection (CPython's
        #: ``long_lived_total``), measured when this schedule ran it, or the first time it
        #: looked after one it did not run (``gc.collect()`` elsewhere, CPython's own).
        self.survivors = 0
        self._fulls_seen = -1
        self.running = False

    def start(self) -> None:
        """Calls are up: full collections are this schedule's alone."""
        global _running, _saved_threshold
        if self.running:
            return
        self.running = True
        if _running == 0:
            _saved_threshold = gc.get_threshold()
            gc.set_threshold(_saved_threshold[0], _saved_threshold[1], NO_FULL_COLLECTIONS)
        _running += 1

    def stop(self) -> None:
        """No call left: CPython decides again."""
        global _running, _saved_threshold
        if not self.running:
            return
        self.running = False
        _running -= 1
        if _running == 0 and _saved_threshold is not None:
            t0, t1, _t2 = gc.get_threshold()  # keep what someone set meanwhile
            gc.set_threshold(t0, t1, _saved_threshold[2])
            _saved_threshold = None

    def due(self) -> int | None:
        """The generation to collect now, or ``None``.  ``gc.get_count()``: tracked
        allocations since the last young collection, young collections since the last
        middle one, middle ones since the last full one; a collection of generation ``g``
        resets the counts up to ``g`` and bumps ``g + 1``, manual or automatic alike."""
        if not gc.isenabled():
            return None  # someone turned collection off (a test, a profiler): leave it so
        young, middle, old = gc.get_count()
        t0, t1, t2 = gc.get_threshold()
        if _saved_threshold is not None:
            t2 = _saved_threshold[2]  # CPython's own, raised while calls are up
        if not t0 or (young < t0 // 2 and self.clock() - self.last_young < YOUNG_INTERVAL):
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
        size, fulls = self._old_generation()
        if fulls != self._fulls_seen:  # one ran that this schedule did not measure
            self._fulls_seen, self.survivors = fulls, size
            return False
        return size - self.survivors > self.survivors // 4

    @staticmethod
    def _old_generation() -> tuple[int, int]:
        """(objects in the old generation, full collections run so far)."""
        return len(gc.get_objects(generation=2)), gc.get_stats()[2]["collections"]

    def after_burst(self) -> None:
        generation = self.due()
        if generation is None:
            return
        gc.collect(generation)
        self.last_young = self.clock()
        self.collections[generation] += 1
        if generation == 2:
            self.survivors, self._fulls_seen = self._old_generation()
