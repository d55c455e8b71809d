"""Celery app for production background jobs (Redis broker). Embedded mode runs jobs eagerly.

The beat schedule is not written here: it is built from the ``schedules.py`` of every app
(``central.core.periodic``), the same table ``central up`` runs in-process.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "central.settings")

app = Celery("central")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _periodic_jobs(sender: Celery, **kwargs) -> None:
    from central.core.periodic import beat_schedule

    sender.conf.beat_schedule = {**beat_schedule(), **(sender.conf.beat_schedule or {})}
