"""Periodic jobs: one table, run by Celery beat in production and in-process by ``central up``."""

from __future__ import annotations

import asyncio
import sys
import threading
import types
from datetime import datetime, timedelta
from importlib.machinery import ModuleSpec
from zoneinfo import ZoneInfo

import pytest

from central.core import periodic
from central.core.periodic import Periodic

SP = ZoneInfo("America/Sao_Paulo")
pytestmark = pytest.mark.backend_free


def test_a_job_needs_exactly_one_of_every_or_at():
    with pytest.raises(ValueError, match="exactly one"):
        Periodic("x", "m.f")
    with pytest.raises(ValueError, match="exactly one"):
        Periodic("x", "m.f", every=5, at="03:00")
    with pytest.raises(ValueError, match="HH:MM"):
        Periodic("x", "m.f", at="25:00")
    with pytest.raises(ValueError, match="positive"):
        Periodic("x", "m.f", every=0)


def test_daily_job_is_due_at_the_next_local_time():
    job = Periodic("backup", "m.f", at="03:00")
    before = datetime(2026, 11, 30, 2, 0, tzinfo=SP)
    assert job.next_due(before, SP) == datetime(2026, 11, 30, 3, 0, tzinfo=SP)
    at_time = datetime(2026, 11, 30, 3, 0, tzinfo=SP)
    assert job.next_due(at_time, SP) == datetime(2026, 12, 1, 3, 0, tzinfo=SP)
    # A UTC clock gives the same local answer (03:00 in São Paulo is 06:00 UTC).
    utc = datetime(2026, 11, 30, 5, 59, tzinfo=ZoneInfo("UTC"))
    assert job.next_due(utc, SP) == datetime(2026, 11, 30, 3, 0, tzinfo=SP)


def _module(name: str, schedule: list) -> str:
    module = types.ModuleType(name)
    module.__spec__ = ModuleSpec(name, loader=None)
    module.SCHEDULE = schedule
    sys.modules[name] = module
    return name


def test_collect_reads_every_schedules_module_and_refuses_a_name_twice(monkeypatch):
    a = _module("tests_periodic_a", [Periodic("a.one", "x.y", every=60)])
    b = _module("tests_periodic_b", [Periodic("b.daily", "x.z", at="03:30")])
    jobs = periodic.collect([a, b, "tests_periodic_absent"])
    assert sorted(jobs) == ["a.one", "b.daily"]
    dup = _module("tests_periodic_dup", [Periodic("a.one", "x.w", every=5)])
    with pytest.raises(ValueError, match="declared twice"):
        periodic.collect([a, dup])


def test_beat_schedule_runs_every_job_through_the_one_task():
    from celery.schedules import crontab

    jobs = {"a": Periodic("a", "x.y", every=60), "b": Periodic("b", "x.z", at="03:30")}
    schedule = periodic.beat_schedule(jobs)
    assert schedule["a"] == {"task": periodic.RUN_TASK, "schedule": timedelta(seconds=60), "args": ("a",)}
    assert schedule["b"]["schedule"] == crontab(hour=3, minute=30)
    from central.core.tasks import run_periodic

    assert run_periodic.name == periodic.RUN_TASK


calls: list[str] = []
gate = threading.Event()


def record() -> None:
    calls.append(threading.current_thread().name)


def boom() -> None:
    raise RuntimeError("job failed")


def slow() -> None:
    calls.append("slow")
    gate.wait(5)


def test_run_logs_a_failure_instead_of_raising(caplog):
    jobs = {"boom": Periodic("boom", f"{__name__}.boom", every=1)}
    periodic.run("boom", jobs)
    assert "periodic job boom failed" in caplog.text
    periodic.run("nobody", jobs)
    assert "not declared" in caplog.text


async def test_in_process_runner_runs_due_jobs_and_never_overlaps_one(caplog):
    """A fake clock drives the runner: its sleeps move the clock instead of waiting."""
    calls.clear()
    gate.clear()
    clock = [datetime(2026, 11, 30, 12, 0, tzinfo=SP)]
    jobs = {
        "record": Periodic("record", f"{__name__}.record", every=10),
        "slow": Periodic("slow", f"{__name__}.slow", every=10),
    }

    async def fake_sleep(seconds: float) -> None:
        clock[0] += timedelta(seconds=seconds)
        await asyncio.sleep(0.005)  # let the jobs' threads make progress

    runner = asyncio.create_task(periodic.run_forever(jobs, now=lambda: clock[0], zone=SP, sleep=fake_sleep))
    async with asyncio.timeout(10):
        while calls.count("slow") < 1 or len([c for c in calls if c != "slow"]) < 3:
            await asyncio.sleep(0.01)
        while "still running" not in caplog.text:
            await asyncio.sleep(0.01)
    gate.set()
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await runner
    assert calls.count("slow") == 1  # skipped while it ran, never run twice at once
    assert clock[0] - datetime(2026, 11, 30, 12, 0, tzinfo=SP) >= timedelta(seconds=30)
