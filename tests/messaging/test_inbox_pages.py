"""The inbox pages: filters, the 24 h window in the reply box, assign/transfer/resolve,
labels, notes, roles, tenant isolation, and the person view across channels."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from central.core.models import Membership
from central.messaging.models import ChannelSettings, Conversation, Message
from tests.messaging import factories as f

pytestmark = pytest.mark.django_db


def page_data(response) -> dict:
    """The JSON the page's script draws from (json_script ``inbox-data``)."""
    html = response.content.decode()
    start = html.index('<script id="inbox-data" type="application/json">') + len(
        '<script id="inbox-data" type="application/json">')
    return json.loads(html[start:html.index("</script>", start)])


def listed(client, query: str = "") -> set[int]:
    response = client.get("/messaging/" + query)
    assert response.status_code == 200
    return {c["id"] for c in page_data(response)["conversations"]}


@pytest.fixture
def inbox(tenants):
    a = tenants["a"]
    number = f.number(a)
    convs = {
        "bot": f.conversation(a, number_obj=number, state="bot", contact_obj=f.contact(a, name="Bruna Bot")),
        "pending": f.conversation(a, number_obj=number, state="pending", handoff_reason="Palavra-chave ATENDENTE",
                                  contact_obj=f.contact(a, name="Paula Pendente", wa_id="5511987001234")),
        "mine": f.conversation(a, number_obj=number, state="open", assignee=tenants["alice"],
                               contact_obj=f.contact(a, name="Mário Meu")),
        "artur": f.conversation(a, number_obj=number, state="open", assignee=tenants["artur"],
                                contact_obj=f.contact(a, name="Otávio Outro")),
        "resolved": f.conversation(a, number_obj=number, state="resolved", contact_obj=f.contact(a, name="Rita")),
    }
    from central.messaging import services

    services.set_labels(convs["pending"], services.labels_named(a, ["convênio"]))
    foreign = f.conversation(tenants["b"], state="pending", contact_obj=f.contact(tenants["b"], name="Paula de B"))
    return {**convs, "number": number, "foreign": foreign}


def test_filters_list_what_their_names_say(client, tenants, inbox):
    client.force_login(tenants["alice"])
    ids = {k: v.pk for k, v in inbox.items() if isinstance(v, Conversation)}
    assert listed(client) == {ids["bot"], ids["pending"], ids["mine"], ids["artur"]}
    assert listed(client, "?f=mine") == {ids["mine"]}
    assert listed(client, "?f=unassigned") == {ids["bot"], ids["pending"]}
    assert listed(client, "?f=pending") == {ids["pending"]}
    assert listed(client, "?f=bot") == {ids["bot"]}
    assert listed(client, "?f=resolved") == {ids["resolved"]}
    assert listed(client, "?label=convênio") == {ids["pending"]}
    assert listed(client, "?q=paula") == {ids["pending"]}  # never tenant B's Paula
    assert listed(client, "?q=98700-1234") == {ids["pending"]}  # by number, as people type it
    assert listed(client, "?f=nonsense") == listed(client)


def test_list_rows_carry_unread_window_and_handoff(client, tenants, inbox):
    Conversation.objects.filter(pk=inbox["pending"].pk).update(unread_count=3)
    client.force_login(tenants["alice"])
    rows = {c["id"]: c for c in page_data(client.get("/messaging/?f=pending"))["conversations"]}
    row = rows[inbox["pending"].pk]
    assert row["unread"] == 3 and row["handoff_reason"] == "Palavra-chave ATENDENTE" and row["labels"] == ["convênio"]
    closes = inbox["pending"].window_closes_at()
    assert row["window_expires_at"] == timezone.localtime(closes).isoformat()
    assert row["contact"]["phone_display"] == "(11) 98700-1234"


def test_times_are_in_the_tenants_zone(client, tenants, inbox):
    org = tenants["a"]
    org.timezone = "America/Manaus"
    org.save(update_fields=["timezone"])
    client.force_login(tenants["alice"])
    data = page_data(client.get(f"/messaging/c/{inbox['pending'].pk}/"))
    assert data["tz"] == "America/Manaus"
    assert data["current"]["window_expires_at"].endswith("-04:00")


def test_reply_inside_the_window_is_queued(client, tenants, inbox):
    client.force_login(tenants["alice"])
    conv = inbox["pending"]
    r = client.post(f"/messaging/c/{conv.pk}/reply/", {"text": "Bom dia, Paula!"}, content_type="application/json")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["message"]["status"] == "queued" and body["message"]["text"] == "Bom dia, Paula!"
    assert body["conversation"]["state"] == "open" and body["conversation"]["assignee"]["id"] == tenants["alice"].pk


def test_outside_the_window_free_text_is_refused_and_the_template_goes(client, tenants, inbox):
    conv = inbox["pending"]
    Conversation.objects.filter(pk=conv.pk).update(last_inbound_at=timezone.now() - timedelta(hours=25))
    tpl = f.template(tenants["a"], number_obj=inbox["number"])
    client.force_login(tenants["alice"])
    data = page_data(client.get(f"/messaging/c/{conv.pk}/"))
    # The page knows the window closed (the script then offers only the template picker)...
    assert data["current"]["window_expires_at"] < timezone.localtime().isoformat()
    assert [t["id"] for t in data["templates"]] == [tpl.pk] and data["templates"][0]["param_count"] == 2
    # ...and the server refuses free text anyway, before anything is queued.
    r = client.post(f"/messaging/c/{conv.pk}/reply/", {"text": "Oi"}, content_type="application/json")
    assert r.status_code == 400 and r.json()["error"]["code"] == "window_closed"
    assert not Message.objects.filter(conversation=conv, direction="out").exists()
    r = client.post(f"/messaging/c/{conv.pk}/template/", {"template": tpl.pk, "params": ["Paula", "amanhã"]},
                    content_type="application/json")
    assert r.status_code == 200, r.content
    assert r.json()["message"]["template"] == tpl.name
    assert r.json()["message"]["text"] == "Olá Paula, sua consulta é amanhã."


def test_reply_box_markup_has_both_modes(client, tenants, inbox):
    client.force_login(tenants["alice"])
    html = client.get(f"/messaging/c/{inbox['pending'].pk}/").content.decode()
    for testid in ("free-text", "template-form", "window-closed-hint", "note-form", "assign-select", "resolve"):
        assert f'data-testid="{testid}"' in html


def test_assign_transfer_release_and_resolve(client, tenants, inbox):
    from central.core.models import AuditLog

    client.force_login(tenants["alice"])
    conv = inbox["pending"]
    url = f"/messaging/c/{conv.pk}/"
    r = client.post(url + "assign/", {"user": tenants["alice"].pk}, content_type="application/json")
    assert r.json()["conversation"]["state"] == "open" and r.json()["conversation"]["assignee"]["id"] == tenants["alice"].pk
    r = client.post(url + "assign/", {"user": tenants["artur"].pk}, content_type="application/json")
    assert r.json()["conversation"]["assignee"]["id"] == tenants["artur"].pk  # transfer
    r = client.post(url + "assign/", {"user": tenants["bob"].pk}, content_type="application/json")
    assert r.status_code == 400  # a user of another tenant never receives it
    r = client.post(url + "assign/", {"user": None}, content_type="application/json")
    assert r.json()["conversation"]["state"] == "pending" and r.json()["conversation"]["assignee"] is None
    r = client.post(url + "resolve/", {}, content_type="application/json")
    assert r.json()["conversation"]["state"] == "resolved"
    actions = list(AuditLog.objects.filter(organization=tenants["a"]).values_list("action", flat=True))
    assert actions.count("messaging.assign") == 2 and "messaging.resolve" in actions


def test_notes_labels_and_read(client, tenants, inbox):
    conv = inbox["pending"]
    Conversation.objects.filter(pk=conv.pk).update(unread_count=2)
    client.force_login(tenants["artur"])  # an agent
    url = f"/messaging/c/{conv.pk}/"
    r = client.post(url + "note/", {"text": "Prefere à tarde"}, content_type="application/json")
    assert r.json()["message"]["kind"] == "note"
    r = client.post(url + "labels/", {"labels": ["convênio", "retorno", " "]}, content_type="application/json")
    assert r.json()["conversation"]["labels"] == ["convênio", "retorno"]
    r = client.post(url + "read/", {}, content_type="application/json")
    assert r.json()["conversation"]["unread"] == 0


def test_viewer_reads_but_cannot_act(client, tenants, inbox):
    client.force_login(tenants["vera"])
    conv = inbox["pending"]
    html = client.get(f"/messaging/c/{conv.pk}/").content.decode()
    assert 'data-testid="reply-box"' not in html
    r = client.post(f"/messaging/c/{conv.pk}/reply/", {"text": "x"}, content_type="application/json")
    assert r.status_code == 403
    assert not Message.objects.filter(conversation=conv).exists()


def test_another_tenants_conversation_is_404(client, tenants, inbox):
    client.force_login(tenants["alice"])
    foreign = inbox["foreign"]
    assert client.get(f"/messaging/c/{foreign.pk}/").status_code == 404
    for action in ("reply", "resolve", "assign", "note", "read"):
        r = client.post(f"/messaging/c/{foreign.pk}/{action}/", {"text": "x"}, content_type="application/json")
        assert r.status_code == 404
    msg = f.message(tenants["b"], conversation_obj=foreign, kind="image", media={"id": "m1", "mime_type": "image/png"})
    assert client.get(f"/messaging/media/{msg.pk}/").status_code == 404
    foreign.refresh_from_db()
    assert foreign.state == "pending"


def test_thread_shows_pressed_buttons_statuses_and_failures(client, tenants, inbox):
    conv = inbox["mine"]
    f.message(tenants["a"], conversation_obj=conv, kind="interactive", body="Terça")
    f.message(tenants["a"], conversation_obj=conv, direction="out", sender="user", status="failed",
              error_code=131047, error_title="Re-engagement message", body="Oi")
    client.force_login(tenants["alice"])
    thread = page_data(client.get(f"/messaging/c/{conv.pk}/"))["messages"]
    assert thread[0]["reply_to_button"] == "Terça" and thread[0]["text"] == ""
    assert thread[1]["status"] == "failed" and thread[1]["error"] == "Re-engagement message (131047)"


# --- one person across channels --------------------------------------------------------------------


@pytest.fixture
def person(tenants, inbox):
    from tests.dialer import factories as dialer
    from tests.telephony.factories import make_call_record

    a = tenants["a"]
    e164 = inbox["pending"].contact.phone
    camp = dialer.campaign(a, name="Retorno de exames")
    contact = dialer.contact(a, camp, phone=e164, name="Paula", attempts=3, last_result="no_answer", status="failed",
                             legal_basis="consent")
    dialer.attempt(a, contact, result="no_answer", state="completed")
    make_call_record(a, to_number=e164.lstrip("+")[2:], disposition="no_answer", billsec=0)
    make_call_record(tenants["b"], to_number=e164.lstrip("+")[2:], agent="agente-de-b")
    return {"e164": e164, "digits": e164.lstrip("+"), "campaign": camp}


def test_person_view_shows_whatsapp_dialer_and_calls(client, tenants, inbox, person):
    client.force_login(tenants["alice"])
    html = client.get(f"/messaging/people/{person['digits']}/").content.decode()
    assert "Retorno de exames" in html and "Paula Pendente" in html
    assert f'/messaging/c/{inbox["pending"].pk}/' in html
    assert "Não atendida" in html  # the CDR's disposition
    assert "agente-de-b" not in html and "Paula de B" not in html
    assert 'data-testid="person-appointments"' in html
    assert 'data-testid="fallback-off"' in html  # off by default


def test_person_view_shows_the_agenda(client, tenants, inbox, person):
    from tests.scheduling.factories import _appt

    appt = _appt(tenants["a"], status="confirmed")
    appt.patient.phone = person["e164"]
    appt.patient.save(update_fields=["phone"])
    client.force_login(tenants["alice"])
    html = client.get(f"/messaging/people/{person['digits']}/").content.decode()
    assert appt.service.name in html and "confirmado" in html
    client.force_login(tenants["bob"])
    assert appt.service.name not in client.get(f"/messaging/people/{person['digits']}/").content.decode()


def test_person_view_of_another_tenant_shows_nothing_of_them(client, tenants, inbox, person):
    client.force_login(tenants["bob"])
    html = client.get(f"/messaging/people/{person['digits']}/").content.decode()
    assert "Retorno de exames" not in html and "Paula Pendente" not in html


def test_dialer_fallback_template_needs_the_setting_supervisor_and_consent(client, tenants, inbox, person):
    a = tenants["a"]
    tpl = f.template(a, number_obj=inbox["number"], body="Olá {{1}}, tentamos ligar para você.")
    Conversation.objects.filter(pk=inbox["pending"].pk).update(state="resolved")
    url = f"/messaging/people/{person['digits']}/start/"
    client.force_login(tenants["alice"])
    client.post(url, {"template": tpl.pk, "p1": "Paula"})
    assert not Message.objects.filter(kind="template").exists()  # setting off

    ChannelSettings.objects.create(organization=a, dialer_fallback=True)
    client.force_login(tenants["artur"])  # an agent, not a supervisor
    assert client.post(url, {"template": tpl.pk, "p1": "Paula"}).status_code == 403

    client.force_login(tenants["alice"])
    r = client.post(url, {"template": tpl.pk, "p1": "Paula"})
    sent = Message.objects.get(kind="template")
    assert r.status_code == 302 and r["Location"] == f"/messaging/c/{sent.conversation_id}/"
    assert sent.body == "Olá Paula, tentamos ligar para você." and sent.status == "queued"
    contact = sent.conversation.contact
    assert contact.opted_in_at is not None and "Retorno de exames" in contact.consent_source


def test_dialer_fallback_refused_without_consent_or_after_opt_out(client, tenants, inbox, person):
    from central.dialer.models import Contact as DialerContact
    from central.messaging.models import Contact

    a = tenants["a"]
    ChannelSettings.objects.create(organization=a, dialer_fallback=True)
    tpl = f.template(a, number_obj=inbox["number"], body="Olá {{1}}.")
    DialerContact.objects.filter(organization=a).update(legal_basis="legitimate_interest")
    client.force_login(tenants["alice"])
    url = f"/messaging/people/{person['digits']}/"
    assert 'data-testid="fallback-refused"' in client.get(url).content.decode()
    client.post(url + "start/", {"template": tpl.pk, "p1": "Paula"})
    Contact.objects.filter(phone=person["e164"]).update(opted_in_at=timezone.now() - timedelta(days=2),
                                                        opted_out_at=timezone.now())
    client.post(url + "start/", {"template": tpl.pk, "p1": "Paula"})
    assert not Message.objects.filter(kind="template").exists()


def test_settings_page_only_admins_change(client, tenants):
    Membership.objects.create(user=tenants["artur"], organization=tenants["b"], role="owner")
    client.force_login(tenants["artur"])  # agent in A
    session = client.session
    session["central_org_id"] = tenants["a"].pk
    session.save()
    assert client.post("/messaging/settings/", {"dialer_fallback": "on"}).status_code == 403
    client.force_login(tenants["alice"])
    client.post("/messaging/settings/", {"dialer_fallback": "on"})
    assert ChannelSettings.for_org(tenants["a"]).dialer_fallback
    assert not ChannelSettings.for_org(tenants["b"]).dialer_fallback


# --- test phone ----------------------------------------------------------------------------------------


def test_phone_page_says_it_is_a_simulator_and_refuses_when_none_runs(client, tenants):
    f.number(tenants["a"], use_simulator=True)
    client.force_login(tenants["artur"])  # agent
    html = client.get("/messaging/phone/").content.decode()
    assert 'data-testid="phone-explainer"' in html and "simulador" in html
    assert 'data-testid="phone-not-running"' in html  # this test process runs no simulator
    r = client.post("/messaging/phone/send/", {"type": "text", "text": "oi"}, content_type="application/json")
    assert r.status_code == 503 and r.json()["error"]["code"] == "unavailable"
    client.force_login(tenants["vera"])  # viewer
    assert client.get("/messaging/phone/").status_code == 403
    assert client.post("/messaging/phone/send/", {"type": "text", "text": "oi"},
                       content_type="application/json").status_code == 403


def test_organization_without_whatsapp_points_to_the_simulators(client, tenants):
    f.number(tenants["b"], use_simulator=True)
    Membership.objects.create(user=tenants["alice"], organization=tenants["b"], role="agent")
    client.force_login(tenants["alice"])
    session = client.session
    session["central_org_id"] = tenants["a"].pk
    session.save()
    for url in ("/messaging/", "/messaging/phone/"):
        html = client.get(url).content.decode()
        assert 'data-testid="simulator-elsewhere"' in html and "Empresa B" in html, url
        assert 'data-testid="phone-not-running"' not in html, url
    # a user who is not in B is never told about it
    client.force_login(tenants["artur"])
    assert "Empresa B" not in client.get("/messaging/").content.decode()
