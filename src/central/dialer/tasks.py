"""Celery tasks of the dialer (production). Embedded mode runs imports in a thread instead
(``services.start_import``)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="central.dialer.run_import", acks_late=True)
def run_import(job_id: int) -> dict:
    """Run one ImportJob (contacts or do-not-call) to the end; progress is on the job row."""
    from .importer import run_job

    job = run_job(job_id)
    return {"id": job.pk, "status": job.status, "rows": job.rows, "rejected": job.rejected}
