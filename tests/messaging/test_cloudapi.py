"""The Cloud API as data: the signature (documented vector), payload limits, webhook parsing."""

from __future__ import annotations

import pytest

from central.messaging import cloudapi
from tests.messaging.support import FIXTURES, fixture

pytestmark = pytest.mark.backend_free


def test_signature_known_vector():
    # Issue 9: key "secret", body "test".
    expected = "sha256=0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914"
    assert cloudapi.sign("secret", b"test") == expected
    assert cloudapi.signature_valid("secret", b"test", expected)
    assert not cloudapi.signature_valid("secret", b"tesT", expected)
    assert not cloudapi.signature_valid("secret", b"test", expected[:-1] + "5")
    assert not cloudapi.signature_valid("secret", b"test", None)
    assert not cloudapi.signature_valid("secret", b"test", "0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914")
    assert not cloudapi.signature_valid("secret", b"test", "sha256=\u00e9")  # non-ASCII header: no exception


@pytest.mark.parametrize("name,kind,body,reply", [
    ("text.json", "text", "Does it come in another color?", ""),
    ("interactive_button_reply.json", "interactive", "Confirmar", "confirm"),
    ("interactive_list_reply.json", "interactive", "09:00", "slot-0900"),
    ("button_template_quick_reply.json", "button", "Parar mensagens", "opt_out"),
    ("image.json", "image", "Pedido médico", ""),
    ("document.json", "document", "Exame", ""),
    ("audio.json", "audio", "", ""),
    ("location.json", "location", "Clínica, Av. Paulista, 1000 (-23.565, -46.652)", ""),
    ("contacts.json", "contacts", "Barbara Johnson", ""),
    ("reaction.json", "reaction", "\U0001F44D", ""),
    ("unsupported.json", "unsupported", "", ""),
])
def test_every_documented_inbound_type(name, kind, body, reply):
    events = cloudapi.split_delivery(fixture(name))
    assert len(events) == 1 and events[0].kind == "message" and events[0].phone_number_id == "106540352242922"
    assert events[0].payload["contact"]["profile"]["name"] == "Sheena Nelson"
    inbound = cloudapi.read_inbound(events[0].payload["message"])
    assert (inbound.kind, inbound.body, inbound.reply_id) == (kind, body, reply)
    if kind in ("image", "document", "audio"):
        assert inbound.media["id"] and inbound.media["mime_type"] and inbound.media["sha256"]


def test_status_fixtures_and_keys():
    keys = [cloudapi.split_delivery(fixture(f"status_{s}.json"))[0].key for s in ("sent", "delivered", "read")]
    assert len(set(keys)) == 3 and all(k.startswith("status:wamid.") for k in keys)
    failed = cloudapi.split_delivery(fixture("status_failed.json"))[0]
    assert failed.payload["status"]["errors"][0]["code"] == cloudapi.ERR_REENGAGEMENT


def test_every_fixture_is_parsed():
    names = sorted(p.name for p in FIXTURES.glob("*.json"))
    assert len(names) >= 15
    for name in names:
        assert cloudapi.split_delivery(fixture(name)), name


def test_status_order_never_goes_back():
    assert cloudapi.status_advances("sent", "read")
    assert not cloudapi.status_advances("read", "delivered")
    assert not cloudapi.status_advances("read", "sent")
    assert cloudapi.status_advances("sent", "failed") and not cloudapi.status_advances("delivered", "failed")
    assert not cloudapi.status_advances("failed", "delivered")


def test_unknown_fields_and_other_changes_are_ignored_not_fatal():
    delivery = fixture("text.json")
    delivery["entry"][0]["changes"][0]["value"]["brand_new_field"] = {"x": [1, 2]}
    delivery["entry"][0]["changes"].append({"field": "account_update", "value": {"event": "X"}})
    delivery["entry"].append({"id": "1", "changes": "not a list"})
    assert len(cloudapi.split_delivery(delivery)) == 1
    with pytest.raises(cloudapi.DeliveryInvalid):
        cloudapi.split_delivery([1, 2])
    with pytest.raises(cloudapi.DeliveryInvalid):
        cloudapi.split_delivery({"object": "page", "entry": []})


def test_parse_error_never_raises():
    assert cloudapi.parse_error(500, "x").code == 0
    err = cloudapi.parse_error(400, {"error": {"code": 131047, "message": "Re-engagement message",
                                               "error_data": {"details": "24h"}}})
    assert err.code == 131047 and not err.transient and err.details == "24h"
    assert cloudapi.parse_error(429, {"error": {"code": 130429, "message": "Rate limit hit"}}).transient
