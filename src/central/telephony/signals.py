"""Calls in progress of a server that went away are forgotten (docs/telephony.md).

A link keeps its server's ``LiveCall`` rows true; when the server is deleted, disabled or
pointed at another PBX (host, port or user changed: the API, the admin, or
``CENTRAL_AMI_URL`` / the simulator getting a new address on the next start), no link
will ever end the calls listed for it, and they would stay "em conversa" forever. One
place for every path that changes a server: the model signals.
"""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import Signal, receiver

from . import store
from .models import AsteriskServer

#: Sent by ``store.save_queue_members`` when a queue member's pause ends (unpaused, another
#: reason, removed), after the rows are written, with ``organization_id``, ``server_id``,
#: ``queue``, ``interface``, ``reason``, ``started_at`` (None if unknown), ``ended_at``.
#: The agents app keeps the intervals (pause time per agent and day).
pause_ended = Signal()

#: A change of any of these means another PBX (or none) is behind the row now.
WHERE_FIELDS = ("host", "port", "username")


@receiver(pre_save, sender=AsteriskServer)
def _remember(sender, instance: AsteriskServer, raw=False, **kwargs) -> None:
    if raw or instance.pk is None:
        instance._before = None
        return
    instance._before = (
        AsteriskServer.objects.filter(pk=instance.pk).values("enabled", *WHERE_FIELDS).first()
    )


@receiver(post_save, sender=AsteriskServer)
def _forget_calls_of_a_server_gone(sender, instance: AsteriskServer, created=False, raw=False, **kwargs) -> None:
    before = getattr(instance, "_before", None)
    if raw or created or before is None:
        return
    replaced = any(before[f] != getattr(instance, f) for f in WHERE_FIELDS)
    if replaced or (before["enabled"] and not instance.enabled):
        store.forget_live_calls(instance)


@receiver(post_delete, sender=AsteriskServer)
def _forget_calls_of_a_deleted_server(sender, instance: AsteriskServer, **kwargs) -> None:
    # The rows went with the server (CASCADE); open pages still list them until told.
    store.forget_live_calls(store.ServerRef(instance.pk, instance.organization_id, instance.name))
