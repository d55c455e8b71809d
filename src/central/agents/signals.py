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


def _record_pause(sender, organization_id, server_id, queue, interface, reason, started_at, ended_at, **kwargs):
    """A pause that ended (telephony.signals.pause_ended): kept for the pause time per day.
    A pause whose start is unknown (it began before the link first saw the member) is not
    counted rather than guessed."""
    from .models import PauseInterval

    if started_at is None or ended_at is None or ended_at <= started_at:
        return
    PauseInterval.objects.create(organization_id=organization_id, server_id=server_id, queue=queue[:80],
                                 interface=interface[:120], reason=(reason or "")[:80],
                                 started_at=started_at, ended_at=ended_at)


def _connect() -> None:
    from central.telephony.signals import pause_ended

    pause_ended.connect(_record_pause, dispatch_uid="agents.record_pause")


_connect()
