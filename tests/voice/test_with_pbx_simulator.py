"""A whole visit driven by the PBX simulator's AudioSocket client (both call legs).

The simulator's client has its own three-line encoder, independent of our codec, so this
also checks that what the voice server sends parses as Asterisk would see it: only audio
and one final hangup, never another kind.
"""

from __future__ import annotations

import asyncio

import pytest

from central.simulator.audiosocket_client import AudioSocketClient
from central.voice.audio import rms
from central.voice.calls import VoiceRuntime
from central.voice.service import VoiceService
from tests.voice.helpers import SHARED_CACHES, config

# Touches neither the database nor Redis (checked: passes with neither reachable),
# so it runs only in the SQLite pass.
pytestmark = pytest.mark.backend_free


class SimulatedResidentPhone:
    """Originates the resident leg as the simulator's AudioSocket client; presses 1."""

    def __init__(self) -> None:
        self.legs: list[AudioSocketClient] = []

    async def originate_resident(self, *, visit_id, resident, extension, return_host, return_port):
        leg = AudioSocketClient(return_host, return_port, call_uuid=visit_id)
        self.legs.append(leg)

        async def answer():
            await leg.connect()
            while rms(bytes(leg.record.received_audio[-320:])) < 200:  # hears the briefing
                await asyncio.sleep(0.02)
            leg.dtmf("1")
            await leg.run_for(10)

        asyncio.get_running_loop().create_task(answer())

    async def transfer(self, **kw):
        raise AssertionError("no transfer expected")


async def test_visit_authorized_with_simulated_legs():
    phone = SimulatedResidentPhone()
    svc = VoiceService(loader=lambda: config(), runtime=VoiceRuntime(phone), caches=SHARED_CACHES)
    await svc.start()
    try:
        visitor = AudioSocketClient("127.0.0.1", svc.extensions["1003"].ai.port)
        await visitor.connect()
        deadline = asyncio.get_running_loop().time() + 10  # generous for a loaded machine
        while rms(bytes(visitor.record.received_audio)) <= 200:  # the greeting, heard
            assert asyncio.get_running_loop().time() < deadline, "no greeting"
            await asyncio.sleep(0.02)
        for digit in "302#":
            visitor.dtmf(digit)
        await visitor.run_for(20)
        assert visitor.record.hangup_received and visitor.record.other_kinds == []
        (leg,) = phone.legs
        assert leg.record.hangup_received and leg.record.dtmf_sent == ["1"] and leg.record.other_kinds == []
        assert svc.runtime.visits[-1].outcome == "authorized"
        await visitor.close()
    finally:
        await svc.stop()
