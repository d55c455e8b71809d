"""Periodic jobs of the documents app (``central.core.periodic`` collects ``SCHEDULE``).

``run_maintenance`` removes expired cached files from storage (their index entries stay),
fails requests that waited too long for an offline agent and marks silent agents offline.
It claims each row with a conditional UPDATE, so two workers running it at once do
nothing twice.
"""

from central.core.periodic import Periodic

SCHEDULE = [Periodic("documents-maintenance", "central.documents.services.run_maintenance", every=300)]
