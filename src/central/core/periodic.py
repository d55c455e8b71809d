"""Periodic jobs: one table declared by the apps, two runners.

Each app declares its jobs in ``central/<app>/schedules.py`` as ``SCHEDULE = [Periodic(...)]``.
Production runs them through Celery beat (one generic task, ``central.periodic.run``, takes
the job's name, so an app needs no Celery task of its own and the beat process imports no
app code); ``central up`` runs the same table with :func:`run_forever`. Either runner may
run a job twice at once (two workers, a beat restarted, an overlap after downtime), so a job
claims its rows in the database itself: exactly-once is the job's contract, not the runner's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import import_module
from importlib.util import find_spec
from zoneinfo import ZoneInfo

log = logging.getLogger("central.periodic")

#: The one Celery task name every beat entry points at (``central.core.tasks``).
RUN_TASK = "central.periodic.run"


@dataclass(frozen=True)
class Periodic:
    """A job: ``target`` is the dotted path of a function without arguments; it runs every
    ``every`` seconds, or daily at ``at`` ("HH:MM") in the installation's time zone."""

    name: str
    target: str
    every: float | None = None
    at: str | None = None

    def __post_init__(self) -> None:
        if (self.every is None) == (self.at is None):
            raise ValueError(f"periodic job {self.name!r}: give exactly one of every= or at=")
        if self.every is not None and self.every <= 0:
            raise ValueError(f"periodic job {self.name!r}: every= must be positive")
        if self.at is not None:
            self.daily_time()  # validates the format at import, not at 3 a.m.

    def daily_time(self) -> tuple[int, int]:
        try:
            hour, minute = (int(part) for part in str(self.at).split(":"))
        except ValueError:
            raise ValueError(f"periodic job {self.name!r}: at= must be 'HH:MM', got {self.at!r}") from None
        if not (0 <= hour < 24 and 0 <= minute < 60):
            raise ValueError(f"periodic job {self.name!r}: at= must be 'HH:MM', got {self.at!r}")
        return hour, minute

    def next_due(self, after: datetime, zone: ZoneInfo) -> datetime:
        """The first time strictly after ``after`` (aware) when the job is due."""
        if self.every is not None:
            return after + timedelta(seconds=self.every)
        hour, minute = self.daily_time()
        local = after.astimezone(zone)
        due = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if due <= local:
            due = (local + timedelta(days=1)).replace(hour=hour, minute=minute, second=0, microsecond=0)
        return due


def collect(module_names: Iterable[str]) -> dict[str, Periodic]:
    """Jobs of the given ``schedules`` modules (those that exist), by name."""
    jobs: dict[str, Periodic] = {}
    for module_name in module_names:
        if find_spec(module_name) is None:
            continue
        for job in getattr(import_module(module_name), "SCHEDULE", []):
            if job.name in jobs:
                raise ValueError(f"periodic job {job.name!r} is declared twice ({module_name})")
            jobs[job.name] = job
    return jobs


def all_jobs() -> dict[str, Periodic]:
    """Every job declared by the installed ``central.*`` apps."""
    from django.conf import settings

    apps = [app for app in settings.INSTALLED_APPS if app.startswith("central.")]
    return collect(f"{app}.schedules" for app in apps)


def installation_zone() -> ZoneInfo:
    from django.conf import settings

    return ZoneInfo(getattr(settings, "CELERY_TIMEZONE", None) or settings.TIME_ZONE)


def resolve(target: str) -> Callable[[], object]:
    module_name, _, attr = target.rpartition(".")
    return getattr(import_module(module_name), attr)


def run(name: str, jobs: dict[str, Periodic] | None = None) -> None:
    """Run one job by name now, logging its outcome (a failure is logged, not raised: the
    next run is the retry)."""
    job = (jobs or all_jobs()).get(name)
    if job is None:
        log.error("periodic job %s is not declared by any app", name)
        return
    started = time.monotonic()
    try:
        resolve(job.target)()
    except Exception:
        log.exception("periodic job %s failed", name)
        return
    log.info("periodic job %s done in %.3f s", name, time.monotonic() - started)


def beat_schedule(jobs: dict[str, Periodic] | None = None) -> dict[str, dict]:
    """Celery's ``beat_schedule`` for every job."""
    from celery.schedules import crontab

    schedule: dict[str, dict] = {}
    for job in (jobs if jobs is not None else all_jobs()).values():
        if job.every is not None:
            when: object = timedelta(seconds=job.every)
        else:
            hour, minute = job.daily_time()
            when = crontab(hour=hour, minute=minute)
        schedule[job.name] = {"task": RUN_TASK, "schedule": when, "args": (job.name,)}
    return schedule


async def run_forever(
    jobs: dict[str, Periodic] | None = None,
    now: Callable[[], datetime] | None = None,
    zone: ZoneInfo | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """The in-process runner of ``central up``: each job in a thread when due, never two
    runs of the same job at once here (a run still going when the next is due is skipped
    and logged)."""
    from django.utils import timezone

    jobs = jobs if jobs is not None else await asyncio.to_thread(all_jobs)
    if not jobs:
        return
    now = now or timezone.now
    zone = zone or installation_zone()
    due = {name: job.next_due(now(), zone) for name, job in jobs.items()}
    running: dict[str, asyncio.Task] = {}
    try:
        while True:
            name = min(due, key=due.__getitem__)
            delay = (due[name] - now()).total_seconds()
            if delay > 0:
                await sleep(min(delay, 60.0))  # re-read the clock at least each minute
                continue
            due[name] = jobs[name].next_due(now(), zone)
            if name in running and not running[name].done():
                log.warning("periodic job %s still running; this run is skipped", name)
                continue
            running[name] = asyncio.create_task(asyncio.to_thread(run, name, jobs))
            await asyncio.sleep(0)  # a clock far behind must not starve the loop
    finally:
        for task in running.values():
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*running.values(), return_exceptions=True)
