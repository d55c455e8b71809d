"""End to end over real sockets: a campaign with ``record=all`` dials through the simulator,
the dialer sends ``MixMonitor`` when the customer answers, the simulator writes the WAV
into the spool at the hangup, the PBX link writes the call record, the indexer files the
recording under it, and the tenant streams it with a range request (another tenant: 404).
A campaign recording nothing sends no MixMonitor."""

from __future__ import annotations

import wave

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from central.simulator.world import WorldConfig
from tests.dialer.engine_support import make_campaign, make_contacts
from tests.dialer.linked_rig import start_linked
from tests.telephony.pbxkit import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("give_back_connections")]

RECORDED, NOT_RECORDED, BUSY = "+5511911110001", "+5511911110003", "+5511911110002"


def _attempts() -> dict[str, dict]:
    from central.dialer.models import Attempt

    return {a["phone"]: a for a in Attempt.objects.values("phone", "uid", "state", "result")}


async def test_recorded_campaign_call_is_indexed_and_served(tenants, settings) -> None:
    from central.recordings import indexer, storage

    world = WorldConfig(agents=2, ring_time_mean=2.0, talk_time_mean=5.0, wrapup_time=0.0,
                        numbers={RECORDED: "answer", NOT_RECORDED: "answer", BUSY: "busy"})
    recorded = await sync_to_async(make_campaign)(tenants["a"], record="all")
    plain = await sync_to_async(make_campaign)(tenants["a"], name="Sem gravação", record="none")
    await sync_to_async(make_contacts)(recorded, [RECORDED, BUSY])
    await sync_to_async(make_contacts)(plain, [NOT_RECORDED])
    rig = await start_linked(tenants["a"], world, monitor_dir=str(storage.spool_dir()))
    try:
        engine = await rig.engine("dialer-recordings")
        await rig.run(2, engine)
        assert len(engine.originated) == 3
        for _ in range(120):
            await rig.run(1, engine)
            await engine.flush()
            if all(a["state"] == "completed" for a in (await sync_to_async(_attempts)()).values()):
                break
        await wait_until(lambda: rig.link.stats["records"] >= 3, what="three call records")
        await rig.flushed()
        assert engine.stats["recordings"] == 1 and engine.stats["recordings_failed"] == 0
    finally:
        await rig.close()

    attempts = await sync_to_async(_attempts)()
    uid = attempts[RECORDED]["uid"]
    assert [p.name for p in rig.sim.recordings] == [f"{uid}.wav"]  # only the answered, recorded call
    await sync_to_async(_index_and_serve)(tenants, uid, indexer)


def _index_and_serve(tenants, uid: str, indexer) -> None:
    from central.recordings.models import Recording
    from central.recordings.services import recordings_for_call
    from central.telephony.models import CallRecord

    assert indexer.index_pending()["indexed"] == 1
    rec = Recording.objects.get()
    call = CallRecord.objects.get(attempt_id=uid)
    assert rec.attempt_uid == uid and rec.call_record_id == call.id and rec.organization_id == tenants["a"].id
    assert recordings_for_call(call) == [rec]
    alice = Client()
    alice.force_login(tenants["alice"])
    response = alice.get(f"/recordings/{rec.pk}/audio", HTTP_RANGE="bytes=0-43")
    assert response.status_code == 206
    header = b"".join(response.streaming_content)
    assert header[:4] == b"RIFF" and header[8:12] == b"WAVE"
    assert response["Content-Range"] == f"bytes 0-43/{rec.size}"
    from central.recordings import storage

    with wave.open(str(storage.resolve(rec.path))) as wav:
        assert wav.getframerate() == 8000 and wav.getnframes() > 0
    bob = Client()
    bob.force_login(tenants["bob"])
    assert bob.get(f"/recordings/{rec.pk}/audio", HTTP_RANGE="bytes=0-43").status_code == 404
