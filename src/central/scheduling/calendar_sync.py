"""Google Calendar sync (optional per professional). See docs/scheduling.md."""

from __future__ import annotations


def push_appointment(appointment_id: int) -> None:
    """Push one appointment to its professional's calendar (no-op when not configured)."""
    return None


def sync_all() -> int:
    return 0
