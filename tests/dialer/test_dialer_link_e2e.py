"""Dialer + PBX link + simulator over real sockets, read back through the API (issue 14).

The dialer once set ``CENTRAL_CAMPAIGN`` and the link read ``CENTRAL_CAMPAIGN_ID``; each
side's unit test used its own spelling, so every call record of a campaign had an empty
``campaign_id`` and ``?campaign_id=`` returned nothing. Both sides now use
``central.telephony.chanvars``; this test runs them together.
"""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from central.simulator.world import WorldConfig
from tests.dialer.engine_support import make_campaign, make_contacts
from tests.dialer.linked_rig import start_linked
from tests.telephony.pbxkit import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("give_back_connections")]

ANSWERS, BUSY = "+5511911110001", "+5511911110002"


def _attempts(campaign_id: int) -> dict[str, dict]:
    from central.dialer.models import Attempt

    return {a["phone"]: a for a in Attempt.objects.filter(campaign_id=campaign_id).values()}


async def test_call_records_carry_the_campaign_and_the_api_filter_finds_them(tenants, api_as):
    world = WorldConfig(agents=2, ring_time_mean=2.0, talk_time_mean=5.0, wrapup_time=0.0,
                        numbers={ANSWERS: "answer", BUSY: "busy"})
    campaign = await sync_to_async(make_campaign)(tenants["a"])
    other = await sync_to_async(make_campaign)(tenants["a"], name="Outra", status="paused")
    await sync_to_async(make_contacts)(campaign, [ANSWERS, BUSY])
    rig = await start_linked(tenants["a"], world)
    try:
        engine = await rig.engine("dialer-e2e")
        await rig.run(2, engine)
        assert len(engine.originated) == 2
        for _ in range(120):
            await rig.run(1, engine)
            await engine.flush()
            if all(a["state"] == "completed" for a in (await sync_to_async(_attempts)(campaign.id)).values()):
                break
        await wait_until(lambda: rig.link.stats["records"] >= 2, what="two call records")
        await rig.flushed()
    finally:
        await rig.close()

    attempts = await sync_to_async(_attempts)(campaign.id)
    assert {p: a["result"] for p, a in attempts.items()} == {ANSWERS: "answered", BUSY: "busy"}
    await sync_to_async(_check_api)(tenants, api_as, campaign.id, other.id, attempts)


def _rows(response) -> list[dict]:
    assert response.status_code == 200, response.content
    body = response.json()
    return body["results"] if isinstance(body, dict) else body


def _check_api(tenants, api_as, campaign_id: int, other_id: int, attempts: dict) -> None:
    client = api_as(tenants["alice"])
    rows = _rows(client.get(f"/api/v1/telephony/calls/?campaign_id={campaign_id}"))
    assert {row["attempt_id"] for row in rows} == {a["uid"] for a in attempts.values()}
    assert {row["campaign_id"] for row in rows} == {str(campaign_id)}
    assert {row["disposition"] for row in rows} == {"answered", "busy"}
    assert _rows(client.get(f"/api/v1/telephony/calls/?campaign_id={other_id}")) == []
    # another tenant sees none of them
    assert _rows(api_as(tenants["bob"]).get(f"/api/v1/telephony/calls/?campaign_id={campaign_id}")) == []
