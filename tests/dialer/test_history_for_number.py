"""``history_for_number``: the dialer's view of one person, read by messaging's contact view."""

from __future__ import annotations

import pytest

from central.dialer.services import history_for_number
from tests.dialer import factories

pytestmark = pytest.mark.django_db

NUMBER = "+5511987650009"


def test_contacts_attempts_and_unreached_flag_per_tenant(tenants):
    a, b = tenants["a"], tenants["b"]
    camp = factories.campaign(a, name="Cobrança")
    reached = factories.contact(a, camp, phone=NUMBER, name="Ana", attempts=1, last_result="answered", status="done")
    other = factories.campaign(a, name="Retenção")
    missed = factories.contact(a, other, phone=NUMBER, name="Ana", attempts=3, last_result="no_answer",
                               status="failed", legal_basis="consent")
    factories.attempt(a, missed, result="no_answer", state="completed")
    factories.attempt(a, reached, result="answered", state="completed", billsec=42)
    factories.contact(b, factories.campaign(b), phone=NUMBER)  # another tenant's contact

    history = history_for_number(a.pk, NUMBER)
    by_campaign = {c["campaign"]: c for c in history["contacts"]}
    assert set(by_campaign) == {"Cobrança", "Retenção"}
    assert by_campaign["Retenção"]["unreached"] and not by_campaign["Cobrança"]["unreached"]
    assert by_campaign["Retenção"]["legal_basis"] == "consent"
    assert [x["result"] for x in history["attempts"]] == ["answered", "no_answer"]
    assert history["do_not_call"] is False
    assert len(history_for_number(b.pk, NUMBER)["contacts"]) == 1


def test_do_not_call_is_reported(tenants):
    factories.donotcall(tenants["a"], phone=NUMBER)
    assert history_for_number(tenants["a"].pk, NUMBER)["do_not_call"] is True
    assert history_for_number(tenants["b"].pk, NUMBER)["do_not_call"] is False
