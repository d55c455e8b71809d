"""Bump :class:`central.voice.models.ConfigVersion` whenever the voice config changes.

Saves and deletes of the rows :func:`central.voice.loader.load_from_database` reads; the
voice process polls the version (:meth:`central.voice.service.VoiceService.watch`).
``QuerySet.update()`` and bulk operations send no signals: code that changes these rows
in bulk calls ``ConfigVersion.bump()`` itself.
"""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from central.core.models import Organization
from central.voice.models import AIExtension, ConfigVersion, Resident, Unit


@receiver([post_save, post_delete], sender=AIExtension)
@receiver([post_save, post_delete], sender=Unit)
@receiver([post_save, post_delete], sender=Resident)
@receiver([post_save, post_delete], sender=Organization)  # is_active, name in the briefing
def voice_config_changed(sender, **kwargs) -> None:
    if kwargs.get("raw"):
        return  # loaddata: the version row comes with the data
    ConfigVersion.bump()
