"""``central import-legacy`` against a real MariaDB loaded with the legacy dialer's schema
and awkward data, and a real PostgreSQL with the AudioSocket server's ``extension_ia``."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from central.core.models import AuditLog
from central.dialer.models import Campaign, Contact
from central.legacy import commands
from central.legacy.runner import Options, run
from central.telephony.models import AsteriskServer, Extension
from central.voice.models import AIExtension

from . import legacy_db

pytestmark = pytest.mark.django_db(transaction=True)


def _load(url: str) -> None:
    legacy_db.insert(url, "discador_campanhas", legacy_db.CAMPAIGN_COLS, [
        (1, legacy_db.legacy_bytes("Cobrança março"), "active", 20, 2.5, 3.0, 90, dt.timedelta(hours=8),
         dt.timedelta(hours=18), dt.datetime(2024, 1, 2, 8), dt.datetime(2024, 2, 1, 8)),
        (2, "Renovação", "finished", 10, 1.2, 2.0, 60, None, None, None, None),
    ])
    t = dt.datetime(2024, 3, 1, 10, 0)
    legacy_db.insert(url, "discador_contatos", legacy_db.CONTACT_COLS, [
        (10, 1, legacy_db.legacy_bytes("João Gonçalves"), "(11) 9999-9999", "", 2, 5, t, t + dt.timedelta(hours=2),
         "pending", "busy", t, t),
        (11, 1, legacy_db.double_encoded("Conceição Araújo"), "011988887777", None, 0, 3, None, None, "pending",
         None, None, None),
        (12, 1, "José Simões", "(21) 3234-5678", "21 98888-7777", 1, 3, t, None, "completed", "answered", t, t),
        (13, 1, "Sem Telefone", "", None, 0, 3, None, None, "pending", None, None, None),
        (14, 1, "Número 0800", "0800 123 4567", None, 0, 3, None, None, "pending", None, None, None),
        (15, 1, "Repetido", "11999999999", None, 0, 3, None, None, "pending", None, None, None),
        (20, 2, "Ângela", "(31) 99876-5432", "abc", 3, 3, t, None, "failed", "no_answer", t, t),
    ])
    legacy_db.insert(url, "painel_ramais", legacy_db.EXT_COLS, [
        (1, "2001", legacy_db.legacy_bytes("Recepção"), "free", "free", t, 1),
        (2, "2002", "Vendas", "unregistered", "unregistered", None, 0),
    ])


@pytest.fixture
def org(tenants):
    return tenants["a"]


def _opts(org, url, **kw):
    return Options(organization=org, mariadb_url=url, **kw)


def _snapshot(org):
    return (list(Campaign.objects.filter(organization=org).order_by("legacy_id").values()),
            list(Contact.objects.filter(organization=org).order_by("legacy_id").values()),
            list(Extension.objects.filter(organization=org).order_by("legacy_id").values()))


def test_dry_run_writes_nothing_and_says_what_it_would_do(org, legacy_mariadb):
    _load(legacy_mariadb)
    AsteriskServer.objects.create(organization=org, name="principal", host="pbx.example.com", username="u",
                                  secret_env="CENTRAL_TENANT_SECRET_PBX")
    result = run(_opts(org, legacy_mariadb))
    assert not result.errors
    a = result.tally.actions
    assert a[("discador_campanhas", "created")] == 2
    assert a[("discador_contatos", "created")] == 4
    assert a[("discador_contatos", "rejected")] == 2
    assert a[("discador_contatos", "skipped")] == 1  # 15 repeats 10's number
    assert a[("painel_ramais", "created")] == 2
    assert Campaign.objects.count() == 0 and Contact.objects.count() == 0 and Extension.objects.count() == 0
    reasons = {line[4] for line in result.lines}
    assert "phone_number: telefone vazio" in reasons
    assert any("mesmo número do contato legado 10" in r for r in reasons)


def test_real_run_maps_everything_then_a_second_run_changes_nothing(org, legacy_mariadb, capsys, monkeypatch):
    _load(legacy_mariadb)
    AsteriskServer.objects.create(organization=org, name="principal", host="pbx.example.com", username="u",
                                  secret_env="CENTRAL_TENANT_SECRET_PBX")
    monkeypatch.setenv(commands.MARIADB_ENV, legacy_mariadb)
    commands.main(org=org.slug, dry_run=False, condominiums=[], queue="vendas", quiet=True)
    out = capsys.readouterr().out
    assert "discador_contatos: 7 linhas" in out and "criados: 4" in out

    c1 = Campaign.objects.get(organization=org, legacy_id=1)
    assert c1.name == "Cobrança março" and c1.status == "paused" and c1.queue == "vendas"
    assert c1.pacing_mode == "ratio" and c1.dial_ratio == 2.5 and c1.max_channels == 20
    assert c1.working_hours["mon"] == [["08:00", "18:00"]]
    c2 = Campaign.objects.get(organization=org, legacy_id=2)
    assert c2.status == "finished" and c2.working_hours["sun"] == []  # NULL times: defaults
    joao = Contact.objects.get(organization=org, legacy_id=10)
    assert joao.name == "João Gonçalves" and joao.phone == "+5511999999999" and joao.campaign == c1
    assert joao.attempts == 2 and joao.max_attempts == 5 and joao.last_result == "busy"
    assert joao.last_attempt_at == dt.datetime(2024, 3, 1, 13, 0, tzinfo=dt.UTC)
    assert joao.next_attempt_at == dt.datetime(2024, 3, 1, 15, 0, tzinfo=dt.UTC)
    assert Contact.objects.get(legacy_id=11).name == "Conceição Araújo"
    jose = Contact.objects.get(legacy_id=12)
    assert jose.status == "done" and jose.alt_phones == ["+5521988887777"] and jose.timezone == "America/Sao_Paulo"
    assert not Contact.objects.filter(legacy_id__in=[13, 14, 15]).exists()
    ext = Extension.objects.get(organization=org, legacy_id=1)
    assert ext.exten == "2001" and ext.label == "Recepção" and ext.state == "free" and ext.registered is True
    entry = AuditLog.objects.get(action="legacy.import", organization=org)
    assert entry.details["actions"]["discador_contatos"]["created"] == 4
    assert entry.details["notes"]["discador_contatos"]["repaired"] == {
        "name: UTF-8 gravado como latin1": 1, "name: UTF-8 gravado como latin1 (2 vezes)": 1}

    before = _snapshot(org)
    again = run(_opts(org, legacy_mariadb, dry_run=False))
    assert {a for (_t, a) in again.tally.actions} <= {"unchanged", "skipped", "rejected"}
    assert again.tally.actions[("discador_contatos", "unchanged")] == 4
    assert _snapshot(org) == before


def test_a_run_stopped_half_way_is_resumed_by_running_it_again(org, legacy_mariadb):
    legacy_db.insert(legacy_mariadb, "discador_campanhas", legacy_db.CAMPAIGN_COLS, [
        (1, "Grande", "paused", 10, 1.5, 3.0, 60, None, None, None, None)])
    rows = legacy_db.realistic_contacts(1200)
    legacy_db.insert(legacy_mariadb, "discador_contatos", legacy_db.CONTACT_COLS, rows)

    class Stop(Exception):
        pass

    def stop_after_two_pages(table, done, total):
        if table == "discador_contatos" and done >= 500:
            raise Stop

    with pytest.raises(Stop):
        run(_opts(org, legacy_mariadb, dry_run=False, batch=250, progress=stop_after_two_pages))
    half = Contact.objects.filter(organization=org).count()
    assert 0 < half < 1200
    resumed = run(_opts(org, legacy_mariadb, dry_run=False, batch=250))
    full = run(_opts(org, legacy_mariadb, dry_run=True))
    created = resumed.tally.actions[("discador_contatos", "created")]
    assert resumed.tally.actions[("discador_contatos", "unchanged")] == half
    assert Contact.objects.filter(organization=org).count() == half + created
    assert full.tally.actions[("discador_contatos", "unchanged")] == half + created
    assert full.tally.actions[("discador_contatos", "created")] == 0


def test_extensions_need_a_server_of_the_organization(org, legacy_mariadb, tenants):
    _load(legacy_mariadb)
    AsteriskServer.objects.create(organization=tenants["b"], name="principal", host="pbx.example.com",
                                  username="u", secret_env="CENTRAL_TENANT_SECRET_PBX")
    result = run(_opts(org, legacy_mariadb, dry_run=False, server="principal"))
    assert result.tally.actions[("painel_ramais", "skipped")] == 2
    assert not Extension.objects.exists()  # never onto another tenant's server


def _ia(url, rows):
    with psycopg.connect(url, autocommit=True) as conn:
        for row in rows:
            conn.execute("INSERT INTO extension_ia (extension_ia_id, extension_ia_number, extension_ia_return, "
                         "extension_ia_ip, extension_ia_number_port, condominium_id, extension_ia_return_port) "
                         "VALUES (%s, %s, %s, %s, %s, %s, %s)", row)


def test_ai_extensions_of_the_named_condominium_and_conflicts_per_row(org, tenants, legacy_pg):
    AIExtension.objects.create(organization=tenants["b"], number="1950", return_number="1951", port=9100,
                               return_port=9101)
    _ia(legacy_pg, [
        (1, "1901", "1902", "0.0.0.0", "8080", 7, "8081"),
        (2, "1950", "1960", "0.0.0.0", "8090", 7, "8091"),  # 1950 is tenant B's
        (3, "1970", "1971", "0.0.0.0", "9100", 7, "8093"),  # port 9100 is tenant B's
        (4, "1801", "1802", "0.0.0.0", "8180", 8, "8181"),  # another condominium
    ])
    from central.voice.loader import config_version

    version = config_version()
    result = run(Options(organization=org, pg_url=legacy_pg, condominiums=[7], dry_run=False))
    assert not result.errors
    assert config_version() > version  # the running voice process picks the new extension up
    a = result.tally.actions
    assert a[("extension_ia", "created")] == 1 and a[("extension_ia", "skipped")] == 2
    ext = AIExtension.objects.get(organization=org)
    assert (ext.number, ext.return_number, ext.port, ext.return_port, ext.legacy_id) == ("1901", "1902", 8080, 8081, 1)
    reasons = [line[4] for line in result.lines if line[3] == "reason"]
    assert reasons == ["conflito: number já em uso nesta instalação", "conflito: port já em uso nesta instalação"]
    assert "Empresa B" not in str(result.lines) and "empresa-b" not in str(result.lines)
    b_ext = AIExtension.objects.get(organization=tenants["b"])
    assert (b_ext.number, b_ext.port, b_ext.legacy_id) == ("1950", 9100, None)
    again = run(Options(organization=org, pg_url=legacy_pg, condominiums=[7], dry_run=False))
    assert again.tally.actions[("extension_ia", "unchanged")] == 1


def test_unreachable_legacy_database_is_an_error_without_the_password(org, mariadb_server_url):
    from urllib.parse import urlsplit

    p = urlsplit(mariadb_server_url)
    url = f"mysql://central:segredo-do-legado@{p.hostname}:{p.port}/nao_existe"
    result = run(_opts(org, url))
    assert result.errors and "segredo-do-legado" not in result.errors[0]


def test_changed_legacy_rows_are_updated_adopted_and_do_not_call_respected(org, legacy_mariadb):
    from central.dialer.models import DoNotCall

    _load(legacy_mariadb)
    run(_opts(org, legacy_mariadb, dry_run=False, campaigns=[1]))
    c1 = Campaign.objects.get(organization=org, legacy_id=1)
    # Typed in Central before the switch: same number as a legacy row not yet imported.
    typed = Contact.objects.create(organization=org, campaign=c1, phone="+5531998765432", name="Digitada")
    legacy_db.insert(legacy_mariadb, "discador_contatos", legacy_db.CONTACT_COLS, [
        (30, 1, "Ângela de novo", "(31) 99876-5432", None, 0, 3, None, None, "pending", None, None, None),
        (31, 1, "Bloqueado", "(41) 99123-4567", None, 0, 3, None, None, "pending", None, None, None),
    ])
    DoNotCall.objects.create(organization=org, phone="+5541991234567", source="opt_out")
    with legacy_db.connect(legacy_mariadb) as conn, conn.cursor() as cur:
        cur.execute("UPDATE discador_contatos SET attempts = 3, result = 'no_answer' WHERE id = 12")
    result = run(_opts(org, legacy_mariadb, dry_run=False, campaigns=[1]))
    reasons = {line[1]: line[4] for line in result.lines if line[3] == "reason"}
    assert reasons[12] == "campos: attempts, last_result"
    assert reasons[30] == "contato existente com o mesmo telefone vinculado"
    typed.refresh_from_db()
    assert typed.legacy_id == 30 and typed.name == "Ângela de novo"
    jose = Contact.objects.get(legacy_id=12)
    assert jose.attempts == 3 and jose.last_result == "no_answer"
    blocked = Contact.objects.get(legacy_id=31)
    assert blocked.status == "dnc" and blocked.next_attempt_at is None
    again = run(_opts(org, legacy_mariadb, dry_run=False, campaigns=[1]))
    assert again.tally.actions[("discador_contatos", "updated")] == 0
    assert again.tally.actions[("discador_contatos", "unchanged")] == 5  # 10, 11, 12, 30, 31


def test_cli_dry_run_prints_the_plan_and_the_report_lists_every_row(org, legacy_mariadb, tmp_path, capsys,
                                                                    monkeypatch):
    import csv

    _load(legacy_mariadb)
    monkeypatch.setenv(commands.MARIADB_ENV, legacy_mariadb)
    report = tmp_path / "relatorio.csv"
    commands.main(org=org.slug, dry_run=True, condominiums=[], report=report, quiet=True)
    out = capsys.readouterr().out
    assert out.startswith("SIMULAÇÃO")
    assert "discador_contatos: 7 linhas — criar: 4, rejeitar: 2, pular: 1" in out
    assert "phone_rejected: telefone vazio" in out
    assert "painel_ramais: 2 linhas — pular: 2" in out  # no Asterisk server in the organization
    assert "nenhum servidor Asterisk cadastrado" in out
    with open(report, encoding="utf-8-sig") as f:
        rows = list(csv.reader(f, delimiter=";"))
    assert rows[0] == ["tabela", "id_legado", "acao", "tipo", "detalhe"]
    assert ["discador_contatos", "14", "rejected", "phone_rejected",
            "phone_number: número não geográfico (0800/0300/4004...) não é discado"] in rows
    assert ["discador_contatos", "11", "created", "repaired", "name: UTF-8 gravado como latin1 (2 vezes)"] in rows
    assert not Campaign.objects.exists() and not AuditLog.objects.filter(action="legacy.import").exists()
