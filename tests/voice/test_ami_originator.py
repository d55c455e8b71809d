"""The AMI side effects against the PBX simulator over real TCP (AMI client of
central.telephony).  The simulator has no ``portaria-retorno`` dialplan and no AstDB, so
this covers the failure paths: a rejected Originate is a system failure (never "resident
did not answer") and a refused DBPut is logged, never raised into the call."""

from __future__ import annotations

import logging

import pytest

from central.simulator import Simulator, SimulatorConfig
from central.simulator.config import DEMO_USERS
from central.telephony.ami.client import AMIClient
from central.voice.calls import OriginateFailed
from central.voice.config import ExtensionConfig, ResidentConfig
from central.voice.telephony import AMIOriginator

# Touches neither the database nor Redis (checked: passes with neither reachable),
# so it runs only in the SQLite pass.
pytestmark = pytest.mark.backend_free

USER, SECRET = next(iter(DEMO_USERS.items()))


@pytest.fixture
async def ami():
    sim = await Simulator(SimulatorConfig()).start()
    client = AMIClient(sim.host, sim.port, USER, SECRET, events=False, ping_interval=None)
    await client.start()
    yield client
    await client.close()
    await sim.stop()


async def test_rejected_originate_is_a_failure(ami):
    originator = AMIOriginator(ami, ring_ms=3000)
    assert originator.dial_string(ResidentConfig("Ana", "1101")) == "PJSIP/1101"
    with pytest.raises(OriginateFailed, match="rejected"):
        await originator.originate_resident(
            visit_id="0b8f2f0e-7a57-4a57-9f55-2f5c7d1d9e01", resident=ResidentConfig("Ana", "1101"),
            extension=ExtensionConfig(number="1003", return_number="1004"),
            return_host="127.0.0.1", return_port=8081,
        )


async def test_refused_transfer_is_logged_not_raised(ami, caplog):
    with caplog.at_level(logging.WARNING, logger="central.voice.telephony"):
        await AMIOriginator(ami).transfer(call_uuid="u-1", to_extension="1000", extension=ExtensionConfig("1003"))
    assert "DBPut failed" in caplog.text
