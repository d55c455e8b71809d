"""Prometheus metrics of the PBX link (``central pbx``), default registry.

The AMI client counts protocol errors, reconnects and dropped events itself
(``central_ami_*`` in ``central.telephony.ami.client``); these are the link's own.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

EVENTS = Counter("central_telephony_events_total", "AMI events fed to the live state", ["server"])
BAD_EVENTS = Counter(
    "central_telephony_bad_events_total",
    "AMI events the state or CDR builder could not use (bad or unexpected fields)",
    ["server", "reason"],
)
CDRS = Counter("central_telephony_cdrs_total", "Call records written", ["server", "disposition"])
EXTENSION_UPDATES = Counter(
    "central_telephony_extension_updates_total", "Extension rows written", ["server"]
)
RESYNCS = Counter("central_telephony_resyncs_total", "Full state reloads after (re)connecting", ["server"])
RESYNC_ERRORS = Counter("central_telephony_resync_errors_total", "Failed state reloads", ["server"])
STORE_ERRORS = Counter(
    "central_telephony_store_errors_total", "Failed writes of live state or records", ["server"]
)
CONNECTED = Gauge("central_telephony_connected", "1 while the AMI link is logged in", ["server"])
LIVE_CALLS = Gauge("central_telephony_live_calls", "Calls in progress", ["server"])
EXTENSIONS = Gauge("central_telephony_extensions", "Extensions tracked", ["server"])
