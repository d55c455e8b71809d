"""The data side of the dialer's command line: import/export contacts, DNC lists, campaign
actions. Plain functions (Django already set up) that :mod:`central.dialer.commands_data`
wraps as typer commands; they print with ``typer.echo`` and raise ``typer.Exit`` on errors.

CLI actions are audited like dashboard ones, attributed to ``--user`` when given (a
username of the organization) and always tagged ``via="cli"`` with the OS user.
"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

import typer

__all__ = ["campaign_action", "campaign_list", "export_results", "import_contacts", "import_dnc"]


def _fail(message: str, code: int = 2):
    typer.secho(message, fg="red", err=True)
    raise typer.Exit(code)


def _campaign(campaign_id: int):
    from .models import Campaign

    campaign = Campaign.objects.select_related("organization").filter(pk=campaign_id).first()
    if campaign is None:
        _fail(f"campanha {campaign_id} não existe")
    return campaign


def _user(username: str | None):
    if not username:
        return None
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        _fail(f"usuário {username!r} não existe")
    return user


def _organization(org: str | None):
    from central.core.models import Organization

    qs = Organization.objects.filter(is_active=True)
    if org:
        found = qs.filter(pk=int(org)).first() if org.isdigit() else qs.filter(slug=org).first()
        if found is None:
            _fail(f"organização {org!r} não existe")
        return found
    if qs.count() == 1:
        return qs.first()
    _fail("informe --org (id ou slug): há mais de uma organização")


def _run_with_progress(job, runner, quiet: bool):
    """Run an import job in this process (its owner, see importworker.owned), with a rich
    progress bar over the file's bytes."""
    from .importworker import owned

    with owned(job.pk) as mine:
        if not mine:
            _fail(f"importação {job.pk} já está com outro processo")
        job.refresh_from_db()
        return _run_bar(job, runner, quiet)


def _run_bar(job, runner, quiet: bool):
    if quiet:
        return runner(job)
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(),
                  TextColumn("{task.fields[rows]:>10,} linhas"), TimeRemainingColumn(),
                  transient=False) as bar:
        task = bar.add_task(job.filename[:30], total=job.total_bytes or None, rows=0)

        def progress(j):
            bar.update(task, completed=j.processed_bytes, rows=j.rows)

        return runner(job, progress=progress)


def _report(job) -> None:
    color = "green" if job.status == "done" else "red"
    typer.secho(f"importação {job.pk}: {job.get_status_display()} — {job.message}", fg=color)
    for err in job.errors[:10]:
        typer.echo(f"  linha {err['row']}" + (f" ({err['column']})" if err["column"] else "") + f": {err['reason']}")
    if job.errors_path:
        typer.echo(f"  todos os erros: {job.errors_path}")
    if job.status != "done":
        raise typer.Exit(1)


def import_contacts(campaign_id: int, file: Path, *, legal_basis: str = "legitimate_interest", origin: str = "",
                    user: str | None = None, quiet: bool = False) -> None:
    from central.core import audit

    from . import importer
    from .models import Campaign, Contact, ImportJob

    if not file.is_file():
        _fail(f"arquivo não encontrado: {file}")
    if legal_basis not in Contact.LegalBasis.values:
        _fail(f"base legal desconhecida: {legal_basis} (use: {', '.join(Contact.LegalBasis.values)})")
    campaign = _campaign(campaign_id)
    if campaign.status == Campaign.Status.FINISHED:
        _fail("a campanha está encerrada")
    actor = _user(user)
    stored = importer.copy_into_imports(file)
    job = importer.new_job(campaign.organization, kind=ImportJob.Kind.CONTACTS, filename=file.name,
                           stored_path=stored, campaign=campaign, user=actor,
                           options={"legal_basis": legal_basis, "origin": origin})
    audit.record("dialer.import.contacts", actor=actor, organization=campaign.organization, target=job,
                 campaign=campaign.pk, filename=file.name, via="cli", os_user=getpass.getuser())
    job = _run_with_progress(job, lambda j, **kw: importer.import_contacts(
        j, legal_basis=legal_basis, origin=origin, **kw), quiet)
    _report(job)


def import_dnc(file: Path, *, campaign_id: int | None = None, source: str = "import", org: str | None = None,
               user: str | None = None, quiet: bool = False) -> None:
    from central.core import audit

    from . import importer
    from .models import DoNotCall, ImportJob

    if not file.is_file():
        _fail(f"arquivo não encontrado: {file}")
    if source not in DoNotCall.Source.values:
        _fail(f"origem desconhecida: {source} (use: {', '.join(DoNotCall.Source.values)})")
    campaign = _campaign(campaign_id) if campaign_id else None
    organization = campaign.organization if campaign else _organization(org)
    actor = _user(user)
    stored = importer.copy_into_imports(file)
    job = importer.new_job(organization, kind=ImportJob.Kind.DNC, filename=file.name, stored_path=stored,
                           campaign=campaign, user=actor, options={"source": source})
    audit.record("dialer.import.dnc", actor=actor, organization=organization, target=job, filename=file.name,
                 source=source, via="cli", os_user=getpass.getuser())
    job = _run_with_progress(job, lambda j, **kw: importer.import_dnc(j, source_name=source, **kw), quiet)
    _report(job)


def export_results(campaign_id: int, file: Path | None, *, per_attempt: bool = False) -> None:
    from central.core import audit

    from . import exporter

    campaign = _campaign(campaign_id)
    if per_attempt:
        lines = exporter.csv_lines(exporter.ATTEMPT_HEADER, exporter.attempt_rows(campaign), bom=file is not None)
    else:
        header, rows = exporter.contact_export(campaign)
        lines = exporter.csv_lines(header, rows, bom=file is not None)
    audit.record("dialer.export", organization=campaign.organization, target=campaign, per_attempt=per_attempt,
                 via="cli", os_user=getpass.getuser())
    if file is None:
        for line in lines:
            sys.stdout.write(line)
        return
    n = -1
    with open(file, "w", encoding="utf-8", newline="") as f:
        for n, line in enumerate(lines):  # noqa: B007 - n counts the lines written
            f.write(line)
    typer.secho(f"{max(n, 0)} linhas em {file}", fg="green", err=True)


def campaign_action(action: str, campaign_id: int, *, user: str | None = None) -> None:
    from . import services

    campaign = _campaign(campaign_id)
    fn = services.ACTIONS.get(action)
    if fn is None:
        _fail(f"ação desconhecida: {action} (use: {', '.join(services.ACTIONS)})")
    try:
        campaign = fn(campaign, actor=_user(user), via="cli", os_user=getpass.getuser())
    except services.CampaignActionError as exc:
        _fail(f"campanha {campaign_id}: {exc}", 1)
    typer.secho(f"campanha {campaign.pk} ({campaign.name}): {campaign.get_status_display()}", fg="green")


def campaign_list() -> None:
    from . import services
    from .models import Campaign

    for c in Campaign.objects.select_related("organization").order_by("organization_id", "id"):
        counts = services.counts_by_status(c)
        typer.echo(f"{c.pk:>5}  {c.organization.slug:<20} {c.status:<9} {c.name:<30} "
                   f"{sum(counts.values()):>9,} contatos  {counts['pending']:>9,} aguardando")
