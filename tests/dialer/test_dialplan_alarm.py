"""A dialplan mistake is visible, not silent (issue 14).

Against a dialplan without the campaign's exten, Asterisk answers every Originate with
``Response: Error`` / ``Message: Extension does not exist.`` (main/manager.c; the simulator
does the same, tests/simulator/test_dialer_fidelity.py). The attempt keeps that message,
the log says it, and once every Originate of the campaign is refused the campaign is
paused with an alarm the live panel and the API show. ``central diagnose`` finds the same
mistake before anyone dials.
"""

from __future__ import annotations

import logging

import pytest

from central.dialer.engine import ORIGINATE_ALARM_AFTER
from central.simulator import Simulator, SimulatorConfig
from central.simulator.world import WorldConfig
from tests.dialer.engine_support import make_campaign, make_contacts, phones, start_rig
from tests.dialer.engine_support import sync_to_async as _sync

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.asyncio,
    pytest.mark.usefixtures("give_back_connections"),
]

#: The customer's dialplan has the numbers but no ``fila`` (the issue's real Asterisk).
NO_FILA = {"discador-out": ("_X.", "_+X.", "entrada")}


def _attempts(campaign_id: int) -> list[dict]:
    from central.dialer.models import Attempt

    return list(Attempt.objects.filter(campaign_id=campaign_id).order_by("created_at", "id").values())


def _campaign(campaign_id: int):
    from central.dialer.models import Campaign

    return Campaign.objects.get(pk=campaign_id)


async def test_refused_originates_keep_asterisks_message_log_it_and_raise_the_alarm(org, caplog):
    campaign = await _sync(make_campaign)(org, max_channels=3, pacing_mode="ratio", dial_ratio=1.0)
    await _sync(make_contacts)(campaign, phones(20))
    rig = await start_rig(WorldConfig(agents=3), dialplan=dict(NO_FILA))
    caplog.set_level(logging.WARNING, logger="central.dialer.engine")
    try:
        await rig.run(15)
        await rig.engine.flush()
        runner_gone = campaign.id not in rig.engine.runners or rig.engine.runners[campaign.id].conf.status != "active"
    finally:
        await rig.close()

    attempts = await _sync(_attempts)(campaign.id)
    # Dialing stopped at the alarm: 15 ticks would have dialed all 20 contacts; only the
    # batch in flight when the threshold was reached (at most max_channels) went out.
    assert ORIGINATE_ALARM_AFTER <= len(rig.spy.seen) < ORIGINATE_ALARM_AFTER + 3, rig.spy.seen
    assert runner_gone
    assert [(a["result"], a["note"]) for a in attempts] == \
        [("failed", "Asterisk: Extension does not exist.")] * len(rig.spy.seen)
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) >= ORIGINATE_ALARM_AFTER and "fila@discador-out" in refused[0]
    assert "Extension does not exist." in refused[0]
    assert any(r.levelno == logging.ERROR and "paused" in r.getMessage() for r in caplog.records)
    c = await _sync(_campaign)(campaign.id)
    assert (c.status, c.alarm, c.alarm_message) == ("paused", "originate_failing", "Extension does not exist.")
    assert c.alarm_at is not None


async def test_alarm_shows_on_the_api_and_panel_and_resume_clears_it(org, tenants, api_as):
    from django.template.loader import render_to_string
    from django.utils import timezone

    from central.dialer import services

    def setup():
        c = make_campaign(tenants["a"], status="paused", alarm="originate_failing",
                          alarm_message="Extension does not exist.", alarm_at=timezone.now())
        return c

    campaign = await _sync(setup)()

    def check():
        client = api_as(tenants["alice"])
        live = client.get(f"/api/v1/dialer/campaigns/{campaign.id}/live/")
        assert live.status_code == 200, live.content
        alarm = live.json()["alarm"]
        assert alarm["code"] == "originate_failing" and alarm["detail"] == "Extension does not exist."
        assert alarm["message"].startswith("Discagem interrompida") and "Extension does not exist." in alarm["message"]
        english = client.get(f"/api/v1/dialer/campaigns/{campaign.id}/live/", HTTP_ACCEPT_LANGUAGE="en").json()
        assert english["alarm"]["message"].startswith("Dialing stopped"), english["alarm"]
        detail = client.get(f"/api/v1/dialer/campaigns/{campaign.id}/")
        assert detail.status_code == 200 and detail.json()["alarm_info"]["code"] == "originate_failing"
        html = render_to_string("dialer/_live.html", {"campaign": campaign})
        assert 'data-testid="dial-alarm"' in html and "Discagem interrompida" in html
        services.resume(campaign)
        c = _campaign(campaign.id)
        assert (c.status, c.alarm, c.alarm_message, c.alarm_at) == ("active", "", "", None)
        assert client.get(f"/api/v1/dialer/campaigns/{campaign.id}/live/").json()["alarm"] is None

    await _sync(check)()


async def test_dial_context_and_exten_are_set_through_the_api_and_the_alarm_is_read_only(tenants, api_as):
    def check():
        campaign = make_campaign(tenants["a"], status="paused")
        alice = api_as(tenants["alice"])
        r = alice.patch(f"/api/v1/dialer/campaigns/{campaign.id}/",
                        {"dial_context": "vendas-out", "dial_exten": "entrada", "alarm": "x",
                         "alarm_message": "forjado"}, format="json")
        assert r.status_code == 200, r.content
        body = r.json()
        assert (body["dial_context"], body["dial_exten"], body["alarm"], body["alarm_info"]) == \
            ("vendas-out", "entrada", "", None)
        created = alice.post("/api/v1/dialer/campaigns/", {"name": "Nova", "queue": "sales"}, format="json")
        assert created.status_code == 201, created.content
        assert (created.json()["dial_context"], created.json()["dial_exten"]) == ("discador-out", "fila")

    await _sync(check)()


async def test_dial_context_and_exten_are_campaign_settings(org):
    campaign = await _sync(make_campaign)(org, dial_exten="entrada", max_channels=2)
    await _sync(make_contacts)(campaign, phones(2))
    seen: list[tuple[str, str]] = []
    rig = await start_rig(WorldConfig(agents=2, answer_rate=0.0, busy_rate=1.0, congestion_rate=0.0),
                          dialplan=dict(NO_FILA))
    original = rig.sim.pbx._a_originate

    def spy(msg, aid, session):
        seen.append((msg.get("Context") or "", msg.get("Exten") or ""))
        return original(msg, aid, session)

    rig.sim.pbx._a_originate = spy
    try:
        await rig.run(20)
        await rig.engine.flush()
    finally:
        await rig.close()
    assert seen and set(seen) == {("discador-out", "entrada")}
    assert {a["result"] for a in await _sync(_attempts)(campaign.id)} == {"busy"}
    assert (await _sync(_campaign)(campaign.id)).alarm == ""


async def test_diagnose_finds_a_missing_exten_or_queue_on_the_pbx():
    from central.dialer.diagnose import CampaignTarget, check_campaigns_on

    async with Simulator(SimulatorConfig(clock="manual", world=WorldConfig(agents=1), dialplan=dict(NO_FILA))) as sim:
        args = (sim.host, sim.port, "central", "central-demo", "plain")
        assert await check_campaigns_on(*args, [CampaignTarget(1, "ok", "discador-out", "entrada", "sales")]) == []
        problems = await check_campaigns_on(*args, [
            CampaignTarget(2, "sem fila", "discador-out", "fila", "sales"),
            CampaignTarget(3, "sem contexto", "nada", "fila", "sales"),
            CampaignTarget(4, "fila errada", "discador-out", "entrada", "vendas"),
        ])
    assert problems == [
        "campaign 2 (sem fila): fila@discador-out: Did not find extension fila@discador-out",
        "campaign 3 (sem contexto): fila@nada: Did not find context nada",
        "campaign 4 (fila errada): queue 'vendas' does not exist",
    ]


@pytest.mark.django_db(False)
async def test_central_diagnose_reports_the_campaign_whose_exten_is_missing(tmp_path):
    import asyncio

    from tests.support import migrated_env, run_central

    env = migrated_env(tmp_path / "data")
    seed = """
from central.core.models import Organization
from central.dialer.models import Campaign
org = Organization.objects.create(name="Diag", slug="diag")
Campaign.objects.create(organization=org, name="Sem fila", status="active", queue="sales")
Campaign.objects.create(organization=org, name="Boa", status="active", queue="sales", dial_exten="entrada")
"""
    assert (await asyncio.to_thread(run_central, ["manage", "shell", "-c", seed], env)).returncode == 0
    async with Simulator(SimulatorConfig(clock="manual", world=WorldConfig(agents=1), dialplan=dict(NO_FILA))) as sim:
        env.update(CENTRAL_AMI_URL=f"ami://central@127.0.0.1:{sim.port}", CENTRAL_AMI_SECRET="central-demo")
        result = await asyncio.to_thread(run_central, ["diagnose"], env)
    assert result.returncode == 1, result.stdout + result.stderr
    line = next(x for x in result.stdout.splitlines() if "campaigns:default" in x)
    assert "FAIL" in line and "(Sem fila): fila@discador-out: Did not find extension fila@discador-out" in line
    assert "Boa" not in line
    assert "central-demo" not in result.stdout + result.stderr  # the secret never printed


async def test_network_no_answer_reason_0_is_no_answer_and_not_a_refusal(org):
    # ami-event-stream-noanswer-cause19.txt: the network gives up after 8 s with cause 19;
    # OriginateResponse says Reason 0 (like a refusal) but channels existed first.
    campaign = await _sync(make_campaign)(org, ring_timeout_s=30, max_channels=6, pacing_mode="ratio", dial_ratio=2.0)
    nums = phones(6)
    await _sync(make_contacts)(campaign, nums)
    rig = await start_rig(WorldConfig(agents=3, numbers=dict.fromkeys(nums, "noanswer")), ring_limit=8.0)
    try:
        await rig.run(20)
        await rig.engine.flush()
        stats = dict(rig.engine.stats)
    finally:
        await rig.close()
    attempts = await _sync(_attempts)(campaign.id)
    assert len(attempts) == 6
    assert {(a["result"], a["hangup_cause"], a["note"]) for a in attempts} == {("no_answer", 19, "")}
    assert (stats["refused"], stats["alarms"]) == (0, 0)
    assert (await _sync(_campaign)(campaign.id)).status == "active"
