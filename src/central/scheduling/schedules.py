"""Periodic jobs of the agenda (collected by ``central.core.periodic``).

Each is safe to run on two workers at once: reminders are claimed by a unique row, holds
and offers are moved by row-locked, re-checked transitions.
"""

from central.core.periodic import Periodic

SCHEDULE = [
    Periodic("scheduling.reminders", "central.scheduling.reminders.send_due_reminders", every=60),
    Periodic("scheduling.expire_holds", "central.scheduling.services.expire_holds", every=30),
    Periodic("scheduling.waitlist_offers", "central.scheduling.waitlist.expire_offers", every=60),
    Periodic("scheduling.calendar_sync", "central.scheduling.calendar_sync.sync_all", every=300),
]
