"""Channel variable names are one constant each (central.telephony.chanvars), never a second
spelling in code or in the documented dialplans (issue 14: the dialer set CENTRAL_CAMPAIGN,
the link read CENTRAL_CAMPAIGN_ID, and no call record ever had its campaign)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import central
from central.dialer.core import dial_request
from central.telephony import chanvars

# Touches neither the database nor Redis (checked: passes with neither reachable),
# so it runs only in the SQLite pass.
pytestmark = pytest.mark.backend_free

SRC = Path(central.__file__).parent
DOCS = SRC.parent.parent / "docs"
NAMES = {getattr(chanvars, n) for n in chanvars.__all__ if n != "PREFIX"}


def test_no_module_spells_a_channel_variable_itself():
    offenders = []
    for path in SRC.rglob("*.py"):
        if path.name == "chanvars.py":
            continue
        text = path.read_text(encoding="utf-8")
        for name in NAMES:
            if re.search(rf"[\"']{name}[\"']", text):
                offenders.append(f"{path.relative_to(SRC)}: {name}")
    assert offenders == []


def test_dialplans_in_the_docs_only_use_known_variables():
    used = set()
    for path in [DOCS / "dialer-engine.md", DOCS / "telephony.md", SRC / "voice" / "telephony.py"]:
        used |= set(re.findall(r"\$\{(CENTRAL_[A-Z_]+|AS_UUID)\}", path.read_text(encoding="utf-8")))
    assert used and used <= NAMES, used - NAMES


def test_the_dialer_sets_what_the_link_reads():
    req = dial_request(uid="u1", phone="+5511987654321", dial_context="discador-out", trunk="", queue="sales",
                       caller_id="", use_0303=False, ring_timeout_s=30, abandon_after_s=2.0, campaign_id=7)
    assert req["variables"][chanvars.CAMPAIGN_ID] == "7" and req["variables"][chanvars.ATTEMPT_ID] == "u1"
    assert req["exten"] == "fila" and (req["channel_id"], req["other_channel_id"]) == ("u1", "u1-2")
    trunk = dial_request(uid="u2", phone="+5511987654321", dial_context="discador-out", dial_exten="entrada",
                         trunk="Local/{number}@operadora", queue="sales", caller_id="", use_0303=False,
                         ring_timeout_s=30, abandon_after_s=2.0, campaign_id=7)
    # Both ids always: without OtherChannelId Asterisk would name the ;2 half "u2;2".
    assert (trunk["channel"], trunk["exten"], trunk["other_channel_id"]) == ("Local/5511987654321@operadora",
                                                                            "entrada", "u2-2")
