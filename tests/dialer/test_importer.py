"""Contact imports: formats, encodings, malformed rows, duplicates, do-not-call."""

from __future__ import annotations

import csv
import io

import pytest

from central.dialer import importer
from central.dialer.models import Contact, DoNotCall, ImportJob
from tests.dialer import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def camp(tenants):
    return factories.campaign(tenants["a"])


def run(camp, tmp_path, content: bytes | str, name="lista.csv", encoding="utf-8", **kw) -> ImportJob:
    path = tmp_path / name
    path.write_bytes(content.encode(encoding) if isinstance(content, str) else content)
    job = importer.new_job(camp.organization, kind="contacts", filename=name, stored_path=path, campaign=camp)
    return importer.import_contacts(job, **kw)


def contacts(camp) -> dict[str, Contact]:
    return {c.phone: c for c in Contact.objects.filter(campaign=camp)}


def test_semicolon_csv_with_header_mapping(camp, tmp_path):
    job = run(camp, tmp_path, (
        "Nome;Telefone;Celular 2;Cidade;Plano\n"
        "Maria Silva;(11) 98765-4321;(21) 99876-5432;São Paulo;Ouro\n"
        "João;011 3265-4321;;Campinas;Prata\n"
    ))
    assert job.status == "done", job.message
    assert (job.rows, job.imported, job.rejected) == (2, 2, 0)
    rows = contacts(camp)
    maria = rows["+5511987654321"]
    assert maria.name == "Maria Silva"
    assert maria.alt_phones == ["+5521998765432"]
    assert maria.custom_fields == {"Cidade": "São Paulo", "Plano": "Ouro"}
    assert maria.timezone == "America/Sao_Paulo"
    assert maria.status == "pending"
    assert maria.origin == "importação lista.csv"
    assert rows["+551132654321"].custom_fields == {"Cidade": "Campinas", "Plano": "Prata"}
    assert job.processed_bytes == job.total_bytes > 0


def test_comma_csv_english_headers_quoted_fields(camp, tmp_path):
    job = run(camp, tmp_path, 'name,phone,notes\n"Silva, Ana",+55 68 99999-1234,"linha 1\nlinha 2"\n')
    assert (job.imported, job.rejected) == (1, 0), job.errors
    ana = contacts(camp)["+5568999991234"]
    assert ana.name == "Silva, Ana"
    assert ana.timezone == "America/Rio_Branco"
    assert ana.custom_fields == {"notes": "linha 1\nlinha 2"}


def test_malformed_rows_are_reported_and_good_rows_kept(camp, tmp_path):
    job = run(camp, tmp_path, (
        "nome;telefone;cidade\n"          # 1
        "Ana;11987654321;SP\n"            # 2 ok
        "Sem telefone;;SP\n"              # 3 missing phone
        "\n"                              # 4 empty line: skipped, not an error
        "Letra;11 9876-ABCD;SP\n"         # 5 invalid phone
        "Demais;11987650000;SP;extra\n"   # 6 too many columns
        "Poucas;11987650001\n"            # 7 too few columns
        ";;\n"                            # 8 empty cells only: skipped
        "DDD ruim;(20) 98765-4321;RJ\n"   # 9 unknown DDD
        "Bia;21987654321;RJ\n"            # 10 ok
    ))
    assert job.status == "done"
    assert (job.rows, job.imported, job.rejected) == (7, 2, 5)
    assert set(contacts(camp)) == {"+5511987654321", "+5521987654321"}
    by_row = {e["row"]: e for e in job.errors}
    assert by_row[3] == {"row": 3, "column": "telefone", "reason": "telefone vazio"}
    assert by_row[5]["reason"] == "telefone contém letras ou símbolos"
    assert by_row[6]["reason"] == "linha com 4 colunas; o cabeçalho tem 3"
    assert by_row[7]["reason"] == "linha com 2 colunas; o cabeçalho tem 3"
    assert by_row[9]["reason"] == "DDD 20 não existe"
    assert 4 not in by_row and 8 not in by_row
    # Every error is also in the errors CSV next to the upload.
    with open(job.errors_path, encoding="utf-8-sig", newline="") as f:
        lines = list(csv.reader(f, delimiter=";"))
    assert lines[0] == ["linha", "coluna", "motivo", "conteudo"]
    assert [int(r[0]) for r in lines[1:]] == [3, 5, 6, 7, 9]
    assert "5 rejeitados" in job.message


def test_latin1_file(camp, tmp_path):
    job = run(camp, tmp_path, "Nome;Telefone;Observação\nJosé Conceição;11987654321;ação\n", encoding="cp1252")
    assert job.imported == 1, job.errors
    c = contacts(camp)["+5511987654321"]
    assert c.name == "José Conceição"
    assert c.custom_fields == {"Observação": "ação"}


def test_utf8_with_bom(camp, tmp_path):
    job = run(camp, tmp_path, "\ufeffTelefone;Nome\n11987654321;Ângela\n")
    assert job.imported == 1, job.message
    assert contacts(camp)["+5511987654321"].name == "Ângela"  # the BOM did not hide the header


def test_xlsx(camp, tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["Nome", "Celular", "Telefone 2", "Valor"])
    ws.append(["Carla", 11987654321, "(11) 3265-4321", 150.5])
    ws.append(["Sem número", None, None, 1])
    ws.append([None, None, None, None])
    ws.append(["Davi", "21 99876-5432", None, None])
    path = tmp_path / "lista.xlsx"
    wb.save(path)
    job = run(camp, tmp_path, path.read_bytes(), name="lista.xlsx")
    assert job.status == "done", job.message
    assert (job.rows, job.imported, job.rejected) == (3, 2, 1)
    carla = contacts(camp)["+5511987654321"]
    assert carla.alt_phones == ["+551132654321"]
    assert carla.custom_fields == {"Valor": "150.5"}
    assert job.errors == [{"row": 3, "column": "Celular", "reason": "telefone vazio"}]


def test_duplicates_merged_in_file_and_with_campaign(camp, tmp_path):
    existing = factories.contact(camp.organization, camp, phone="+5511987654321", name="Antigo",
                                 alt_phones=["+5511911112222"], custom_fields={"plano": "A", "vip": "sim"},
                                 attempts=2, last_result="busy")
    job = run(camp, tmp_path, (
        "nome;telefone;telefone2;plano\n"
        "Novo Nome;11987654321;11933334444;B\n"  # already in the campaign
        "Eva;21987654321;;X\n"
        "Eva;(21) 98765-4321;21 3333-4444;Y\n"  # same number again in the file
    ), batch_size=2)
    assert (job.rows, job.imported, job.merged, job.rejected) == (3, 1, 2, 0)
    rows = contacts(camp)
    assert len(rows) == 2
    existing.refresh_from_db()
    # The first name is kept and the other one reported (it silently replaced "Antigo").
    assert existing.name == "Antigo"
    assert {"row": 2, "column": "nome",
            "reason": "telefone já na campanha como “Antigo”: nome “Novo Nome” ignorado"} in job.errors
    assert existing.alt_phones == ["+5511911112222", "+5511933334444"]
    assert existing.custom_fields == {"plano": "B", "vip": "sim"}
    assert (existing.attempts, existing.last_result) == (2, "busy")  # history untouched
    eva = rows["+5521987654321"]
    assert eva.alt_phones == ["+552133334444"]
    assert eva.custom_fields == {"plano": "Y"}
    # Same name twice in the file (any case and spacing) is no conflict.
    assert [e for e in job.errors if "Eva" in e["reason"]] == []
    # Re-importing the same file creates nothing new.
    again = run(camp, tmp_path, "nome;telefone\nEva;21987654321\n", name="de-novo.csv")
    assert (again.imported, again.merged) == (0, 1)


def test_a_different_name_for_the_same_phone_keeps_the_first_and_says_so(camp, tmp_path):
    job = run(camp, tmp_path, "Nome;Telefone\nAna Souza;11987654321\nana  souza;11987654321\nBruno;11987654321\n")
    assert (job.imported, job.merged, job.rejected) == (1, 2, 0)  # a note, not a rejection
    assert contacts(camp)["+5511987654321"].name == "Ana Souza"  # was "Bruno" (the last row)
    assert job.errors == [{"row": 4, "column": "Nome", "reason": (
        "mesmo telefone da linha 2 com outro nome: mantido “Ana Souza”, ignorado “Bruno”")}]


def test_dnc_numbers_are_imported_as_dnc(camp, tmp_path):
    org = camp.organization
    DoNotCall.objects.create(organization=org, phone="+5511987654321")  # org-wide
    DoNotCall.objects.create(organization=org, campaign=camp, phone="+5511987650000")
    other = factories.campaign(org)
    DoNotCall.objects.create(organization=org, campaign=other, phone="+5511987651111")  # other campaign's list
    job = run(camp, tmp_path, "telefone\n11987654321\n11987650000\n11987651111\n")
    rows = contacts(camp)
    assert rows["+5511987654321"].status == "dnc"
    assert rows["+5511987650000"].status == "dnc"
    assert rows["+5511987651111"].status == "pending"
    assert job.dnc == 2 and "2 na lista de não ligar" in job.message


def test_other_tenant_dnc_does_not_apply(camp, tmp_path, tenants):
    DoNotCall.objects.create(organization=tenants["b"], phone="+5511987654321")
    run(camp, tmp_path, "telefone\n11987654321\n")
    assert contacts(camp)["+5511987654321"].status == "pending"


def test_no_phone_column_fails_with_reason(camp, tmp_path):
    job = run(camp, tmp_path, "nome;cidade\nAna;SP\n")
    assert job.status == "failed"
    assert "nenhuma coluna de telefone" in job.message
    assert not Contact.objects.exists()


def test_headerless_file_and_separate_ddd_column(camp, tmp_path):
    job = run(camp, tmp_path, "11987654321;Ana\n21987654321;Bia\n")
    assert job.imported == 2 and contacts(camp)["+5511987654321"].name == "Ana"
    job = run(camp, tmp_path, "nome;ddd;telefone\nCris;31;98765-4321\n", name="ddd.csv")
    assert job.imported == 1, job.errors
    assert "+5531987654321" in contacts(camp)


def test_legal_basis_column_and_default(camp, tmp_path):
    job = run(camp, tmp_path, "telefone;base_legal\n11987654321;consentimento\n11987654322;\n11987654323;talvez\n",
              legal_basis="contract")
    rows = contacts(camp)
    assert rows["+5511987654321"].legal_basis == "consent"
    assert rows["+5511987654322"].legal_basis == "contract"
    assert job.rejected == 1 and "base legal desconhecida" in job.errors[0]["reason"]


def test_unreadable_xlsx_fails_cleanly(camp, tmp_path):
    job = run(camp, tmp_path, b"PK\x03\x04 not really a zip", name="quebrado.xlsx")
    assert job.status == "failed" and "XLSX" in job.message


def test_progress_callback_sees_growing_counts(camp, tmp_path):
    body = io.StringIO()
    body.write("telefone\n")
    for i in range(25):
        body.write(f"119876{i:05d}\n")
    seen = []
    job = run(camp, tmp_path, body.getvalue(), batch_size=10,
              progress=lambda j: seen.append((j.rows, j.processed_bytes, j.status)))
    assert [r for r, _, _ in seen] == [10, 20, 25]
    assert 0 < seen[0][1] <= seen[-1][1] == job.total_bytes
    assert seen[-1][2] == "done" and seen[0][2] == "running"
    stored = ImportJob.objects.get(pk=job.pk)
    assert (stored.rows, stored.imported, stored.status) == (25, 25, "done")


def test_batches_larger_than_sqlite_parameter_limit(camp, tmp_path):
    """5,000-row batches look up existing and blocked numbers in chunks (SQLite: 999 parameters)."""
    from central.dialer.dnc import add_numbers

    phones = [f"+55119{61000000 + i}" for i in range(2500)]
    add_numbers(camp.organization, phones[::2])
    first = run(camp, tmp_path, "telefone\n" + "".join(f"{p[3:]}\n" for p in phones[:1200]), name="a.csv")
    assert (first.imported, first.dnc) == (1200, 600)
    job = run(camp, tmp_path, "telefone\n" + "".join(f"{p[3:]}\n" for p in phones), name="b.csv")
    assert (job.imported, job.merged, job.dnc) == (1300, 1200, 650)
    assert Contact.objects.filter(campaign=camp, status="dnc").count() == 1250


def test_dnc_file_of_thousands_of_numbers(camp, tmp_path):
    """A Não Me Perturbe-style list (55 + DDD + number, one per line, no header)."""
    from central.dialer.importer import import_dnc, new_job

    pending = factories.contact(camp.organization, camp, phone="+5511961001500")
    path = tmp_path / "nmp.txt"
    content = "".join(f"5511{961000000 + i}\n" for i in range(3000)) + "invalido\n"
    path.write_text(content)
    job = new_job(camp.organization, kind="dnc", filename="nmp.txt", stored_path=path)
    job = import_dnc(job, source_name="nao_me_perturbe")
    assert (job.status, job.rows, job.imported, job.rejected) == ("done", 3001, 3000, 1), job.message
    assert DoNotCall.objects.filter(organization=camp.organization, campaign=None).count() == 3000
    pending.refresh_from_db()
    assert pending.status == "dnc" and "1 contatos marcados" in job.message
    assert not path.exists()  # the upload is deleted once imported (CENTRAL_IMPORT_KEEP_UPLOADS)
    path.write_text(content)
    again = import_dnc(new_job(camp.organization, kind="dnc", filename="nmp.txt", stored_path=path))
    assert (again.imported, again.merged) == (0, 3000)
