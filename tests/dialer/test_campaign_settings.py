"""Campaign settings: one validation (central.dialer.rules) for the API, the dashboard form
and the admin; the form's % / weekday grid / minutes conversions; queues from the PBX."""

from __future__ import annotations

import pytest
from django.test import Client

from central.core.models import AuditLog
from central.dialer.models import Campaign
from tests.dialer import factories

pytestmark = pytest.mark.django_db

#: (field, value sent to the API, value typed in the form, field shown in error): the
#: refused values of issue 12 first (all were accepted with 201 before).
REFUSED = [
    ("max_cps", -1, "-1"),
    ("dial_ratio", -5, "-5"),
    ("abandon_after_s", -3, "-3"),
    ("max_attempts", 0, "0"),
    ("caller_id", "abc", "abc"),
    ("max_channels", 0, "0"),
    ("ring_timeout_s", 1, "1"),
    ("max_attempts_per_day", 0, "0"),
    ("max_abandon_rate", 0.9, "90"),  # the form takes % (90 %), the API a fraction
    ("record_percent", 101, "101"),
]


def _form_data(**overrides) -> dict:
    """A complete, valid settings form post (what the page's inputs send)."""
    data = {
        "name": "Cobrança", "queue": "vendas", "asterisk_server": "", "pacing_mode": "ratio", "dial_ratio": "2",
        "max_channels": "30", "max_cps": "5", "max_abandon_rate": "3", "abandon_after_s": "2",
        "ring_timeout_s": "30", "max_attempts": "3", "max_attempts_per_day": "2", "caller_id": '"Loja" <1133334444>',
        "trunk": "", "dial_context": "discador-out", "dial_exten": "fila", "timezone": "America/Sao_Paulo",
        "respect_holidays": "on", "holiday_subdivision": "sp", "short_call_message": "Olá", "short_call_alarm": "50",
        "retry_policy_busy": "10", "retry_policy_no_answer": "30", "retry_policy_congestion": "",
        "retry_policy_failed": "15", "retry_policy_abandoned": "5",
        "record": "percent", "record_percent": "20",
    }
    for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
        for i in range(2):
            data[f"working_hours_{day}_{i}_start"] = data[f"working_hours_{day}_{i}_end"] = ""
    data.update(working_hours_mon_0_start="09:00", working_hours_mon_0_end="12:00",
                working_hours_mon_1_start="13:00", working_hours_mon_1_end="18:00",
                working_hours_sat_0_start="10:00", working_hours_sat_0_end="16:00")
    data.update(overrides)
    return data


def _client(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


@pytest.mark.parametrize(("field", "api_value", "_typed"), REFUSED, ids=[r[0] for r in REFUSED])
def test_api_refuses_each_bad_setting(tenants, api_as, field, api_value, _typed):
    client = api_as(tenants["alice"])
    r = client.post("/api/v1/dialer/campaigns/", {"name": "x", "queue": "vendas", field: api_value}, format="json")
    assert r.status_code == 400, r.content
    assert list(r.json()["error"]["fields"]) == [field]
    assert not Campaign.objects.exists()
    camp = factories.campaign(tenants["a"])
    r = client.patch(f"/api/v1/dialer/campaigns/{camp.pk}/", {field: api_value}, format="json")
    assert r.status_code == 400 and field in r.json()["error"]["fields"]


def test_api_messages_pt_br_and_english(tenants, api_as):
    client = api_as(tenants["alice"])
    body = {"name": "x", "queue": "vendas", "max_cps": -1, "caller_id": "abc"}
    pt = client.post("/api/v1/dialer/campaigns/", body, format="json").json()["error"]["fields"]
    en = client.post("/api/v1/dialer/campaigns/", body, format="json", HTTP_ACCEPT_LANGUAGE="en").json()["error"]["fields"]
    assert pt["max_cps"] == ["Informe um valor maior que 0 e até 100."]
    assert en["max_cps"] == ["Enter a value greater than 0 and at most 100."]
    assert pt["caller_id"][0].startswith("Identificador de chamada inválido")
    assert en["caller_id"][0].startswith("Invalid caller ID")


def test_api_accepts_valid_settings(tenants, api_as):
    client = api_as(tenants["alice"])
    r = client.post("/api/v1/dialer/campaigns/", {
        "name": "x", "queue": "vendas", "max_cps": 0.5, "dial_ratio": 1.5, "abandon_after_s": 0, "max_attempts": 1,
        "caller_id": '"Loja" <+55 11 3333-4444>', "max_abandon_rate": 0.03}, format="json")
    assert r.status_code == 201, r.content
    # A PATCH of an unrelated field keeps working on a valid campaign.
    assert client.patch(f"/api/v1/dialer/campaigns/{r.json()['id']}/", {"name": "y"}, format="json").status_code == 200


@pytest.mark.parametrize(("field", "_api", "typed"), REFUSED, ids=[r[0] for r in REFUSED])
def test_form_refuses_each_bad_setting(tenants, field, _api, typed):
    camp = factories.campaign(tenants["a"], name="Antes")
    alice = _client(tenants["alice"])
    r = alice.post(f"/dialer/campaigns/{camp.pk}/settings/", _form_data(**{field: typed}))
    assert r.status_code == 200
    html = r.content.decode()
    assert f'data-testid="error-{field}"' in html and 'data-testid="form-errors"' in html
    camp.refresh_from_db()
    assert camp.name == "Antes"  # nothing saved
    r = alice.post("/dialer/campaigns/new/", _form_data(**{field: typed}))
    assert r.status_code == 200 and f'data-testid="error-{field}"' in r.content.decode()
    assert Campaign.objects.count() == 1


def test_form_saves_percent_weekday_grid_and_minutes(tenants):
    alice = _client(tenants["alice"])
    page = alice.get("/dialer/campaigns/new/").content.decode()
    assert "segunda" in page and "domingo" in page and '"mon":' not in page  # pt-BR days, not JSON
    # A new campaign starts from the defaults, in the form's units.
    assert 'name="working_hours_sat_0_start" value="10:00"' in page and 'name="retry_policy_busy" value="10"' in page
    assert 'name="max_abandon_rate" value="3.0"' in page
    r = alice.post("/dialer/campaigns/new/", _form_data())
    assert r.status_code == 302, r.content.decode()
    camp = Campaign.objects.get()
    assert camp.organization == tenants["a"]
    assert camp.max_abandon_rate == pytest.approx(0.03)
    assert camp.working_hours == {"mon": [["09:00", "12:00"], ["13:00", "18:00"]], "tue": [], "wed": [], "thu": [],
                                  "fri": [], "sat": [["10:00", "16:00"]], "sun": []}
    assert camp.retry_policy == {"busy": 600, "no_answer": 1800, "failed": 900, "abandoned": 300}
    assert camp.holiday_subdivision == "SP" and camp.caller_id == '"Loja" <1133334444>'
    assert (camp.record, camp.record_percent) == ("percent", 20)
    assert AuditLog.objects.filter(action="campaign.create", actor_name="alice").exists()
    # The edit page shows the stored values back in the same units.
    edit = alice.get(f"/dialer/campaigns/{camp.pk}/settings/").content.decode()
    assert 'name="max_abandon_rate" value="3.0"' in edit or 'name="max_abandon_rate" value="3"' in edit
    assert 'name="working_hours_mon_1_start" value="13:00"' in edit
    assert 'name="retry_policy_busy" value="10"' in edit
    # A span with an end before its start is refused with the hours rule's message.
    bad = alice.post(f"/dialer/campaigns/{camp.pk}/settings/",
                     _form_data(working_hours_mon_0_start="18:00", working_hours_mon_0_end="09:00"))
    assert 'data-testid="error-working_hours">segunda: a faixa 18:00-09:00 termina antes de começar' in bad.content.decode()


def test_recording_a_percentage_needs_one(tenants, api_as):
    """record=percent with 0 % would record nothing while saying it records: refused in
    the form and the API with the same message; none/all ignore the percentage."""
    alice = _client(tenants["alice"])
    r = alice.post("/dialer/campaigns/new/", _form_data(record="percent", record_percent="0"))
    assert r.status_code == 200 and 'data-testid="error-record_percent"' in r.content.decode()
    client = api_as(tenants["alice"])
    r = client.post("/api/v1/dialer/campaigns/", {"name": "x", "queue": "vendas", "record": "percent"}, format="json")
    assert r.status_code == 400 and list(r.json()["error"]["fields"]) == ["record_percent"]
    assert r.json()["error"]["fields"]["record_percent"] == ["Informe a porcentagem de chamadas gravadas (1 a 100)."]
    r = client.post("/api/v1/dialer/campaigns/", {"name": "x", "queue": "vendas", "record": "all"}, format="json")
    assert r.status_code == 201 and (r.json()["record"], r.json()["record_percent"]) == ("all", 0)
    assert alice.post("/dialer/campaigns/new/", _form_data(record="none", record_percent="0")).status_code == 302


def test_form_role_tenant_and_finished(tenants):
    camp = factories.campaign(tenants["a"])
    assert _client(tenants["vera"]).get(f"/dialer/campaigns/{camp.pk}/settings/").status_code == 403
    assert _client(tenants["vera"]).post("/dialer/campaigns/new/", _form_data()).status_code == 403
    assert _client(tenants["bob"]).get(f"/dialer/campaigns/{camp.pk}/settings/").status_code == 404
    Campaign.objects.filter(pk=camp.pk).update(status="finished")
    r = _client(tenants["alice"]).post(f"/dialer/campaigns/{camp.pk}/settings/", _form_data(name="Mudou"))
    assert r.status_code == 302
    camp.refresh_from_db()
    assert camp.name != "Mudou"


def test_queues_from_the_pbx_and_unknown_queue_warning(tenants):
    from central.telephony.models import AsteriskServer, QueueMember

    server_a = AsteriskServer.objects.create(organization=tenants["a"], name="pbx-a", host="pbx.example.com")
    server_b = AsteriskServer.objects.create(organization=tenants["b"], name="pbx-b", host="pbx.example.net")
    QueueMember.objects.create(organization=tenants["a"], server=server_a, queue="vendas", interface="PJSIP/2001")
    QueueMember.objects.create(organization=tenants["a"], server=server_a, queue="vendas", interface="PJSIP/2002",
                               availability="paused")
    QueueMember.objects.create(organization=tenants["b"], server=server_b, queue="segredo-b", interface="PJSIP/9")
    alice = _client(tenants["alice"])
    page = alice.get("/dialer/campaigns/new/").content.decode()
    assert '<option value="vendas">2 agentes</option>' in page and "segredo-b" not in page
    assert "2 agentes, disponíveis: 1" in page
    r = alice.post("/dialer/campaigns/new/", _form_data(queue="vendsa"), follow=True)  # a typo
    html = r.content.decode()
    assert "A fila vendsa não foi informada pelo PBX" in html and "vendas" in html
    assert 'data-testid="queue-warning"' in html  # and it stays on the campaign page
    r = alice.post("/dialer/", {"name": "Rápida", "queue": "vendas"}, follow=True)
    assert "não foi informada" not in r.content.decode()
    r = alice.post("/dialer/", {"name": "Rápida 2", "queue": "vendsa"}, follow=True)
    assert "A fila vendsa não foi informada pelo PBX" in r.content.decode()


def test_admin_form_runs_the_same_rule(tenants):
    from django.core.exceptions import ValidationError

    camp = Campaign(organization=tenants["a"], name="x", queue="vendas", max_cps=-1, caller_id="abc")
    with pytest.raises(ValidationError) as info:
        camp.full_clean()
    assert {"max_cps", "caller_id"} <= set(info.value.message_dict)
