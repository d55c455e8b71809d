"""Periodic jobs of the recordings app (``central.core.periodic`` collects ``SCHEDULE``).

``recordings-index`` moves finished MixMonitor files from the spool into the store and
links them to their calls (a row per file, unique by attempt id: two runs at once index
each file once). ``recordings-retention`` deletes files and rows past each tenant's
retention (idempotent; ``central maintenance`` applies the same policy daily).
"""

from central.core.periodic import Periodic

SCHEDULE = [
    Periodic("recordings-index", "central.recordings.indexer.run", every=15),
    Periodic("recordings-retention", "central.recordings.services.run_retention", every=3600),
]
