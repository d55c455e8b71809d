"""The pacer's garbage-collection schedule on CPython's real counters."""

from __future__ import annotations

import gc

import pytest

from central.voice.collector import NO_FULL_COLLECTIONS, YOUNG_INTERVAL, CollectorSchedule

pytestmark = pytest.mark.backend_free


def STILL() -> float:  # noqa: N802 - a clock that never moves: counters alone decide
    return 0.0


@pytest.fixture
def collector_state():
    """Known thresholds and counts; the process's own restored afterwards."""
    thresholds, enabled = gc.get_threshold(), gc.isenabled()
    gc.collect()
    gc.freeze()  # the old generation holds the test's objects only
    gc.set_threshold(10_000, 3, 2)  # no automatic collection inside a test's few lists
    yield
    gc.set_threshold(*thresholds)
    (gc.enable if enabled else gc.disable)()
    gc.unfreeze()


def allocate(n: int) -> list:
    return [[] for _ in range(n)]  # n tracked objects, kept alive


def test_a_young_collection_runs_half_way_to_cpythons_own_trigger(collector_state):
    schedule = CollectorSchedule(clock=STILL)
    keep = allocate(4_000)
    assert schedule.due() is None  # 4,000 of 10,000: not yet
    keep += allocate(1_100)
    assert schedule.due() == 0
    schedule.after_burst()
    assert gc.get_count()[0] < 100 and schedule.collections == [1, 0, 0]


def test_a_full_collection_runs_when_the_old_generation_grew_a_quarter(collector_state):
    """CPython's rule (long_lived_pending > long_lived_total / 4), measured."""
    schedule = CollectorSchedule(clock=STILL)
    alive: list = []
    ran = []
    for _ in range(20):
        alive += allocate(5_100)  # survives every collection: reaches the old generation
        ran.append(schedule.due())
        schedule.after_burst()
        if ran[-1] == 2:  # everything alive is in the old generation now
            assert len(alive) <= schedule.survivors < len(alive) + 1_000
    assert 2 in ran, ran
    first_full = ran.index(2)
    assert ran[:4] == [0, 0, 0, 1]  # a middle collection after every 3 young ones
    assert ran[:first_full].count(1) >= 2  # only once the middle counter passed 2
    assert schedule.collections[2] == ran.count(2)
    del alive


def test_no_full_collection_while_the_old_generation_holds_still(collector_state):
    """Batches that die young: the middle counter passes its threshold again and again,
    but the old generation does not grow, so CPython would not run a full collection."""
    schedule = CollectorSchedule(clock=STILL)
    ran = []
    for _ in range(24):
        batch = allocate(5_100)
        ran.append(schedule.due())
        schedule.after_burst()  # the batch survives this one, then dies
        del batch
    assert ran.count(1) >= 4 and gc.get_count()[2] >= 2  # due on the counters...
    assert schedule.collections[2] == 0  # ...but nothing to gain


def test_collection_switched_off_by_someone_else_stays_off(collector_state):
    schedule = CollectorSchedule(clock=STILL)
    gc.disable()
    keep = allocate(6_000)
    assert schedule.due() is None
    schedule.after_burst()
    assert schedule.collections == [0, 0, 0] and gc.get_count()[0] >= 5_000
    del keep


def test_while_calls_are_up_cpythons_own_full_collections_are_off(collector_state):
    """At 1,200 calls an allocation started CPython's own full collection inside a burst
    (31 ms, 80,000 objects); while a pacer runs, full collections are the schedule's."""
    first, second = CollectorSchedule(clock=STILL), CollectorSchedule(clock=STILL)
    first.start()
    second.start()
    assert gc.get_threshold() == (10_000, 3, NO_FULL_COLLECTIONS)
    first.stop()
    assert gc.get_threshold()[2] == NO_FULL_COLLECTIONS  # one pacer still runs
    alive: list = []
    ran = []
    for _ in range(20):  # the schedule still decides on CPython's own threshold (2)
        alive += allocate(5_100)
        ran.append(second.due())
        second.after_burst()
    assert 2 in ran
    second.stop()
    assert gc.get_threshold() == (10_000, 3, 2)
    second.stop()  # twice: no harm
    assert gc.get_threshold() == (10_000, 3, 2)
    del alive


def test_a_young_collection_runs_every_quarter_second_whatever_the_counter_says(collector_state):
    """CPython 3.11 takes one off the young counter for every tracked object freed, old
    ones too: with calls ending at 17 a second the counter stood still while 24,000 new
    objects piled up in the young generation (a 10-21 ms collection)."""
    now = [0.0]
    schedule = CollectorSchedule(clock=lambda: now[0])
    keep = allocate(200)
    assert schedule.due() is None
    now[0] += YOUNG_INTERVAL
    assert schedule.due() == 0
    schedule.after_burst()
    assert schedule.collections == [1, 0, 0] and schedule.last_young == now[0]
    assert schedule.due() is None  # the interval starts again
    del keep
