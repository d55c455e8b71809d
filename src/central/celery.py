"""Celery app for production background jobs (Redis broker). Embedded mode runs jobs eagerly.

The beat schedule is not written here: it is built from the ``schedules.py`` of every app
(``central.core.periodic``), the same table ``central up`` runs in-process.

Logging: Celery configures logging itself unless a receiver of ``setup_logging`` answers.
Left alone it replaced the JSON handlers of settings.LOGGING with its plain-text format
and pointed ``sys.stdout``/``sys.stderr`` at a logger, so the interpreter's own traceback
of a crash (``central beat`` failing to open its schedule) was written to that logger one
``write()`` call at a time: one log record per fragment, down to single ``^`` characters.
The receiver below keeps Django's configuration (one JSON object per line, the exception
in the record's ``exc`` field) and leaves stdout/stderr alone.

Worker and beat log through Django's ``LOGGING`` (the project's JSON lines, request ids,
``CENTRAL_LOG_FILE``) rather than Celery's own plain-text setup, so ``central logs`` and
the live log console have their lines; both heartbeat like every Central process.
"""

import logging
import os

from celery import Celery, signals
from celery.signals import setup_logging

# Python warnings (Celery's SecurityWarning at start, deprecations) become JSON log lines
# instead of raw text on stderr.
logging.captureWarnings(True)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "central.settings")

app = Celery("central")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _periodic_jobs(sender: Celery, **kwargs) -> None:
    from central.core.periodic import beat_schedule

    sender.conf.beat_schedule = {**beat_schedule(), **(sender.conf.beat_schedule or {})}


@setup_logging.connect
def _keep_django_logging(**_kwargs) -> None:
    """Django's LOGGING is already in place (django.setup()); Celery must not redo it."""
    from django.apps import apps

    if not apps.ready:  # a bare `celery -A central …`: django.setup() applies LOGGING
        import django

        django.setup()


@signals.worker_ready.connect
def _worker_heartbeat(sender=None, **kwargs) -> None:
    from central.core.runtime import heartbeat_thread

    concurrency = getattr(sender, "concurrency", None) if sender is not None else None
    heartbeat_thread("worker", lambda: {"concurrency": concurrency,
                                        "hostname": getattr(sender, "hostname", "")})


@signals.beat_init.connect
def _beat_heartbeat(sender=None, **kwargs) -> None:
    from central.core.runtime import heartbeat_thread

    heartbeat_thread("beat")
