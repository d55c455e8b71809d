"""The calls page: filters, keyset pages, the call detail, streamed CSV/XLSX exports, and
another tenant's calls never showing through any of them."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.http import StreamingHttpResponse

from central.telephony.calls import CallFilters, Cursor, filtered, page
from central.telephony.models import CallRecord
from tests.dialer import factories as dialer_factories
from tests.telephony.factories import make_call_record, server_for

pytestmark = pytest.mark.django_db

#: 2026-03-10 12:00 UTC = 09:00 in São Paulo (UTC-3, no DST since 2019).
NOON = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def _rows_on_page(html: str) -> list[str]:
    return re.findall(r'<tr data-linkedid="([^"]+)"', html)


def _bulk(org, n: int, *, same_time_every: int = 1, start: datetime = NOON, **fields) -> list[CallRecord]:
    """n records going back in time; ``same_time_every`` consecutive ones share a timestamp."""
    server = server_for(org)
    rows = [CallRecord(organization=org, server=server, linkedid=f"{fields.get('direction', 'x')}-{start:%H%M}-{i}",
                       started_at=start - timedelta(seconds=i // same_time_every),
                       ended_at=start, disposition="answered", direction="outbound", **fields)
            for i in range(n)]
    return CallRecord.objects.bulk_create(rows)


# --- keyset paging ---------------------------------------------------------------------------


def test_keyset_pages_neither_repeat_nor_skip_rows_with_equal_times(tenants):
    """130 calls, seven to a timestamp: walking the "older" links visits each exactly once
    in (time, id) descending order, and walking back with "newer" links returns the same pages."""
    org = tenants["a"]
    _bulk(org, 130, same_time_every=7)
    make_call_record(tenants["b"], started_at=NOON)  # another tenant's call never appears
    expected = list(CallRecord.objects.filter(organization=org).order_by("-started_at", "-id")
                    .values_list("id", flat=True))
    qs = filtered(org.pk, CallFilters(), None)
    pages, cursor = [], None
    while True:
        p = page(qs, before=cursor, size=20)
        pages.append(p)
        if not p.older:
            break
        cursor = Cursor.decode(p.older)
    seen = [r.pk for p in pages for r in p.rows]
    assert seen == expected and len(pages) == 7
    assert pages[0].newer is None and all(p.newer for p in pages[1:])
    # back from the last page: each "newer" page is the page before it
    back = page(qs, after=Cursor.decode(pages[-1].newer), size=20)
    assert [r.pk for r in back.rows] == [r.pk for r in pages[-2].rows]
    top = page(qs, after=Cursor.decode(pages[1].newer), size=20)
    assert [r.pk for r in top.rows] == [r.pk for r in pages[0].rows] and top.newer is None


def test_a_page_link_keeps_its_place_while_new_calls_arrive(client, tenants):
    org = tenants["a"]
    _bulk(org, 60)
    client.force_login(tenants["alice"])
    first = client.get("/telephony/calls/").content.decode()
    older = re.search(r'href="(\?before=[^"#]+)#history" rel="next"', first).group(1)
    _bulk(org, 5, start=NOON + timedelta(minutes=5))  # five newer calls land meanwhile
    second = _rows_on_page(client.get("/telephony/calls/" + older.replace("&amp;", "&")).content.decode())
    assert len(second) == 10 and not set(second) & set(_rows_on_page(first))
    assert len(_rows_on_page(first)) == 50


def test_a_forged_cursor_is_the_first_page():
    assert Cursor.decode("abc") is None and Cursor.decode("1_2_3") is None and Cursor.decode("") is None
    assert Cursor.decode(f"{10**19}_1") is None  # beyond any datetime
    c = Cursor(datetime(2026, 3, 10, 12, 0, 0, 123456, tzinfo=UTC), 42)
    assert Cursor.decode(c.encode()) == c


# --- filters ---------------------------------------------------------------------------------


def _page_for(client, **params) -> list[str]:
    response = client.get("/telephony/calls/", params)
    assert response.status_code == 200
    return _rows_on_page(response.content.decode())


def test_each_filter_narrows_to_its_calls(client, tenants):
    org = tenants["a"]
    camp = dialer_factories.campaign(org, name="Cobrança março")
    make_call_record(org, linkedid="in-1", direction="inbound", from_number="5511987654321", to_number="1001",
                     started_at=NOON)
    make_call_record(org, linkedid="busy-1", disposition="busy", started_at=NOON - timedelta(minutes=1),
                     campaign_id=str(camp.pk), to_number="+5521998765432")
    make_call_record(org, linkedid="agent-1", agent="Ana", agent_interface="PJSIP/2001",
                     started_at=NOON - timedelta(minutes=2))
    make_call_record(org, linkedid="old-1", started_at=NOON - timedelta(days=3))
    make_call_record(tenants["b"], linkedid="b-1", direction="inbound", started_at=NOON)
    client.force_login(tenants["alice"])
    assert _page_for(client) == ["in-1", "busy-1", "agent-1", "old-1"]
    assert _page_for(client, direction="inbound") == ["in-1"]
    assert _page_for(client, result="busy") == ["busy-1"]
    assert _page_for(client, campaign=str(camp.pk)) == ["busy-1"]
    assert _page_for(client, agent="PJSIP/2001") == ["agent-1"]
    assert _page_for(client, extension="2001") == ["agent-1"]  # the ramal's device answered it
    assert _page_for(client, extension="1001") == ["in-1"]  # dialled to the ramal
    # a number as people type it matches the spelling the PBX wrote
    assert _page_for(client, number="(11) 98765-4321") == ["in-1"]
    assert _page_for(client, number="21 99876-5432") == ["busy-1"]
    assert _page_for(client, direction="inbound", result="busy") == []
    html = client.get("/telephony/calls/", {"campaign": str(camp.pk)}).content.decode()
    assert "Cobrança março" in html  # the campaign by name, in the table and the menu


def test_dates_are_days_in_the_tenant_zone(client, tenants):
    """23:30 in São Paulo on March 9 is 02:30 UTC on March 10: it belongs to March 9."""
    org = tenants["a"]
    late = datetime(2026, 3, 10, 2, 30, tzinfo=UTC)
    make_call_record(org, linkedid="late", started_at=late)
    make_call_record(org, linkedid="morning", started_at=NOON)
    client.force_login(tenants["alice"])
    assert _page_for(client, since="2026-03-09", until="2026-03-09") == ["late"]
    assert _page_for(client, since="2026-03-10") == ["morning"]
    assert _page_for(client, until="2026-03-10", since="2026-03-09") == ["morning", "late"]
    html = client.get("/telephony/calls/", {"since": "2026-03-09"}).content.decode()
    assert "09/03/2026 23:30" in html and "Horários em America/Sao_Paulo (UTC-03:00)" in html
    bad = client.get("/telephony/calls/", {"since": "ontem", "result": "bogus"}).content.decode()
    assert "Data inválida" in bad and "Resultado desconhecido" in bad


def test_foreign_organization_and_login(client, tenants):
    assert client.get("/telephony/calls/export.csv").status_code == 302
    client.force_login(tenants["alice"])
    assert client.get("/telephony/calls/", HTTP_X_ORGANIZATION=str(tenants["b"].pk)).status_code == 404
    assert client.get("/telephony/calls/export.pdf").status_code == 404


# --- call detail -----------------------------------------------------------------------------


def test_call_detail_shows_the_call_its_attempt_and_campaign(client, tenants):
    org = tenants["a"]
    camp = dialer_factories.campaign(org, name="Renegociação")
    contact = dialer_factories.contact(org, camp, name="Maria Souza")
    dialer_factories.attempt(org, contact, uid="att-first", created_at=NOON - timedelta(days=1), result="busy")
    dialer_factories.attempt(org, contact, uid="att-2", created_at=NOON, result="answered", state="completed")
    record = make_call_record(
        org, linkedid="det-1", campaign_id=str(camp.pk), attempt_id="att-2", queue="vendas",
        agent="Agent Two", agent_interface="Local/agent2@agent-phones", queue_wait=14, hangup_by="customer",
        started_at=NOON, answered_at=NOON + timedelta(seconds=5), ended_at=NOON + timedelta(seconds=75),
        billsec=70, duration=75, hangup_cause=17, hangup_cause_text="User busy",
        legs=[{"channel": "PJSIP/operadora-0001", "cause": 16, "cause_text": "Normal Clearing"},
              {"channel": "Local/agent2@agent-phones-0002;1", "cause": 0, "cause_text": "Unknown"}])
    client.force_login(tenants["vera"])  # a viewer may read calls
    html = client.get(f"/telephony/calls/{record.pk}/").content.decode()
    assert "Usuário ocupado" in html and "(Q.850 17)" in html  # cause in Portuguese
    assert "o cliente" in html  # who hung up
    assert re.search(r'data-testid="queue-wait">0:14<', html)
    assert re.search(r'data-testid="agent">Agent Two<', html)
    assert f'href="/dialer/campaigns/{camp.pk}/" data-testid="campaign-link">Renegociação<' in html
    assert "Maria Souza" in html and re.search(r'data-testid="attempt-number">2ª ao contato', html)
    assert "PJSIP/operadora-0001" in html and "Desligamento normal" in html and "Desconhecida" in html
    assert "Chamada 10/03/2026 09:00<" in html and "09:00:05" in html and "09:01:15" in html  # tenant zone
    assert "America/Sao_Paulo" in html


def test_call_detail_marks_a_call_adopted_after_a_pbx_link_reconnect(client, tenants):
    plain = make_call_record(tenants["a"], linkedid="plain-1")
    adopted = make_call_record(tenants["a"], linkedid="adopted-1", adopted=True)
    client.force_login(tenants["alice"])
    assert 'data-testid="adopted"' not in client.get(f"/telephony/calls/{plain.pk}/").content.decode()
    html = client.get(f"/telephony/calls/{adopted.pk}/").content.decode()
    assert re.search(r'data-testid="adopted"><strong>Registro iniciado após reconexão do PBX link\.', html)


def test_another_tenants_call_is_a_404(client, tenants):
    theirs = make_call_record(tenants["b"], linkedid="b-secret")
    client.force_login(tenants["alice"])
    assert client.get(f"/telephony/calls/{theirs.pk}/").status_code == 404
    assert client.get("/telephony/calls/999999999/").status_code == 404
    client.force_login(tenants["bob"])
    assert client.get(f"/telephony/calls/{theirs.pk}/").status_code == 200


def test_attempt_of_another_tenant_is_not_linked(client, tenants):
    """A call record naming an attempt id that exists only in another organization."""
    other = dialer_factories.attempt(tenants["b"], uid="att-of-b")
    record = make_call_record(tenants["a"], attempt_id="att-of-b", campaign_id=str(other.campaign_id))
    client.force_login(tenants["alice"])
    html = client.get(f"/telephony/calls/{record.pk}/").content.decode()
    assert other.campaign.name not in html and "campaign-link" not in html
    assert "não encontrada" in html


# --- exports ---------------------------------------------------------------------------------


def _export_records(tenants):
    org = tenants["a"]
    camp = dialer_factories.campaign(org, name="Cobrança")
    make_call_record(org, linkedid="e-1", disposition="busy", hangup_cause=17, hangup_cause_text="User busy",
                     started_at=NOON, answered_at=None, billsec=0, duration=12, campaign_id=str(camp.pk),
                     to_number="+5511987654321")
    make_call_record(org, linkedid="e-2", direction="inbound", disposition="answered", started_at=NOON - timedelta(hours=1),
                     answered_at=NOON - timedelta(minutes=59), billsec=95, duration=100, queue_wait=7,
                     hangup_by="agent", agent="Agent One", agent_interface="Local/agent1@agent-phones")
    make_call_record(tenants["b"], linkedid="e-b", started_at=NOON)


def test_csv_export_is_streamed_in_portuguese(client, tenants):
    _export_records(tenants)
    client.force_login(tenants["alice"])
    response = client.get("/telephony/calls/export.csv")
    assert isinstance(response, StreamingHttpResponse) and response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(r'attachment; filename="chamadas-\d{8}-\d{4}\.csv"', response["Content-Disposition"])
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:]), delimiter=";"))
    assert rows[0] == ["Início (America/Sao_Paulo)", "Direção", "Origem", "Destino", "Resultado", "Campanha",
                       "Agente", "Fila", "Espera na fila (s)", "Duração (s)", "Falado (s)", "Causa",
                       "Desligada por", "Tentativa", "ID da chamada"]
    assert len(rows) == 3  # tenant B's call is not there
    busy, answered = rows[1], rows[2]
    assert busy[:7] == ["10/03/2026 09:00:00", "Saída", "1100", "'+5511987654321", "Ocupado", "Cobrança", ""]
    assert busy[9:12] == ["12", "0", "Usuário ocupado"] and busy[14] == "e-1"
    assert answered[1] == "Entrante" and answered[4] == "Atendida" and answered[6] == "Agent One"
    assert answered[8:13] == ["7", "100", "95", "Desligamento normal", "agente"]
    only_busy = b"".join(client.get("/telephony/calls/export.csv", {"result": "busy"}).streaming_content)
    assert only_busy.decode().count("\n") == 2


def test_xlsx_export_opens_with_the_same_values(client, tenants):
    from openpyxl import load_workbook

    _export_records(tenants)
    client.force_login(tenants["alice"])
    response = client.get("/telephony/calls/export.xlsx", {"direction": "inbound"})
    assert response.streaming and response["Content-Type"].endswith("spreadsheetml.sheet")
    chunks = list(response.streaming_content)
    assert len(chunks) >= 2  # the static parts leave before the sheet is read
    wb = load_workbook(io.BytesIO(b"".join(chunks)), read_only=True)
    sheet = wb.active
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert sheet.title == "Chamadas" and values[0][0] == "Início (America/Sao_Paulo)"
    assert len(values) == 2
    row = values[1]
    assert row[:2] == ["10/03/2026 08:00:00", "Entrante"] and row[4] == "Atendida"
    assert row[8:11] == [7, 100, 95]  # numbers stay numbers
    assert row[11] == "Desligamento normal"


# --- people instead of interfaces -----------------------------------------------------------


def test_agents_are_shown_by_name_and_found_by_their_extension(client, tenants):
    from tests.agents.factories import agent_for, make_interface

    org = tenants["a"]
    ana = agent_for(org, name="Ana Paula", extension="3005")
    make_interface(org, agent=ana, interface="Local/agent2@agent-phones")
    # tenant B names the same interface after someone else: never shown to A
    make_interface(tenants["b"], agent=agent_for(tenants["b"], name="Pessoa de B"),
                   interface="Local/agent2@agent-phones")
    record = make_call_record(org, linkedid="ana-1", agent="Local/agent2@agent-phones",
                              agent_interface="Local/agent2@agent-phones", started_at=NOON)
    make_call_record(org, linkedid="other-1", started_at=NOON - timedelta(minutes=1))
    client.force_login(tenants["alice"])
    html = client.get("/telephony/calls/").content.decode()
    assert "Ana Paula" in html and "Pessoa de B" not in html
    assert '<option value="Local/agent2@agent-phones" >Ana Paula (Local/agent2@agent-phones)</option>' in html
    assert _page_for(client, extension="3005") == ["ana-1"]  # the person's extension finds their calls
    assert _page_for(client, agent="Local/agent2@agent-phones") == ["ana-1"]
    detail = client.get(f"/telephony/calls/{record.pk}/").content.decode()
    assert re.search(r'data-testid="agent">Ana Paula<', detail)
    text = b"".join(client.get("/telephony/calls/export.csv").streaming_content).decode("utf-8-sig")
    assert ";Ana Paula;" in text and "Pessoa de B" not in text
