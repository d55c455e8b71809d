"""Issue 12's language findings: third-party pt-BR strings (DRF's throttle typo, simplejwt's
English errors, the admin's "O campanha ... foi alterado"), "Sainte", and the activity feed
in sentences instead of codes."""

from __future__ import annotations

import asyncio

import pytest
from channels.layers import get_channel_layer
from django.test import Client
from django.utils import translation

from central.core import audit
from central.core.live import org_group

pytestmark = pytest.mark.django_db


def test_drf_throttle_message_without_the_typo():
    with translation.override("pt-br"):
        # DRF's own pt_BR catalog says "Espera-se que esteja diponível em {wait} segundos."
        assert translation.gettext("Expected available in {wait} seconds.") == "Tente de novo em {wait} segundos."
        assert translation.gettext("Request was throttled.") == "Muitas requisições em pouco tempo."
    with translation.override("en"):
        assert translation.gettext("Expected available in {wait} seconds.") == "Expected available in {wait} seconds."


def test_simplejwt_errors_in_portuguese(tenants, client):
    bad = client.post("/api/v1/auth/token/", {"username": "alice", "password": "errada"},
                      content_type="application/json")
    assert bad.json()["error"]["message"] == "Usuário e/ou senha incorreto(s)"  # was the English default
    token = client.get("/api/v1/dialer/campaigns/", HTTP_AUTHORIZATION="Bearer abc")
    assert token.json()["error"]["message"] == "O token informado não é válido para qualquer tipo de token"
    en = client.post("/api/v1/auth/token/", {"username": "alice", "password": "errada"},
                     content_type="application/json", HTTP_ACCEPT_LANGUAGE="en")
    assert en.json()["error"]["message"] == "No active account found with the given credentials"


def test_admin_change_message_agrees_with_feminine_models(tenants):
    from central.dialer.models import Campaign

    camp = Campaign.objects.create(organization=tenants["a"], name="Vendas", queue="vendas")
    admin = Client()
    from django.contrib.auth import get_user_model

    root = get_user_model().objects.create_superuser("root", "root@example.com", "x")
    admin.force_login(root)
    page = admin.get(f"/admin/dialer/campaign/{camp.pk}/change/")
    assert page.status_code == 200
    with translation.override("pt-br"):
        msg = translation.gettext("The {name} “{obj}” was changed successfully.").format(name="campanha", obj="Vendas")
    assert msg == "Registro de campanha “Vendas” alterado com sucesso."  # was "O campanha “Vendas” foi alterado"


def test_outbound_is_saida():
    from central.telephony.models import Direction

    with translation.override("pt-br"):
        assert str(Direction.OUTBOUND.label) == "Saída"  # was "Sainte"
    with translation.override("en"):
        assert str(Direction.OUTBOUND.label) == "Outbound"


def test_activity_feed_in_sentences(tenants):
    from central.dialer.models import Campaign

    alice = tenants["alice"]
    audit.record("auth.login", actor=alice, organization=tenants["a"])
    camp = Campaign.objects.create(organization=tenants["a"], name="Black Friday", queue="vendas")
    audit.record("campaign.create", actor=alice, organization=tenants["a"], target=camp)
    c = Client()
    c.force_login(alice)
    html = c.get("/").content.decode()
    assert "entrou no Central" in html and "criou a campanha “Black Friday”" in html
    assert ">auth.login<" not in html and ">campaign.create<" not in html  # codes only in title=
    en = c.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "signed in to Central" in en and "created the campaign “Black Friday”" in en


def test_live_activity_push_carries_the_sentence_per_language(tenants):
    from central.dialer.models import Campaign

    camp = Campaign.objects.create(organization=tenants["a"], name="Natal", queue="vendas")
    layer = get_channel_layer()

    async def listen():
        await layer.group_add(org_group(tenants["a"].pk), "feed")

    async def receive():
        return await asyncio.wait_for(layer.receive("feed"), 5)

    asyncio.run(listen())
    audit.record("campaign.start", actor=tenants["alice"], organization=tenants["a"], target=camp)
    msg = asyncio.run(receive())["payload"]
    assert msg["action"] == "campaign.start"
    assert msg["texts"] == {"pt-br": "iniciou a campanha “Natal”", "en": "started the campaign “Natal”"}


def test_drf_validation_and_parse_errors_in_good_portuguese(tenants, api_as):
    api = api_as(tenants["alice"])
    blank = api.post("/api/v1/dialer/campaigns/", {"name": "", "queue": "vendas"}, format="json").json()
    # DRF's own pt_BR says "Este campo pode não estar em branco." ("might not be blank")
    assert blank["error"]["fields"]["name"] == ["Este campo não pode ficar em branco."]
    bad = api.post("/api/v1/dialer/campaigns/", "{nope", content_type="application/json").json()
    assert bad["error"]["message"].startswith("JSON inválido")  # was "JSON parse error - ..."
    with translation.override("pt-br"):
        assert translation.gettext("Ensure this value is greater than or equal to {min_value}.").startswith("Certifique-se")


def test_every_audited_action_reads_as_a_sentence():
    """Walks the source for ``audit.record("<code>", ...)``: each code has a sentence in the
    activity feed (core/audit.py ACTION_TEXT; ``<thing>.create/update/delete`` with a
    target are worded by VERBS). A new code without one showed raw (``agents.pause``)."""
    import re
    from pathlib import Path

    import central
    from central.core.audit import ACTION_TEXT, VERBS

    pattern = re.compile(r'audit\.record\(\s*"([a-z_.]+)"')
    codes = {m for path in Path(central.__file__).parent.rglob("*.py") for m in pattern.findall(path.read_text())}
    assert len(codes) > 20
    raw = sorted(c for c in codes if c not in ACTION_TEXT and c.rpartition(".")[2] not in VERBS)
    assert raw == [], f"add a sentence to central.core.audit.ACTION_TEXT for {raw}"
