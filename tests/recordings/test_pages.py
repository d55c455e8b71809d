"""The player on the call detail page: shown to who may hear the recording, absent otherwise."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.recordings.factories import make_recording
from tests.telephony.factories import make_call_record

pytestmark = pytest.mark.django_db


def _page(user, call) -> tuple[int, str]:
    client = Client()
    client.force_login(user)
    response = client.get(f"/telephony/calls/{call.pk}/")
    return response.status_code, response.content.decode()


def test_call_detail_shows_the_player_to_who_may_hear_it(tenants) -> None:
    call = make_call_record(tenants["a"], agent_interface="PJSIP/2001")
    rec = make_recording(tenants["a"], call_record=call, duration=12.4)
    status, html = _page(tenants["alice"], call)
    assert status == 200 and 'data-testid="call-recordings"' in html
    assert f'<audio controls preload="none" src="/recordings/{rec.pk}/audio">' in html and "12 s" in html
    status, html = _page(tenants["vera"], call)  # a viewer sees the call, not the recording
    assert status == 200 and "<audio" not in html and 'data-testid="call-recordings"' not in html
    assert _page(tenants["bob"], call)[0] == 404
    plain = make_call_record(tenants["a"])
    assert "<audio" not in _page(tenants["alice"], plain)[1]


def test_desk_card_history_carries_the_agents_own_recordings(tenants) -> None:
    """The agent's history (the desk's previous attempts of the contact): an earlier call
    taken at the same interface carries its recording's URL; another agent's does not."""
    from datetime import timedelta

    from django.utils import timezone

    from central.dialer import desk_services
    from tests.dialer import factories

    org = tenants["a"]
    camp = factories.campaign(org, status="active")
    contact = factories.contact(org, camp)
    now = timezone.now()
    mine = factories.attempt(org, contact, state="completed", result="answered", agent="PJSIP/2001",
                             created_at=now - timedelta(days=2))
    theirs = factories.attempt(org, contact, state="completed", result="answered", agent="PJSIP/2002",
                               created_at=now - timedelta(days=1))
    current = factories.attempt(org, contact, state="answered", agent="PJSIP/2001")
    rec = make_recording(org, attempt_uid=str(mine.uid), agent="PJSIP/2001")
    make_recording(org, attempt_uid=str(theirs.uid), agent="PJSIP/2002")
    card = desk_services.card_for_attempt(org, current.uid, interface="PJSIP/2001")
    by_uid = {h["uid"]: h["recording"] for h in card["history"]}
    assert by_uid == {str(mine.uid): f"/recordings/{rec.pk}/audio", str(theirs.uid): None}


def test_agents_own_history_lists_the_recording_of_each_call(tenants) -> None:
    """/agents/desk/recent/ (the agent's last dispositions) gives each call's recording URL."""
    from central.agents.models import Agent, AgentInterface
    from central.dialer.desk_services import save_disposition
    from tests.dialer import factories

    org = tenants["a"]
    agent = Agent.objects.create(organization=org, user=tenants["artur"], name="Artur")
    AgentInterface.objects.create(organization=org, agent=agent, interface="PJSIP/2001")
    camp = factories.campaign(org, status="active")
    recorded, plain = factories.contact(org, camp), factories.contact(org, camp, phone="+5511911112222")
    calls = []
    for contact in (recorded, plain):
        attempt = factories.attempt(org, contact, state="completed", result="answered", agent="PJSIP/2001")
        save_disposition(org, tenants["artur"], contact=contact, attempt=attempt, code="venda",
                         interface="PJSIP/2001")
        calls.append(attempt)
    rec = make_recording(org, attempt_uid=str(calls[0].uid), agent="PJSIP/2001")
    client = Client()
    client.force_login(tenants["artur"])
    items = client.get("/agents/desk/recent/").json()["items"]
    assert {i["attempt"]: i["recording"] for i in items} == {calls[0].pk: f"/recordings/{rec.pk}/audio",
                                                             calls[1].pk: None}
    assert client.get(f"/recordings/{rec.pk}/audio", HTTP_RANGE="bytes=0-3").status_code == 206
