"""Celery tasks of the WhatsApp channel (production; the embedded default runs them in-process)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="central.messaging.process_webhook_events", ignore_result=True)
def process_webhook_events() -> int:
    """Apply pending webhook events (safe on several workers at once: rows are claimed)."""
    from central.core.db import release_connection

    from .inbound import process_until_idle

    try:
        return process_until_idle()
    finally:
        release_connection()
