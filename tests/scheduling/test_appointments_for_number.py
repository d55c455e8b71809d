"""``appointments_for_number``: the agenda of one person, read by messaging's person view."""

from __future__ import annotations

import pytest

from central.scheduling.services import appointments_for_number
from tests.scheduling.factories import _appt

pytestmark = pytest.mark.django_db


def test_appointments_of_the_number_in_the_tenant_only(tenants):
    mine = _appt(tenants["a"], status="confirmed")
    _appt(tenants["a"])  # another patient
    theirs = _appt(tenants["b"])
    theirs.patient.phone = mine.patient.phone
    theirs.patient.save(update_fields=["phone"])
    rows = appointments_for_number(tenants["a"].pk, mine.patient.phone)
    assert [r["id"] for r in rows] == [mine.pk]
    assert rows[0]["status_label"] == "confirmado" and rows[0]["service"] == mine.service.name
    assert [r["id"] for r in appointments_for_number(tenants["b"].pk, mine.patient.phone)] == [theirs.pk]
