"""Whole visits through the real parts: ``run_voice`` (database config, visit log), its AMI
client (the one ``central voice`` / ``central up`` build) talking to the PBX simulator over
TCP, and AudioSocket legs over TCP.

The simulator speaks AMI only, so the test plays the two bits of Asterisk's dialplan that
connect audio (docs/telephony.md, ``[portaria-retorno]``): when the simulator reports the
resident's phone answered (``OriginateResponse`` Reason 4 into ``portaria-retorno``, seen
on a listener connection like the PBX link's), it connects the return leg exactly as
``AudioSocket(${AS_UUID},${CENTRAL_RETURN})`` would, with the Originate's own variables.

Every visit must end in the log with a precise outcome: authorized, denied, resident did
not answer, visitor hung up, system failure.
"""

from __future__ import annotations

import asyncio
import socket
import time
from contextlib import asynccontextmanager

import pytest

from central.simulator import Simulator, SimulatorConfig
from central.simulator.config import DEMO_USERS
from central.simulator.world import WorldConfig
from central.telephony import chanvars
from central.telephony.ami.client import AMIClient
from central.voice.runner import run_voice
from central.voice.telephony import RETURN_CONTEXT, AMIOriginator, voice_ami_client
from tests.voice.asclient import ASClient
from tests.voice.factories import make_ai_extension, make_resident, make_unit
from tests.voice.helpers import FAST_TTS, in_thread

USER, SECRET = next(iter(DEMO_USERS.items()))
pytestmark = pytest.mark.django_db(transaction=True)

RESIDENTS = {"1101": "answer", "1102": "noanswer", "1103": "busy", "1104": "fail", "1105": "noanswer"}
#: 1105's carrier releases after 1 s of ringing, before the Originate's 2 s Timeout:
#: Reason 0, then DialEnd NOANSWER and cause 19 (ami-event-stream-noanswer-cause19.txt).
RING_LIMITS = {"1105": 1.0}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(org, resident: str) -> None:
    make_ai_extension(org, number="1903", return_number="1904", providers=FAST_TTS,
                      concierge_extension="", port=free_port(), return_port=free_port())
    unit = make_unit(org, number="302", block="B")
    make_resident(org, unit=unit, name="Ana", extension=resident)


class ReturnLegDialplan:
    """``[portaria-retorno]`` for the simulator: ``AudioSocket(${AS_UUID},${CENTRAL_RETURN})``
    once the resident's phone answered; then the resident presses ``press`` (or nothing)."""

    def __init__(self, sim: Simulator, press: str | None) -> None:
        self.sim = sim
        self.press = press
        self.legs: list[ASClient] = []
        self.pressed_at: float | None = None
        self.client = AMIClient(sim.host, sim.port, USER, SECRET, name="dialplan", ping_interval=None)

    async def start(self) -> None:
        await self.client.start()
        self.sub = self.client.subscribe(["OriginateResponse"])
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for ev in self.sub:
            if ev.get("Reason") != "4" or ev.get("Context") != RETURN_CONTEXT:
                continue
            call = next(c for c in self.sim.pbx.renderer.calls.values() if c.action_id == ev.get("ActionID"))
            variables = dict(call.variables)
            host, _, port = variables[chanvars.VISIT_RETURN].rpartition(":")
            leg = await ASClient().connect(host, int(port), variables[chanvars.AUDIOSOCKET_UUID])
            self.legs.append(leg)
            if self.press:
                await leg.wait_voice(timeout=10)  # the briefing
                await leg.dtmf(self.press)
                self.pressed_at = time.monotonic()

    async def stop(self) -> None:
        self.task.cancel()
        for leg in self.legs:
            await leg.close()
        await self.client.close()


@asynccontextmanager
async def voice_with_pbx(org, tmp_path, *, resident="1101", press="1", with_return_context=True, ring_ms=2000):
    contexts = SimulatorConfig().contexts + ((RETURN_CONTEXT,) if with_return_context else ())
    sim = await Simulator(SimulatorConfig(
        world=WorldConfig(numbers=RESIDENTS, ring_time_mean=0.3), contexts=contexts,
        ring_limits=dict(RING_LIMITS),
    )).start()
    dialplan = ReturnLegDialplan(sim, press)
    await dialplan.start()
    await in_thread(seed, org, resident)
    client = voice_ami_client(sim.host, sim.port, USER, SECRET, ping_interval=None)
    await client.start()
    ready, stop = asyncio.Event(), asyncio.Event()
    api_port = free_port()
    task = asyncio.create_task(run_voice(
        api_port=api_port, token="t", snapshot_path=str(tmp_path / "voice.json"),
        originator=AMIOriginator(client, ring_ms=ring_ms), ready=ready, stop=stop,
    ))
    await asyncio.wait_for(ready.wait(), 30)
    from central.voice.models import AIExtension

    ext = await in_thread(lambda: AIExtension.objects.get(number="1903"))
    try:
        yield dialplan, ext.port
    finally:
        stop.set()
        await task
        await client.close()
        await dialplan.stop()
        await sim.stop()


async def visit_of(visitor: ASClient, timeout: float = 10.0):
    """The VisitLog row of this visitor's call, once the sink wrote it."""
    from central.voice.models import VisitLog

    def fetch():
        return list(VisitLog.objects.all())

    deadline = time.monotonic() + timeout
    while True:
        rows = await in_thread(fetch)
        if rows:
            (row,) = rows
            return row
        if time.monotonic() > deadline:
            raise AssertionError("the visit was never written to the log")
        await asyncio.sleep(0.05)


def events(row) -> list[str]:
    return [a["event"] for a in row.audit]


async def call_302(port: int) -> ASClient:
    visitor = await ASClient().connect("127.0.0.1", port)
    await visitor.wait_voice(timeout=5)
    await visitor.dtmf("302#")
    return visitor


async def test_resident_presses_1_and_the_door_opens_without_a_stall(tenants, tmp_path):
    async with voice_with_pbx(tenants["a"], tmp_path, press="1") as (dialplan, port):
        visitor = await call_302(port)
        await visitor.wait_closed(timeout=20)
        # Before: the visitor's hangup waited for an OriginateResponse that an Events: off
        # connection never gets (action_timeout + ring time later).
        assert dialplan.pressed_at is not None and visitor.hangup_at is not None
        assert visitor.hangup_at - dialplan.pressed_at < 8.0
        assert visitor.heard_audio(dialplan.pressed_at)  # "o morador autorizou..."
        row = await visit_of(visitor)
        assert row.outcome == "authorized"
        assert "resident_decided" in events(row) and "originate_failed" not in events(row)
        assert "resident_phone_answered" in events(row)  # the OriginateResponse did arrive


async def test_resident_presses_2(tenants, tmp_path):
    async with voice_with_pbx(tenants["a"], tmp_path, press="2") as (dialplan, port):
        visitor = await call_302(port)
        await visitor.wait_closed(timeout=20)
        assert visitor.hangup_at - dialplan.pressed_at < 8.0
        row = await visit_of(visitor)
        assert row.outcome == "denied" and "originate_failed" not in events(row)


async def test_visitor_hanging_up_right_after_the_decision_is_still_logged(tenants, tmp_path):
    async with voice_with_pbx(tenants["a"], tmp_path, press="1") as (dialplan, port):
        visitor = await call_302(port)
        await visitor.wait_for(lambda: dialplan.pressed_at is not None, timeout=15)
        await visitor.wait_voice(since=dialplan.pressed_at, timeout=5)
        await visitor.close()  # before "pode entrar" ends
        row = await visit_of(visitor)
        assert row.outcome == "authorized"


@pytest.mark.parametrize("resident", ["1102", "1103"])
async def test_resident_does_not_answer_or_is_busy(tenants, tmp_path, resident):
    async with voice_with_pbx(tenants["a"], tmp_path, resident=resident, press=None) as (dialplan, port):
        started = time.monotonic()
        visitor = await call_302(port)
        await visitor.wait_closed(timeout=20)
        assert visitor.eof_at - started < 15.0  # ring time (2 s) + phrases, not 40 s
        row = await visit_of(visitor)
        assert row.outcome == "no_answer" and "resident_not_answered" in events(row)
        assert not dialplan.legs


async def test_visitor_hangs_up_while_the_resident_listens(tenants, tmp_path):
    async with voice_with_pbx(tenants["a"], tmp_path, press=None) as (dialplan, port):
        visitor = await call_302(port)
        await visitor.wait_for(lambda: dialplan.legs, timeout=15)
        (leg,) = dialplan.legs
        await leg.wait_voice(timeout=10)
        await visitor.close()
        await leg.wait_closed(timeout=15)  # "o visitante desligou", then hung up
        row = await visit_of(visitor)
        assert row.outcome == "abandoned" and "visitor_hung_up" in events(row)


async def test_a_carrier_no_answer_reason_0_is_did_not_answer_not_a_failure(tenants, tmp_path):
    # Before: OriginateResponse Reason 0 was always "failed" ("Falha do sistema"), though
    # the dialer reads the same capture as no_answer (central.telephony.outcomes).
    async with voice_with_pbx(tenants["a"], tmp_path, resident="1105", press=None) as (dialplan, port):
        visitor = await call_302(port)
        await visitor.wait_closed(timeout=20)
        row = await visit_of(visitor)
        assert row.outcome == "no_answer", row.audit
        assert "resident_not_answered" in events(row) and "originate_failed" not in events(row)
        detail = next(a["detail"] for a in row.audit if a["event"] == "resident_not_answered")
        assert "reason 0" in detail and "NOANSWER" in detail and "19" in detail
        assert not dialplan.legs


@pytest.mark.parametrize("case", ["no_dialplan", "bad_channel"])
async def test_a_failed_originate_is_a_system_failure_not_no_answer(tenants, tmp_path, case):
    resident = "1104" if case == "bad_channel" else "1101"
    async with voice_with_pbx(tenants["a"], tmp_path, resident=resident,
                              with_return_context=case == "bad_channel") as (dialplan, port):
        started = time.monotonic()
        visitor = await call_302(port)
        await visitor.wait_closed(timeout=20)
        assert visitor.eof_at - started < 15.0
        row = await visit_of(visitor)
        assert row.outcome == "failed" and "originate_failed" in events(row)
        assert row.get_outcome_display() == "Falha do sistema"  # what the visits page shows
        assert not dialplan.legs


async def test_the_voice_client_logs_in_with_events_on_and_a_filter(monkeypatch):
    # What `central voice` builds from CENTRAL_AMI_URL (the embedded path uses the same
    # voice_ami_client): Events: on + Filter: Event: OriginateResponse, like the fixture's
    # action connection (ami-login-and-actions.txt).
    from central.voice.runner import _ami_originator

    monkeypatch.setenv("CENTRAL_AMI_URL", "ami://central@127.0.0.1:5038")
    client = _ami_originator().client
    assert client.events_on is True
    # Plus the resident legs' own events (ChannelId prefix), to read a Reason 0.
    assert client.event_filters == ("Event: OriginateResponse", "Uniqueid: central-visit-")
