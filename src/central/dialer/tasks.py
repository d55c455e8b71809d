"""Celery tasks of the dialer (production). Embedded mode runs imports in a thread instead
(``services.start_import``)."""

from __future__ import annotations

from celery import shared_task


# ignore_result: nobody reads the result (progress is on the job row), and tracking it made
# sending the task subscribe to the Redis result backend, which failed hard with Redis down.
@shared_task(name="central.dialer.run_import", acks_late=True, ignore_result=True)
def run_import(job_id: int) -> dict:
    """Run one ImportJob (contacts or do-not-call) to the end; progress is on the job row."""
    from .importworker import execute
    from .models import ImportJob

    # In a child process with the memory cap, like the embedded runner; inline only when
    # Celery itself runs tasks inline (task_always_eager: tests, debugging). A redelivered
    # task (acks_late after a worker died) resumes the job or leaves it to a live owner.
    execute(job_id, isolated=not run_import.app.conf.task_always_eager)
    job = ImportJob.objects.get(pk=job_id)
    return {"id": job.pk, "status": job.status, "rows": job.rows, "rejected": job.rejected}
