"""Periodic jobs of the WhatsApp channel (``central.core.periodic`` collects ``SCHEDULE``).

``process_until_idle`` picks up webhook events nobody processed yet (a Celery task lost
with its worker, a web process that stopped between the ack and the wake-up). It claims
each row with a conditional UPDATE, so two workers running it at once apply nothing twice.
"""

from central.core.periodic import Periodic

SCHEDULE = [Periodic("whatsapp-webhook-pickup", "central.messaging.inbound.pickup", every=30)]
