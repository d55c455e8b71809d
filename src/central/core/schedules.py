"""Periodic jobs of the core app (``central.core.periodic``): backups, the weekly
restore test and the daily maintenance, at the times the environment sets."""

from django.conf import settings

from central.core.periodic import Periodic

SCHEDULE = [
    Periodic("core.backup", "central.core.backups.scheduled_backup", at=settings.BACKUP_AT),
    Periodic("core.restore_test", "central.core.backups.scheduled_restore_test", at=settings.RESTORE_TEST_AT),
    Periodic("core.maintenance", "central.core.maintenance.scheduled_maintenance", at=settings.MAINTENANCE_AT),
]
