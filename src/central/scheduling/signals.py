"""Cache invalidation: a change to what availability caches per process (weekly schedules,
exceptions, the clinic's settings, professionals, services and who offers them) replaces the
organization's config version (``services._memo`` keeps parsed rows per version)."""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from .models import ClinicSettings, Professional, ScheduleException, Service, WeeklySchedule


def _bump(org_id: int) -> None:
    from .services import bump_config_version

    bump_config_version(org_id)  # now (this transaction's own reads) and after commit (everyone's)
    transaction.on_commit(lambda: bump_config_version(org_id))


@receiver(post_save, sender=WeeklySchedule)
@receiver(post_delete, sender=WeeklySchedule)
@receiver(post_save, sender=ScheduleException)
@receiver(post_delete, sender=ScheduleException)
@receiver(post_save, sender=ClinicSettings)
@receiver(post_delete, sender=ClinicSettings)
@receiver(post_save, sender=Professional)
@receiver(post_delete, sender=Professional)
@receiver(post_save, sender=Service)
@receiver(post_delete, sender=Service)
def _config_changed(sender, instance, **kwargs) -> None:
    _bump(instance.organization_id)


@receiver(m2m_changed, sender=Service.professionals.through)
def _offered_by_changed(sender, instance, action, **kwargs) -> None:
    if action in ("post_add", "post_remove", "post_clear"):
        _bump(instance.organization_id)
