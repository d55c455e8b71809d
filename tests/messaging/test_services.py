"""Service rules: window, opt-out, who may speak, hand-off, assign/resolve and their audit."""

from __future__ import annotations

import pytest

from central.messaging import responders, services
from central.messaging.models import Conversation, Message
from tests.messaging import factories as f

pytestmark = pytest.mark.django_db


def test_text_inside_window_is_queued(tenants):
    conv = f.conversation(tenants["a"], inbound_minutes_ago=60)
    msg = services.send_text(conv, "Bom dia!", user=tenants["alice"])
    assert msg.status == "queued" and msg.payload["to"] == conv.contact.wa_id
    conv.refresh_from_db()
    assert conv.state == "open" and conv.assignee == tenants["alice"] and conv.first_response_at is not None


def test_text_outside_window_is_refused_with_templates_offered(tenants):
    conv = f.conversation(tenants["a"], inbound_minutes_ago=24 * 60 + 1)
    tpl = f.template(tenants["a"], number_obj=conv.number)
    with pytest.raises(services.WindowClosed) as exc:
        services.send_text(conv, "Oi", user=tenants["alice"])
    assert [t["name"] for t in exc.value.extra["templates"]] == [tpl.name]
    assert not Message.objects.filter(conversation=conv).exists()
    msg = services.send_template(conv, tpl, ["Ana", "amanhã"], user=tenants["alice"])
    assert msg.body == "Olá Ana, sua consulta é amanhã." and msg.payload["type"] == "template"


def test_bot_is_silent_unless_state_bot(tenants):
    conv = f.conversation(tenants["a"], state="bot")
    services.send_text(conv, "Sou o assistente", bot=True)
    for state in ("pending", "open"):
        Conversation.objects.filter(pk=conv.pk).update(state=state)
        with pytest.raises(services.BotSilenced):
            services.send_text(conv, "Ainda eu", bot=True)
    assert Message.objects.filter(conversation=conv, sender="bot").count() == 1


def test_human_reply_takes_the_conversation_from_the_bot(tenants):
    conv = f.conversation(tenants["a"], state="bot")
    services.send_text(conv, "Aqui é a Alice", user=tenants["alice"])
    with pytest.raises(services.BotSilenced):
        services.send_text(conv, "Posso ajudar?", bot=True)


def test_interactive_limits(tenants):
    conv = f.conversation(tenants["a"])
    with pytest.raises(services.InvalidMessage):
        services.send_interactive(conv, "Escolha", buttons=[("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")],
                                  user=tenants["alice"])
    with pytest.raises(services.InvalidMessage):
        services.send_interactive(conv, "Escolha", buttons=[("a", "x" * 21)], user=tenants["alice"])
    rows = [{"id": f"r{i}", "title": f"Horário {i}"} for i in range(11)]
    with pytest.raises(services.InvalidMessage):
        services.send_interactive(conv, "Escolha", sections=[{"rows": rows}], user=tenants["alice"])
    msg = services.send_interactive(conv, "Escolha", sections=[{"rows": rows[:10]}], list_button="Ver",
                                    user=tenants["alice"])
    assert len(msg.payload["interactive"]["action"]["sections"][0]["rows"]) == 10


def test_opt_out_stops_everything_but_the_confirmation(tenants):
    conv = f.conversation(tenants["a"])
    queued = services.send_text(conv, "Promoção", user=tenants["alice"])
    services.record_opt_out(conv.contact, source="keyword")
    queued.refresh_from_db()
    assert queued.status == "canceled"
    with pytest.raises(services.OptedOut):
        services.send_text(conv, "Mais uma", user=tenants["alice"])
    assert services.send_system_text(conv, "Você não receberá mais mensagens.") is not None
    from central.core.models import AuditLog

    assert AuditLog.objects.filter(action="messaging.opt_out", organization=tenants["a"]).count() == 1


def test_hand_off_assign_resolve_and_audit(tenants):
    from central.core.models import AuditLog

    conv = f.conversation(tenants["a"], state="bot")
    services.hand_off(conv, "Pediu atendente")
    conv.refresh_from_db()
    assert conv.state == "pending" and conv.handoff_reason == "Pediu atendente"
    services.assign(conv, tenants["artur"], by=tenants["alice"])
    conv.refresh_from_db()
    assert conv.state == "open" and conv.assignee == tenants["artur"]
    services.hand_off(conv, "ATENDENTE de novo")  # a keyword never takes it from the human
    conv.refresh_from_db()
    assert conv.state == "open"
    with pytest.raises(services.NotAllowed):
        services.assign(conv, tenants["bob"], by=tenants["alice"])  # another tenant's user
    services.resolve(conv, by=tenants["artur"])
    conv.refresh_from_db()
    assert conv.state == "resolved" and conv.resolved_at is not None
    actions = set(AuditLog.objects.filter(organization=tenants["a"]).values_list("action", flat=True))
    assert {"messaging.assign", "messaging.resolve"} <= actions


def test_new_episode_after_resolve_goes_to_the_responder(tenants):
    class Echo:
        name = "echo"

        def applies_to(self, conversation):
            return True

        def handle(self, conversation, message):
            services.send_text(conversation, "eco", bot=True)

    conv = f.conversation(tenants["a"], state="resolved")
    responders.register(Echo())
    try:
        new = services.live_conversation(conv.number, conv.contact)
        assert new.pk != conv.pk and new.state == "bot"
    finally:
        responders.unregister("echo")
    assert services.live_conversation(conv.number, conv.contact).state == "bot"
    third = f.conversation(tenants["a"], state="resolved")
    assert services.live_conversation(third.number, third.contact).state == "pending"  # no responder


def test_e164_for_brazilian_wa_id_adds_the_ninth_digit():
    assert services.e164_for_wa_id("551187654321") == "+5511987654321"
    assert services.e164_for_wa_id("5511987654321") == "+5511987654321"
    assert services.e164_for_wa_id("14155550123") == "+14155550123"


def test_retention_deletes_old_resolved_conversations_only_of_that_tenant(tenants):
    """``central maintenance`` deletes through this function (LGPD retention)."""
    from datetime import timedelta

    from django.utils import timezone

    from central.messaging.models import Contact, WebhookEvent

    a, b = tenants["a"], tenants["b"]
    year = 365 * 24 * 60
    old_done = f.conversation(a, state="resolved", inbound_minutes_ago=year)
    f.message(a, conversation_obj=old_done)
    recent_done = f.conversation(a, state="resolved", inbound_minutes_ago=60)
    old_open = f.conversation(a, state="open", inbound_minutes_ago=year)
    other_tenant = f.conversation(b, state="resolved", inbound_minutes_ago=year)
    old_event = f.webhook_event(a, received_at=timezone.now() - timedelta(days=365), processed_at=timezone.now())
    pending_event = f.webhook_event(a, received_at=timezone.now() - timedelta(days=365))
    cutoff = timezone.now() - timedelta(days=180)

    assert services.purge_conversations(a.pk, cutoff) == 1  # dry run: counts, deletes nothing
    assert Conversation.objects.filter(pk=old_done.pk).exists()
    assert services.purge_conversations(a.pk, cutoff, dry_run=False) == 1
    left = set(Conversation.objects.values_list("pk", flat=True))
    assert left == {recent_done.pk, old_open.pk, other_tenant.pk}
    assert not Message.objects.filter(conversation_id=old_done.pk).exists()
    assert Contact.objects.filter(pk=old_done.contact_id).exists()  # consent outlives the talk
    assert set(WebhookEvent.objects.values_list("pk", flat=True)) >= {pending_event.pk}
    assert not WebhookEvent.objects.filter(pk=old_event.pk).exists()
