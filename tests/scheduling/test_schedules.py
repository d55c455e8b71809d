"""The agenda's periodic jobs are declared and point at functions without arguments."""

from __future__ import annotations

import inspect
from importlib import import_module

import pytest

pytestmark = pytest.mark.backend_free


def test_schedule_targets_resolve():
    from central.scheduling.schedules import SCHEDULE

    names = {job.name for job in SCHEDULE}
    assert {"scheduling.reminders", "scheduling.expire_holds", "scheduling.waitlist_offers"} <= names
    for job in SCHEDULE:
        module, _, attr = job.target.rpartition(".")
        fn = getattr(import_module(module), attr)
        assert all(p.default is not inspect.Parameter.empty for p in inspect.signature(fn).parameters.values())
