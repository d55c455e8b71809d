"""The read-only lookups other apps use instead of querying messaging's tables
(the agenda's reminders and waitlist offers: number, contact, consent, window, template)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from central.messaging import services
from central.messaging.models import Contact, Template
from tests.messaging import factories as f

pytestmark = pytest.mark.django_db


def test_active_number_is_the_oldest_active_of_the_tenant(tenants):
    a, b = tenants["a"], tenants["b"]
    assert services.active_number(a) is None
    f.number(b)
    inactive = f.number(a, is_active=False)
    first, _second = f.number(a), f.number(a)
    assert inactive.pk < first.pk
    assert services.active_number(a) == first


def test_contact_for_phone_never_creates_and_stays_in_the_tenant(tenants):
    a, b = tenants["a"], tenants["b"]
    other = f.contact(b, wa_id="5511987650001", phone="+5511987650001")
    assert services.contact_for_phone(a, other.phone) is None
    older = f.contact(a, wa_id="551187650001", phone="+5511987650001")  # wa_id without the ninth digit
    f.contact(a, wa_id="5511987650001", phone="+5511987650001")
    assert services.contact_for_phone(a, "+5511987650001") == older
    assert Contact.objects.filter(organization=a).count() == 2


def test_consent_for_phone(tenants):
    a = tenants["a"]
    unknown = services.consent_for_phone(a, "+5511900000000")
    assert not unknown.known and not unknown.may_contact

    silent = f.contact(a)
    state = services.consent_for_phone(a, silent.phone)
    assert state.known and not state.has_conversation and not state.may_contact

    services.record_opt_in(silent, source="recepção")
    assert services.consent_for_phone(a, silent.phone).may_contact

    wrote = f.contact(a)
    f.conversation(a, contact_obj=wrote)
    state = services.consent_for_phone(a, wrote.phone)
    assert state.has_conversation and state.opted_in_at is None and state.may_contact

    services.record_opt_out(wrote, source="keyword")
    state = services.consent_for_phone(a, wrote.phone)
    assert state.opted_out and state.opted_out_at is not None and not state.may_contact
    # Another tenant's consent says nothing here.
    assert not services.consent_for_phone(tenants["b"], wrote.phone).known


def test_approved_template_only(tenants):
    a = tenants["a"]
    number = f.number(a)
    assert services.approved_template(number, "lembrete_consulta") is None
    f.template(a, number_obj=number, name="lembrete_consulta", language="en_US", status=Template.Status.PENDING)
    assert services.approved_template(number, "lembrete_consulta") is None
    pt = f.template(a, number_obj=number, name="lembrete_consulta", language="pt_BR")
    en = f.template(a, number_obj=number, name="lembrete_consulta", language="es")
    assert services.approved_template(number, "lembrete_consulta") == pt
    assert services.approved_template(number, "lembrete_consulta", "es") == en
    assert services.approved_template(f.number(a), "lembrete_consulta") is None  # another number's


def test_window_open_for(tenants):
    a = tenants["a"]
    number, contact = f.number(a), f.contact(a)
    assert not services.window_open_for(number, contact)
    conv = f.conversation(a, number_obj=number, contact_obj=contact, inbound_minutes_ago=60)
    assert services.window_open_for(number, contact)
    assert not services.window_open_for(number, contact, now=timezone.now() + timedelta(hours=24))
    conv.state = "resolved"
    conv.save(update_fields=["state"])
    assert not services.window_open_for(number, contact)
