"""docs/telephony.md's copy-paste dialplan uses the names the code uses (one constant per
value passed between Central and Asterisk): contexts, extens, channel variables, AstDB."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from central.dialer.models import Campaign
from central.telephony import chanvars
from central.voice.telephony import RETURN_CONTEXT, TRANSFER_FAMILY

# Touches neither the database nor Redis (checked: passes with neither reachable),
# so it runs only in the SQLite pass.
pytestmark = pytest.mark.backend_free

DOC = Path(__file__).resolve().parents[2] / "docs" / "telephony.md"


def block() -> str:
    text = DOC.read_text()
    section = text[text.index("## 6. Dialplan"):]
    return re.search(r"```\n(.*?)```", section, re.S).group(1)


def test_the_dialplan_block_names_what_the_code_sends():
    dialplan = block()
    contexts = re.findall(r"^\[([\w-]+)\]", dialplan, re.M)
    assert contexts == [Campaign._meta.get_field("dial_context").default, "portaria-ia", RETURN_CONTEXT]
    assert f"exten => {Campaign._meta.get_field('dial_exten').default},1," in dialplan
    assert f"{TRANSFER_FAMILY}/${{{chanvars.AUDIOSOCKET_UUID}}}" in dialplan
    used = set(re.findall(r"\$\{(CENTRAL_\w+)\}", dialplan))
    assert used <= {getattr(chanvars, n) for n in chanvars.__all__ if n != "PREFIX"}
    assert {chanvars.ATTEMPT_ID, chanvars.CAMPAIGN_ID, chanvars.QUEUE, chanvars.ABANDON_AFTER,
            chanvars.RING_TIMEOUT} <= used
    assert f"AudioSocket(${{{chanvars.AUDIOSOCKET_UUID}}}," in dialplan
