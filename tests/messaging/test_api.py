"""REST API: the inbox actions through the service rules, roles, audit, cross-channel view."""

from __future__ import annotations

import pytest

from central.core.models import AuditLog
from central.messaging.models import Message
from tests.messaging import factories as f

pytestmark = pytest.mark.django_db
BASE = "/api/v1/messaging"


def test_send_text_inside_window_and_refusal_outside(tenants, api_as):
    agent = api_as(tenants["artur"])
    conv = f.conversation(tenants["a"])
    r = agent.post(f"{BASE}/conversations/{conv.pk}/send/", {"type": "text", "text": "Bom dia!"}, format="json")
    assert r.status_code == 201 and r.json()["status"] == "queued"
    late = f.conversation(tenants["a"], inbound_minutes_ago=25 * 60)
    tpl = f.template(tenants["a"], number_obj=late.number)
    r = agent.post(f"{BASE}/conversations/{late.pk}/send/", {"type": "text", "text": "Oi"}, format="json")
    assert r.status_code == 409
    err = r.json()["error"]
    assert err["code"] == "window_closed" and [t["id"] for t in err["fields"]["templates"]] == [tpl.pk]
    assert not Message.objects.filter(conversation=late).exists()
    r = agent.post(f"{BASE}/conversations/{late.pk}/send/", {"type": "template", "template": tpl.pk,
                                                              "params": ["Ana", "terça"]}, format="json")
    assert r.status_code == 201 and r.json()["body"] == "Olá Ana, sua consulta é terça."


def test_buttons_over_the_limit_are_400(tenants, api_as):
    conv = f.conversation(tenants["a"])
    r = api_as(tenants["artur"]).post(f"{BASE}/conversations/{conv.pk}/send/", {
        "type": "buttons", "text": "Escolha", "buttons": [{"id": "a", "title": "x" * 21}]}, format="json")
    assert r.status_code == 400 and r.json()["error"]["fields"]["message"]


def test_viewer_reads_but_cannot_work_the_inbox(tenants, api_as):
    conv = f.conversation(tenants["a"])
    viewer = api_as(tenants["vera"])
    assert viewer.get(f"{BASE}/conversations/").status_code == 200
    assert viewer.post(f"{BASE}/conversations/{conv.pk}/send/", {"text": "x"}, format="json").status_code == 403
    assert viewer.post(f"{BASE}/conversations/{conv.pk}/resolve/").status_code == 403


def test_assign_resolve_notes_labels_read_and_audit(tenants, api_as):
    alice = api_as(tenants["alice"])
    conv = f.conversation(tenants["a"], state="pending", unread_count=3)
    f.message(tenants["a"], conversation_obj=conv)
    r = alice.post(f"{BASE}/conversations/{conv.pk}/assign/", {"user": tenants["artur"].pk}, format="json")
    assert r.status_code == 200 and r.json()["state"] == "open" and r.json()["assignee_name"] == "artur"
    assert alice.post(f"{BASE}/conversations/{conv.pk}/assign/", {"user": tenants["bob"].pk},
                      format="json").status_code == 400
    r = alice.post(f"{BASE}/conversations/{conv.pk}/notes/", {"text": "Paciente prefere manhã"}, format="json")
    assert r.status_code == 201 and r.json()["kind"] == "note"
    label = f.label(tenants["a"])
    foreign = f.label(tenants["b"])
    assert alice.post(f"{BASE}/conversations/{conv.pk}/labels/", {"labels": [foreign.pk]},
                      format="json").status_code == 400
    assert alice.post(f"{BASE}/conversations/{conv.pk}/labels/", {"labels": [label.pk]},
                      format="json").json()["labels"] == [label.pk]
    assert alice.post(f"{BASE}/conversations/{conv.pk}/read/").json()["unread_count"] == 0
    msgs = alice.get(f"{BASE}/conversations/{conv.pk}/messages/").json()["results"]
    assert [m["kind"] for m in msgs] == ["text", "note"]
    assert alice.post(f"{BASE}/conversations/{conv.pk}/resolve/").json()["state"] == "resolved"
    actions = list(AuditLog.objects.filter(organization=tenants["a"], action__startswith="messaging.")
                   .values_list("action", flat=True))
    assert "messaging.assign" in actions and "messaging.resolve" in actions


def test_inbox_filters(tenants, api_as):
    alice = api_as(tenants["alice"])
    mine = f.conversation(tenants["a"], state="open", assignee=tenants["alice"])
    pending = f.conversation(tenants["a"], state="pending")
    f.conversation(tenants["b"], state="pending")
    ids = lambda r: {c["id"] for c in r.json()["results"]}  # noqa: E731
    assert ids(alice.get(f"{BASE}/conversations/", {"mine": "true"})) == {mine.pk}
    assert ids(alice.get(f"{BASE}/conversations/", {"state": "pending"})) == {pending.pk}
    assert ids(alice.get(f"{BASE}/conversations/", {"unassigned": "true"})) == {pending.pk}
    assert ids(alice.get(f"{BASE}/conversations/", {"q": pending.contact.wa_id[-6:]})) == {pending.pk}


def test_contact_consent_and_history_across_channels(tenants, api_as):
    alice = api_as(tenants["alice"])
    conv = f.conversation(tenants["a"])
    contact = conv.contact
    r = alice.post(f"{BASE}/contacts/{contact.pk}/opt-in/", {"source": "formulário da recepção"}, format="json")
    assert r.status_code == 200 and r.json()["opted_in_at"] and r.json()["consent_source"] == "formulário da recepção"
    r = alice.post(f"{BASE}/contacts/{contact.pk}/opt-out/", {"source": "pediu por telefone"}, format="json")
    assert r.json()["opted_out"] is True
    assert {"messaging.opt_in", "messaging.opt_out"} <= set(
        AuditLog.objects.filter(organization=tenants["a"]).values_list("action", flat=True))
    history = alice.get(f"{BASE}/contacts/{contact.pk}/history/").json()
    assert history["phone"] == contact.phone and [c["id"] for c in history["whatsapp"]] == [conv.pk]
    assert "contacts" in history["dialer"] and history["calls"] == []
    assert alice.post(f"{BASE}/contacts/", {"wa_id": "5511999999999"}, format="json").status_code == 405


def test_number_secrets_are_names_with_the_tenant_prefix(tenants, api_as):
    alice = api_as(tenants["alice"])
    body = {"phone_number_id": "123456789", "display_number": "(11) 3000-0001", "access_token_env": "SECRET_KEY",
            "app_secret_env": "CENTRAL_TENANT_SECRET_WA_APP"}
    r = alice.post(f"{BASE}/numbers/", body, format="json")
    assert r.status_code == 400 and "access_token_env" in r.json()["error"]["fields"]
    body["access_token_env"] = "CENTRAL_TENANT_SECRET_WA_TOKEN"
    r = alice.post(f"{BASE}/numbers/", body, format="json")
    assert r.status_code == 201 and r.json()["display_number"] == "+551130000001"
    assert r.json()["use_simulator"] is False and r.json()["token_configured"] is False
    assert AuditLog.objects.filter(action="messaging.number.create").exists()
    assert api_as(tenants["artur"]).post(f"{BASE}/numbers/", body, format="json").status_code == 403


def test_template_changes_are_audited(tenants, api_as):
    alice = api_as(tenants["alice"])
    number = f.number(tenants["a"])
    r = alice.post(f"{BASE}/templates/", {"number": number.pk, "name": "boas_vindas", "language": "pt_BR",
                                          "body": "Olá {{1}}!"}, format="json")
    assert r.status_code == 201 and r.json()["parameter_count"] == 1
    alice.patch(f"{BASE}/templates/{r.json()['id']}/", {"status": "PAUSED"}, format="json")
    foreign = f.number(tenants["b"])
    assert alice.post(f"{BASE}/templates/", {"number": foreign.pk, "name": "x", "body": "y"},
                      format="json").status_code == 400
    assert {"messaging.template.create", "messaging.template.update"} <= set(
        AuditLog.objects.values_list("action", flat=True))
