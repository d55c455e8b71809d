"""Celery tasks of the core: the one task every periodic job runs through (see periodic.py)."""

from celery import shared_task

from .periodic import RUN_TASK, run


@shared_task(name=RUN_TASK, ignore_result=True)
def run_periodic(name: str) -> None:
    run(name)
