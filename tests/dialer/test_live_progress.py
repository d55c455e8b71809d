"""The campaign page is live end to end: tiles, recent attempts and the list's counts follow
the dialer's progress pushes; live numbers in pt-BR; abandonment over the cap in red."""

from __future__ import annotations

import asyncio

import pytest
from channels.layers import get_channel_layer
from django.test import Client

from central.core.live import org_group
from central.dialer import live
from tests.dialer import factories

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_progress_payload_and_tenant_scoped_group(tenants):
    """What the engine pushes after it changed attempts: counts and the recent attempts,
    sent to the campaign's organization only (another tenant's group receives nothing)."""
    org = tenants["a"]
    camp = factories.campaign(org)
    c = factories.contact(org, camp, name="José", status="in_progress")
    factories.contact(org, camp, status="pending")
    factories.attempt(org, c, state="ringing")
    layer = get_channel_layer()
    payload = live.progress(camp.pk)

    async def scenario():
        await layer.group_add(org_group(tenants["a"].pk), "a-page")
        await layer.group_add(org_group(tenants["b"].pk), "b-page")
        await live.apush_progress(org.pk, camp.pk, payload)
        got = await asyncio.wait_for(layer.receive("a-page"), 5)
        # B's group: nothing (a message for B would be waiting already: the send is done).
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(layer.receive("b-page"), 0.2)
        return got["payload"]

    msg = asyncio.run(scenario())
    assert msg["type"] == live.PROGRESS_TYPE and msg["campaign"] == camp.pk
    assert msg["counts"]["in_progress"] == 1 and msg["counts"]["pending"] == 1 and msg["total"] == 2
    assert msg["attempts"][0]["name"] == "José" and msg["attempts"][0]["state"] == "ringing"


def test_abandonment_over_the_cap_is_red_and_numbers_are_pt_br(tenants):
    from django.utils import timezone

    org = tenants["a"]
    camp = factories.campaign(org, max_abandon_rate=0.03)
    now = timezone.now()
    for i in range(4):
        c = factories.contact(org, camp)
        factories.attempt(org, c, state="completed", result="abandoned" if i == 0 else "answered",
                          answered_at=now, created_at=now)
    page = _client(tenants["alice"]).get(f"/dialer/campaigns/{camp.pk}/").content.decode()
    # 1 abandoned of 4 answered: 25 % against a 3 % cap, in red; the cap shown in pt-BR.
    assert 'class="big over-cap" id="dl-ab1h" data-testid="dl-ab1h">25%<' in page
    assert 'id="dl-cap">3%<' in page
    assert 'data-cap="0.03"' in page  # the script compares with the stored fraction
    calm = factories.campaign(org, max_abandon_rate=0.5)
    page = _client(tenants["alice"]).get(f"/dialer/campaigns/{calm.pk}/").content.decode()
    assert '<p class="big" id="dl-ab1h"' in page
