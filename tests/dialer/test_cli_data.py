"""CLI data commands: import-contacts (progress, errors), import-dnc, export-results, campaign actions."""

from __future__ import annotations

import csv
import io

import pytest
import typer
from typer.testing import CliRunner

from central.core.models import AuditLog
from central.dialer.models import Contact, DoNotCall
from tests.dialer import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def cli(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    from central.dialer.commands_data import register

    app = typer.Typer()

    @app.command("noop", hidden=True)
    def _noop():  # typer needs two commands to keep subcommand names
        pass

    register(app, lambda data_dir=None: None)  # Django is already set up by pytest-django
    runner = CliRunner()
    return lambda *args: runner.invoke(app, [str(a) for a in args])


def test_import_contacts_cli(cli, tenants, tmp_path):
    camp = factories.campaign(tenants["a"])
    f = tmp_path / "lista.csv"
    f.write_text("nome;telefone\nAna;11987654321\nRuim;abc\n", encoding="cp1252")
    r = cli("import-contacts", camp.pk, f, "--legal-basis", "consent", "--user", "alice")
    assert r.exit_code == 0, r.output
    assert "Concluída" in r.output and "1 novos" in r.output and "linha 3 (telefone)" in r.output
    assert "linhas" in r.output  # the progress bar's row counter
    c = Contact.objects.get(campaign=camp)
    assert (c.phone, c.legal_basis) == ("+5511987654321", "consent")
    log = AuditLog.objects.get(action="dialer.import.contacts")
    assert log.actor_name == "alice" and log.details["via"] == "cli"


def test_import_contacts_cli_errors(cli, tenants, tmp_path):
    assert cli("import-contacts", 999, tmp_path / "x.csv").exit_code == 2
    camp = factories.campaign(tenants["a"])
    assert cli("import-contacts", camp.pk, tmp_path / "missing.csv").exit_code == 2
    f = tmp_path / "sem-telefone.csv"
    f.write_text("nome;cidade\nAna;SP\n")
    r = cli("import-contacts", camp.pk, f, "-q")
    assert r.exit_code == 1 and "nenhuma coluna de telefone" in r.output


def test_import_dnc_cli(cli, tenants, tmp_path):
    contact = factories.contact(tenants["a"], phone="+5511987654321")
    f = tmp_path / "nmp.csv"
    f.write_text("TELEFONE;DATA_BLOQUEIO\n5511987654321;2025-01-02\n", encoding="utf-8")
    r = cli("import-dnc", f, "--source", "nao_me_perturbe", "--org", "empresa-a", "-q")
    assert r.exit_code == 0, r.output
    entry = DoNotCall.objects.get()
    assert (entry.organization, entry.source, entry.campaign) == (tenants["a"], "nao_me_perturbe", None)
    contact.refresh_from_db()
    assert contact.status == "dnc"
    assert cli("import-dnc", f).exit_code == 2  # two organizations: --org required


def test_campaign_actions_cli_are_audited(cli, tenants):
    camp = factories.campaign(tenants["a"])
    r = cli("campaign", "start", camp.pk, "--user", "alice")
    assert r.exit_code == 0, r.output
    assert "Ativa" in r.output
    r = cli("campaign", "start", camp.pk)
    assert r.exit_code == 1 and "Não é possível iniciar" in r.output
    assert cli("campaign", "finish", camp.pk).exit_code == 0
    logs = AuditLog.objects.filter(target_id=str(camp.pk), action__startswith="campaign.").order_by("id")
    assert [(x.action, x.actor_name, x.details["via"]) for x in logs] == [
        ("campaign.start", "alice", "cli"), ("campaign.finish", "", "cli")]
    r = cli("campaign", "list")
    assert camp.name in r.output and "finished" in r.output


def test_export_results_cli(cli, tenants, tmp_path):
    camp = factories.campaign(tenants["a"])
    factories.contact(tenants["a"], camp, name="Ana", phone="+5511987654321")
    r = cli("export-results", camp.pk)
    assert r.exit_code == 0
    rows = list(csv.reader(io.StringIO(r.stdout), delimiter=";"))
    assert rows[0][0] == "id" and rows[1][1:3] == ["Ana", "'+5511987654321"]  # formula-safe
    out = tmp_path / "res.csv"
    assert cli("export-results", camp.pk, out, "--attempts").exit_code == 0
    assert out.read_text(encoding="utf-8-sig").startswith("contato_id;")
