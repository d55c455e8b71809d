"""Cache invalidation: a changed weekly schedule bumps the organization's rules version
(``services._rules`` keeps parsed rules per version)."""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .models import WeeklySchedule


@receiver(post_save, sender=WeeklySchedule)
@receiver(post_delete, sender=WeeklySchedule)
def _schedule_changed(sender, instance, **kwargs) -> None:
    from .services import bump_rules_version

    org_id = instance.organization_id
    bump_rules_version(org_id)  # now (this transaction's own reads) and after commit (everyone's)
    transaction.on_commit(lambda: bump_rules_version(org_id))
