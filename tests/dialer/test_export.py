"""Campaign results as CSV: one row per contact or per attempt, streamed."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from tests.dialer import factories

pytestmark = pytest.mark.django_db


def read_csv(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")  # Excel pt-BR opens it with accents intact
    return list(csv.reader(io.StringIO(text[1:]), delimiter=";"))


def test_export_contacts_and_attempts(tenants, api_as):
    org = tenants["a"]
    camp = factories.campaign(org, name="Black Friday")
    ana = factories.contact(org, camp, name="Ana Conceição", phone="+5511987654321", status="done", attempts=2,
                            last_result="answered", alt_phones=["+551132654321"], custom_fields={"plano": "ouro", "nome": "Aninha"},
                            last_attempt_at=datetime(2026, 11, 24, 13, 0, tzinfo=UTC))
    factories.contact(org, camp, name="Beto", phone="+5521987654321")
    factories.attempt(org, ana, result="busy", state="completed", uid="a-1",
                      created_at=datetime(2026, 11, 24, 12, 0, tzinfo=UTC))
    factories.attempt(org, ana, result="answered", state="completed", uid="a-2", agent="PJSIP/2001",
                      talk_seconds=93.4, created_at=datetime(2026, 11, 24, 13, 0, tzinfo=UTC))
    factories.contact(tenants["b"], name="Outro tenant")
    alice = api_as(tenants["alice"])

    r = alice.get(f"/api/v1/dialer/campaigns/{camp.pk}/export/")
    assert r.status_code == 200
    assert r["Content-Type"].startswith("text/csv")
    assert 'filename="Black_Friday-contatos-' in r["Content-Disposition"]
    rows = read_csv(r)
    assert rows[0][:7] == ["id", "nome", "telefone", "telefones_alternativos", "situacao", "tentativas",
                           "ultimo_resultado"]
    assert len(rows) == 3
    # phones start with "+": neutralised like any formula trigger (core.spreadsheet)
    # Values as the dashboard shows them (they were "done", "answered", "legitimate_interest").
    assert rows[1][1:8] == ["Ana Conceição", "'+5511987654321", "'+551132654321", "Concluído", "2", "Atendida",
                            "2026-11-24 10:00:00"]  # local time (São Paulo)
    assert rows[1][10] == "Legítimo interesse"
    # One column per custom field (it was one JSON blob); a key named like a standard column
    # gets a prefix; a contact without the field has an empty cell.
    assert rows[0][-2:] == ["campo_nome", "plano"]  # sorted by key
    assert rows[1][-2:] == ["Aninha", "ouro"]
    assert rows[2][1] == "Beto" and rows[2][-2:] == ["", ""]

    r = alice.get(f"/api/v1/dialer/campaigns/{camp.pk}/export/", {"contact_status": "pending"})
    assert [row[1] for row in read_csv(r)[1:]] == ["Beto"]

    r = alice.get(f"/api/v1/dialer/campaigns/{camp.pk}/export/", {"attempts": "1"})
    rows = read_csv(r)
    assert rows[0][:4] == ["contato_id", "nome", "telefone", "tentativa_id"]
    assert [(row[3], row[7], row[9], row[12]) for row in rows[1:]] == [
        ("a-1", "Ocupado", "", ""), ("a-2", "Atendida", "PJSIP/2001", "93")]
