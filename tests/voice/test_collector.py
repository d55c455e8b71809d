"""The pacer's garbage-collection schedule on CPython's real counters."""

from __future__ import annotations

import gc

import pytest

from central.voice.collector import CollectorSchedule

pytestmark = pytest.mark.backend_free


@pytest.fixture
def collector_state():
    """Known thresholds and counts; the process's own restored afterwards."""
    thresholds, enabled = gc.get_threshold(), gc.isenabled()
    gc.collect()
    gc.set_threshold(10_000, 3, 2)  # no automatic collection inside a test's few lists
    yield
    gc.set_threshold(*thresholds)
    (gc.enable if enabled else gc.disable)()


def allocate(n: int) -> list:
    return [[] for _ in range(n)]  # n tracked objects, kept alive


def test_a_young_collection_runs_half_way_to_cpythons_own_trigger(collector_state):
    clock = [1000.0]
    schedule = CollectorSchedule(full_interval=60, clock=lambda: clock[0])
    keep = allocate(4_000)
    assert schedule.due() is None  # 4,000 of 10,000: not yet
    keep += allocate(1_100)
    assert schedule.due() == 0
    schedule.after_burst()
    assert gc.get_count()[0] < 100 and schedule.collections == [1, 0, 0]


def test_middle_and_full_collections_follow_the_counters_and_the_interval(collector_state):
    clock = [1000.0]
    schedule = CollectorSchedule(full_interval=60, clock=lambda: clock[0])
    ran = []
    for _ in range(12):
        keep = allocate(5_100)
        ran.append(schedule.due())
        schedule.after_burst()
        del keep
    # gen 1 after every 3 young ones; gen 2 is due on the counters by the 3rd gen 1, but
    # the last full collection was less than the interval ago.
    assert ran == [0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1]
    assert gc.get_count()[2] >= 2
    clock[0] += 61
    for _ in range(4):  # a freed object takes one off CPython's young count: free first
        keep = None
        keep = allocate(5_100)
        if schedule.due() == 2:
            break
        schedule.after_burst()
    assert schedule.due() == 2
    schedule.after_burst()
    del keep
    assert schedule.collections[2] == 1 and schedule.last_full == clock[0]
    assert gc.get_count()[2] == 0


def test_collection_switched_off_by_someone_else_stays_off(collector_state):
    schedule = CollectorSchedule()
    gc.disable()
    keep = allocate(6_000)
    assert schedule.due() is None
    schedule.after_burst()
    assert schedule.collections == [0, 0, 0] and gc.get_count()[0] >= 5_000
    del keep
