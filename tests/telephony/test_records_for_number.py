"""``records_for_number``: the CDR of one person, read by other apps (messaging's contact view).

The dialplan writes whatever the channel carried, so one E.164 number appears as
``+55…``, ``55…``, the national ``11…`` or ``011…``; each spelling is found, another
tenant's records never are.
"""

from __future__ import annotations

import pytest

from central.telephony.store import number_variants, records_for_number
from tests.telephony.factories import make_call_record

pytestmark = pytest.mark.django_db

NUMBER = "+5511987650001"


def test_every_spelling_of_the_number_is_found_and_only_in_the_tenant(tenants):
    a, b = tenants["a"], tenants["b"]
    for spelling in ("+5511987650001", "5511987650001", "11987650001", "011987650001"):
        make_call_record(a, to_number=spelling)
    make_call_record(a, from_number="11987650001", to_number="1100", direction="inbound")
    make_call_record(a, to_number="11987650002")  # another person
    make_call_record(b, to_number="11987650001")  # another tenant
    rows = records_for_number(a.pk, NUMBER)
    assert len(rows) == 5
    assert {r["direction"] for r in rows} == {"outbound", "inbound"}
    assert records_for_number(b.pk, NUMBER)[0]["to_number"] == "11987650001"
    assert len(records_for_number(b.pk, NUMBER)) == 1


def test_number_variants():
    assert number_variants("+5511987650001") == ["+5511987650001", "5511987650001", "11987650001", "011987650001"]
    assert number_variants("+14155550100") == ["+14155550100", "14155550100"]
    assert number_variants("") == []
