"""Channel variable names shared by the dialer, the PBX link, the concierge and the dialplan.

A value passed between two parts is one constant, never two spellings: the dialer once
set ``CENTRAL_CAMPAIGN`` while the PBX link read ``CENTRAL_CAMPAIGN_ID``, each side's unit
test used its own spelling, and no call record ever got its campaign (issue 14). Every
``Variable:`` an Originate sets and every variable the link or a reconcile reads comes
from here; the dialplans in docs/dialer-engine.md and src/central/voice/telephony.py use
the same names.
"""

from __future__ import annotations

__all__ = [
    "ABANDON_AFTER",
    "ATTEMPT_ID",
    "AUDIOSOCKET_UUID",
    "CAMPAIGN_ID",
    "PREFIX",
    "QUEUE",
    "RING_TIMEOUT",
    "VISIT_RETURN",
    "VISIT_ID",
]

#: Prefix of every Central variable; the PBX link keeps all of them on the call record.
PREFIX = "CENTRAL_"

# --- set by the dialer's Originate (central.dialer.core.dial_request) ---------------------
#: The attempt's uid (also its ChannelId): call records, reconcile (Getvar) and the CDR
#: ``userfield`` find the attempt with it.
ATTEMPT_ID = "CENTRAL_ATTEMPT_ID"
#: The campaign id: the PBX link stores it in ``CallRecord.campaign_id`` (``?campaign_id=``).
CAMPAIGN_ID = "CENTRAL_CAMPAIGN_ID"
#: The campaign queue the answered leg enters (dialplan ``Queue(${CENTRAL_QUEUE},...)``).
QUEUE = "CENTRAL_QUEUE"
#: Queue timeout in seconds: an answered call with no agent by then is abandoned.
ABANDON_AFTER = "CENTRAL_ABANDON_AFTER"
#: Ring timeout in seconds for the ``Dial()`` of the customer's number.
RING_TIMEOUT = "CENTRAL_RING_TIMEOUT"

# --- set by the concierge's Originate (central.voice.telephony) -----------------------------
#: The session id the dialplan hands to ``AudioSocket(${AS_UUID},host:port)``
#: (audiosocket-session.md: ``AS_UUID=a1b2c3d4-...``); Asterisk's own example name.
AUDIOSOCKET_UUID = "AS_UUID"
#: The visit the resident's leg belongs to.
VISIT_ID = "CENTRAL_VISIT_ID"
#: host:port of the AudioSocket server that takes the resident's leg.
VISIT_RETURN = "CENTRAL_RETURN"
