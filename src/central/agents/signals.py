"""New organizations start with the default pause codes (central.agents.models)."""

from __future__ import annotations

from django.db.models.signals import post_save
from django.dispatch import receiver

from central.core.models import Organization


@receiver(post_save, sender=Organization)
def _seed(sender, instance, created, raw=False, **kwargs) -> None:
    if created and not raw:
        from .models import seed_pause_codes

        seed_pause_codes(instance.pk)
