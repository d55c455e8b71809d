"""The PBX link against the simulator records one correct CDR per originated call."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async

from central.simulator.scenarios import fixture_config
from central.telephony import chanvars
from central.telephony.models import CallRecord, LiveCall
from tests.telephony.pbxkit import close_thread_connections, linked, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

# The fixture dialplan's numbers (central.simulator.scenarios): each one's fate is fixed.
CALLS = {
    "5511999990001": ("answered", 16, 30_000),
    "5511999990002": ("busy", 17, 30_000),
    "5511999990003": ("no_answer", 19, 15_000),  # rings into the Originate timeout
    "5511999990000": ("no_answer", 19, 30_000),  # network gives up after 8 s (cause 19)
    "5511999990004": ("congestion", 34, 30_000),
}


def _rows(model, **filters):
    return list(model.objects.filter(**filters).order_by("id").values())


async def test_every_outcome_gets_its_record_and_live_rows_follow_the_call():
    async with linked(fixture_config(clock="manual")) as kit:
        dialer = await kit.dialer()
        originates = [
            asyncio.create_task(dialer.originate(
                f"Local/{number}@customers", context="discador-out", exten=number,
                caller_id='"Discador" <1100>', timeout_ms=timeout,
                variables={chanvars.ATTEMPT_ID: f"att-{number}", chanvars.CAMPAIGN_ID: "7"},
                channel_id=f"att-{number}-1", other_channel_id=f"att-{number}-2"))
            for number, (_, _, timeout) in CALLS.items()
        ]
        await wait_until(lambda: kit.sim.pbx.stats["originates"] == len(CALLS), what="originates")

        # Half a second in, every call is in progress and visible as a live row.
        await kit.sim.advance(0.5)
        await kit.flushed()
        live = await sync_to_async(_rows)(LiveCall, server_id=kit.server.pk)
        assert {r["to_number"] for r in live} == set(CALLS)
        assert all(r["from_number"] == "1100" and r["direction"] == "outbound" for r in live)
        assert {r["attempt_id"] for r in live} == {f"att-{n}" for n in CALLS}

        await kit.sim.advance(300)
        await asyncio.gather(*originates)
        await wait_until(lambda: kit.link.stats["records"] >= len(CALLS), what="records")
        await kit.flushed()
        await dialer.close()

    records = {r["to_number"]: r for r in await sync_to_async(_rows)(CallRecord, server_id=kit.server.pk)}
    live_left = await sync_to_async(_rows)(LiveCall, server_id=kit.server.pk)
    await close_thread_connections()
    assert set(records) == set(CALLS)
    for number, (disposition, cause, _) in CALLS.items():
        r = records[number]
        assert (r["disposition"], r["hangup_cause"]) == (disposition, cause), number
        assert r["organization_id"] == kit.org.pk
        assert r["attempt_id"] == f"att-{number}" and r["campaign_id"] == "7"
        assert r["direction"] == "outbound" and r["from_number"] == "1100"
        assert r["started_at"] <= r["ended_at"]
        assert r["hangup_cause_text"]
    answered = records["5511999990001"]
    assert answered["queue"] == "sales" and answered["agent"].startswith("Agent ")
    # the interface (what maps to a person) and the channels are stored for the call detail
    assert answered["agent_interface"].startswith("Local/agent")
    assert answered["legs"][0]["channel"].startswith("Local/5511999990001@") and len(answered["legs"]) >= 2
    assert answered["answered_at"] is not None and answered["billsec"] > 0
    assert answered["billsec"] == pytest.approx(
        (answered["ended_at"] - answered["answered_at"]).total_seconds(), abs=1)
    for number in ("5511999990002", "5511999990003", "5511999990004"):
        assert records[number]["answered_at"] is None and records[number]["billsec"] == 0
    # The Originate timeout (15 s) ends the ringing call; the network limit is 8 s.
    timeout_call, network_call = records["5511999990003"], records["5511999990000"]
    assert (timeout_call["ended_at"] - timeout_call["started_at"]).total_seconds() == pytest.approx(15, abs=1.5)
    assert (network_call["ended_at"] - network_call["started_at"]).total_seconds() == pytest.approx(8, abs=1.5)
    # Every call ended: no live row is left behind.
    assert live_left == []
