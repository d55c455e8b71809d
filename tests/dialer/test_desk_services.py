"""The agent's page against the dialer's data (central.dialer.desk_services): dispositions,
do-not-call, callbacks for one agent kept away from the engine's claim, the contact card."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from central.dialer import claims, desk_services, leases
from central.dialer.desk_services import DeskError, save_disposition
from central.dialer.models import Attempt, Callback, Contact, Disposition, DoNotCall
from tests.dialer import factories

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)  # a Tuesday, 12:00 in São Paulo


def _call(org, **contact_kw):
    camp = factories.campaign(org, status="active", script="Olá {nome}, você mora em {cidade}? {cpf}")
    contact = factories.contact(org, camp, custom_fields={"Cidade": "Campinas", "obs": "<b>vip</b>"}, **contact_kw)
    attempt = factories.attempt(org, contact, state="completed", result="answered", agent="PJSIP/2001",
                                ended_at=NOW - timedelta(seconds=40))
    return camp, contact, attempt


def test_disposition_done_counts_the_wrapup_and_is_one_per_attempt(tenants):
    org = tenants["a"]
    camp, contact, attempt = _call(org)
    camp.wrapup_limit_s = 30
    camp.save()
    saved = save_disposition(org, tenants["artur"], contact=contact, attempt=attempt, code="venda",
                             notes="Comprou o plano", interface="PJSIP/2001", now=NOW)
    contact.refresh_from_db()
    assert contact.status == "done"
    assert saved.disposition.wrapup_seconds == 30.0  # 40 s spent, capped at the campaign's 30
    assert saved.disposition.label == "Venda" and saved.disposition.agent_interface == "PJSIP/2001"
    with pytest.raises(DeskError) as e:
        save_disposition(org, tenants["artur"], contact=contact, attempt=attempt, code="venda", now=NOW)
    assert e.value.code == "already"


def test_nao_ligar_mais_puts_the_number_on_the_org_wide_dnc_list(tenants):
    org = tenants["a"]
    camp, contact, attempt = _call(org)
    other = factories.contact(org, factories.campaign(org), phone=contact.phone)  # same person, other campaign
    saved = save_disposition(org, tenants["artur"], contact=contact, attempt=attempt, code="nao_ligar_mais", now=NOW)
    assert saved.dnc_added
    assert DoNotCall.objects.filter(organization=org, phone=contact.phone, campaign__isnull=True,
                                    source="opt_out").exists()
    contact.refresh_from_db()
    other.refresh_from_db()
    assert contact.status == "dnc" and other.status == "dnc"
    assert not DoNotCall.objects.filter(organization=tenants["b"]).exists()


def test_callback_for_myself_waits_for_me_and_is_never_claimed_by_the_engine(tenants):
    org = tenants["a"]
    camp, contact, attempt = _call(org)
    when = NOW + timedelta(hours=2)
    saved = save_disposition(org, tenants["artur"], contact=contact, attempt=attempt, code="agendar_retorno",
                             callback_at=when, callback_user=tenants["artur"], callback_zone="America/Manaus",
                             interface="PJSIP/2001", now=NOW)
    cb = saved.callback
    assert (cb.assigned_to, cb.scheduled_for, cb.timezone) == (tenants["artur"], when, "America/Manaus")
    contact.refresh_from_db()
    assert contact.status == "callback"
    # Due, but not for the engine: the queue could ring anyone.
    lease = leases.acquire(camp.pk, "dialer-test", when + timedelta(minutes=1), 15)
    assert claims.claim(lease, 5, when + timedelta(minutes=1), "dialer-test").attempts == []
    assert claims.contacts_due(camp.pk, when + timedelta(minutes=1), 10) == 0
    # It comes back on artur's page once due, and on nobody else's.
    assert desk_services.due_callbacks(org, tenants["artur"], NOW) == []
    due = desk_services.due_callbacks(org, tenants["artur"], when)
    assert [d["contact_id"] for d in due] == [contact.pk]
    assert desk_services.due_callbacks(org, tenants["alice"], when) == []
    assert desk_services.due_callbacks(tenants["b"], tenants["artur"], when) == []


def test_callback_for_anyone_goes_back_to_the_queue(tenants):
    org = tenants["a"]
    camp, contact, attempt = _call(org)
    when = NOW + timedelta(hours=2)
    save_disposition(org, tenants["artur"], contact=contact, attempt=attempt, code="agendar_retorno",
                     callback_at=when, now=NOW)
    contact.refresh_from_db()
    assert contact.status == "pending" and contact.next_attempt_at == when
    lease = leases.acquire(camp.pk, "dialer-test", when + timedelta(minutes=1), 15)
    got = claims.claim(lease, 5, when + timedelta(minutes=1), "dialer-test")
    assert [a.contact_id for a in got.attempts] == [contact.pk]


def test_callback_user_of_another_tenant_is_refused(tenants):
    org = tenants["a"]
    _camp, contact, attempt = _call(org)
    with pytest.raises(DeskError) as e:
        save_disposition(org, tenants["artur"], contact=contact, attempt=attempt, code="agendar_retorno",
                         callback_at=NOW + timedelta(hours=1), callback_user=tenants["bob"], now=NOW)
    assert e.value.code == "callback_user"
    assert not Callback.objects.exists() and not Disposition.objects.exists()


def test_other_tenant_contact_is_not_found(tenants):
    _camp, contact, attempt = _call(tenants["a"])
    with pytest.raises(DeskError):
        save_disposition(tenants["b"], tenants["bob"], contact=contact, attempt=attempt, code="venda", now=NOW)
    assert desk_services.card_for_attempt(tenants["b"], attempt.uid) is None
    assert desk_services.card_for_attempt(tenants["a"], attempt.uid, interface="PJSIP/2999") is None


def test_card_has_fields_history_notes_script_and_dispositions(tenants):
    org = tenants["a"]
    camp, contact, attempt = _call(org, name="Ana")
    factories.attempt(org, contact, state="completed", result="busy", created_at=NOW - timedelta(days=1))
    save_disposition(org, tenants["artur"], contact=contact, attempt=attempt, code="sem_interesse",
                     notes="Ligar só à tarde", callback_at=NOW + timedelta(days=3), now=NOW)
    card = desk_services.card_for_attempt(org, attempt.uid, interface="PJSIP/2001", agent_name="Artur")
    assert card["contact"]["name"] == "Ana" and card["contact"]["custom_fields"]["Cidade"] == "Campinas"
    assert [h["result"] for h in card["history"]] == ["busy"]  # the call on screen is not "previous"
    assert card["notes"][0]["notes"] == "Ligar só à tarde"
    assert card["script"] == [["text", "Olá "], ["field", "Ana"], ["text", ", você mora em "],
                              ["field", "Campinas"], ["text", "? "], ["unknown", "{cpf}"]]
    assert [d["code"] for d in card["dispositions"]][:2] == ["venda", "sem_interesse"]
    assert card["campaign"]["name"] == camp.name


def test_inbound_card_matches_the_caller_in_any_spelling(tenants):
    org = tenants["a"]
    camp = factories.campaign(org)
    c = factories.contact(org, camp, name="Bia", phone="+5511987654321")
    factories.contact(tenants["b"], factories.campaign(tenants["b"]), name="Segredo", phone="+5511987654321")
    card = desk_services.inbound_card(org, "011 98765-4321")
    assert card["phone"] == "+5511987654321"
    assert [m["id"] for m in card["contacts"]] == [c.pk]
    assert card["card"]["contact"]["name"] == "Bia"
    assert desk_services.inbound_card(org, "anonymous")["contacts"] == []


def test_desk_attempt_checks_dnc_and_hours(tenants):
    org = tenants["a"]
    camp = factories.campaign(org)
    contact = factories.contact(org, camp)
    night = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # 23:00 in São Paulo
    with pytest.raises(DeskError) as e:
        desk_services.desk_attempt(org, contact, "PJSIP/2001", "manual", now=night)
    assert e.value.code == "hours"
    a = desk_services.desk_attempt(org, contact, "PJSIP/2001", "manual", now=NOW)
    assert (a.state, a.pacing_mode, a.agent) == ("created", "manual", "PJSIP/2001")
    assert Contact.objects.get(pk=contact.pk).status == "in_progress"
    DoNotCall.objects.create(organization=org, phone=contact.phone)
    with pytest.raises(DeskError) as e:
        desk_services.desk_attempt(org, contact, "PJSIP/2001", "manual", now=NOW)
    assert e.value.code == "dnc"
    assert Attempt.objects.filter(contact=contact).count() == 1


def test_api_callback_for_a_member_only_and_kept_from_the_queue(tenants, api_as):
    """The callbacks API takes ``assigned_to`` among the organization's members only: a
    user of another tenant is refused exactly like an id that does not exist (no oracle)."""
    org = tenants["a"]
    contact = factories.contact(org, factories.campaign(org))
    when = (timezone.now() + timedelta(hours=1)).isoformat()
    api = api_as(tenants["alice"])
    refusals = []
    for user_id in (tenants["bob"].pk, 999_999):
        r = api.post("/api/v1/dialer/callbacks/", {"contact": contact.pk, "scheduled_for": when,
                                                  "assigned_to": user_id}, format="json")
        assert r.status_code == 400, r.content
        refusals.append(r.json()["error"]["fields"]["assigned_to"])
    assert refusals[0] == [m.replace("999999", str(tenants["bob"].pk)) for m in refusals[1]]
    r = api.post("/api/v1/dialer/callbacks/", {"contact": contact.pk, "scheduled_for": when,
                                              "assigned_to": tenants["artur"].pk}, format="json")
    assert r.status_code == 201, r.content
    contact.refresh_from_db()
    assert contact.status == "callback"  # waits for artur's page, not for the queue
