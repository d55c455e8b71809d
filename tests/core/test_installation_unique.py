"""Walker over every installation-unique field (central.core.unique.REGISTRY).

For every declared field: tenant A holds a value; tenant B, trying it in any field of the
same namespace (create or update), gets a clear 400 under that field that does not name A,
and A's row is untouched; the database refuses the duplicate even without the API.  Then
the voice process's management actions (status, refresh, restart) act per tenant, and a
config that names one extension number twice never hands A's listener to B.
"""

from __future__ import annotations

import itertools

import pytest
from django.db import IntegrityError, transaction

from central.core import unique
from central.voice.models import AIExtension

#: Every model with declared fields: its API collection and a valid create body.  A model
#: registered in central.core.unique without an entry here fails
#: test_every_registered_model_is_walked.
_seq = itertools.count(100)


def _extension_body() -> dict:
    n = next(_seq)
    return {"number": f"7{n}", "return_number": f"8{n}", "port": 20000 + 2 * n, "return_port": 20001 + 2 * n,
            "bind_ip": "127.0.0.1"}


ENDPOINTS = {"voice.aiextension": ("/api/v1/voice/extensions/", _extension_body)}


def _value(model_label: str, field: str) -> object:
    from django.apps import apps

    f = apps.get_model(model_label)._meta.get_field(field)
    return 30999 if f.get_internal_type().endswith("IntegerField") else "1901"


CASES = [
    (ns.name, held, tried)
    for ns in unique.REGISTRY.values()
    for held in ns.fields
    for tried in ns.fields
]


def test_every_registered_model_is_walked():
    labels = {label for ns in unique.REGISTRY.values() for label, _f in ns.fields}
    assert labels and labels <= set(ENDPOINTS)


@pytest.mark.parametrize(("namespace", "held", "tried"), CASES, ids=lambda v: v if isinstance(v, str) else ".".join(v))
def test_a_second_tenant_gets_a_clear_400_and_cannot_take_the_value(tenants, api_as, namespace, held, tried):
    (label, held_field), (tried_label, tried_field) = held, tried
    url, body = ENDPOINTS[label]
    value = _value(label, held_field)
    alice, bob = api_as(tenants["alice"]), api_as(tenants["bob"])
    mine = alice.post(url, {**body(), held_field: value}, format="json")
    assert mine.status_code == 201, mine.content
    before = alice.get(f"{url}{mine.json()['id']}/").json()

    other_url, other_body = ENDPOINTS[tried_label]
    r = bob.post(other_url, {**other_body(), tried_field: value}, format="json")
    assert r.status_code == 400, r.content
    errors = r.json()["error"]["fields"] if "error" in r.json() else r.json()
    assert tried_field in errors and unique.message() in str(errors[tried_field])
    assert "Empresa A" not in r.content.decode() and "empresa-a" not in r.content.decode()

    own = bob.post(other_url, other_body(), format="json")
    assert own.status_code == 201, own.content
    r = bob.patch(f"{other_url}{own.json()['id']}/", {tried_field: value}, format="json")
    assert r.status_code == 400 and unique.message() in r.content.decode()

    assert alice.get(f"{url}{mine.json()['id']}/").json() == before


@pytest.mark.parametrize(("label", "field"), [f for ns in unique.REGISTRY.values() for f in ns.fields])
def test_the_database_refuses_a_duplicate_without_the_api(tenants, label, field):
    from tests.factories import ROW_FACTORIES

    value = _value(label, field)
    ROW_FACTORIES[label](tenants["a"], **{field: value})
    with pytest.raises(IntegrityError), transaction.atomic():
        ROW_FACTORIES[label](tenants["b"], **{field: value})


def test_ports_left_out_are_picked_by_the_platform(tenants, api_as):
    alice, bob = api_as(tenants["alice"]), api_as(tenants["bob"])
    a = alice.post("/api/v1/voice/extensions/", {"number": "1903"}, format="json").json()
    b = bob.post("/api/v1/voice/extensions/", {"number": "2903"}, format="json").json()
    ports = [a["port"], a["return_port"], b["port"], b["return_port"]]
    assert len(set(ports)) == 4 and min(ports) >= 8080


def test_the_admin_form_checks_the_rule_too(tenants):
    from django.core.exceptions import ValidationError

    AIExtension.objects.create(organization=tenants["a"], number="1901", return_number="1902", port=9101,
                               return_port=9102)
    theirs = AIExtension(organization=tenants["b"], number="2901", return_number="1901", port=9103,
                         return_port=9101)
    with pytest.raises(ValidationError) as exc:
        theirs.full_clean()
    assert set(exc.value.message_dict) >= {"return_number", "return_port"}


# -- the voice process: management actions per tenant, no takeover -------------------------

def _ext(number, org, port=0):
    from tests.voice.helpers import extension

    return extension(number=number, return_number=f"{number}r", organization_id=org.pk,
                     organization=org.name, port=port, return_port=0)


async def test_voice_process_actions_are_per_tenant_and_a_duplicate_never_takes_over(tenants):
    from central.voice.calls import VoiceRuntime
    from central.voice.config import VoiceConfig
    from central.voice.service import VoiceService
    from tests.voice.helpers import SHARED_CACHES

    a, b = tenants["a"], tenants["b"]
    state = {"cfg": VoiceConfig((_ext("1901", a), _ext("2901", b)), source="database")}
    svc = VoiceService(loader=lambda: state["cfg"], runtime=VoiceRuntime(), caches=SHARED_CACHES)
    await svc.start()
    try:
        a_rt = svc.extensions["1901"]
        # B restarting A's number: "not running" for B; A's listeners untouched.
        with pytest.raises(KeyError):
            await svc.restart("1901", organization_id=b.pk)
        assert svc.extensions["1901"] is a_rt
        # A config with 1901 twice (an old snapshot): A keeps its listener.
        state["cfg"] = VoiceConfig((_ext("1901", b), _ext("1901", a), _ext("2901", b)), source="snapshot")
        report_b = await svc.refresh(organization_id=b.pk)
        assert svc.extensions["1901"] is a_rt and a_rt.ai.server is not None
        assert svc.extensions["1901"].config.organization_id == a.pk
        assert "1901" not in sum(report_b.values(), [])
        assert report_b["unchanged"] == ["2901"]
        report_a = await svc.refresh(organization_id=a.pk)
        assert sum(report_a.values(), []) == ["1901"]
        status = {e["ramal"]: e["organization_id"] for e in svc.status()["extensions"]}
        assert status == {"1901": a.pk, "2901": b.pk}
    finally:
        await svc.stop()
