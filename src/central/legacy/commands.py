"""``central import-legacy``: the operator's command that moves one tenant off the legacy
systems (docs/legacy-import.md).

    central import-legacy --org SLUG [--run] [--condominium 7] [--server principal]
                          [--queue vendas] [--campaign 3] [--report relatorio.csv]

The legacy databases come from the environment (``CENTRAL_LEGACY_MARIADB_URL``,
``CENTRAL_LEGACY_PG_URL``), never from the command line, so their passwords stay out of
shell history and process lists. Without ``--run`` nothing is written (dry run).
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

MARIADB_ENV = "CENTRAL_LEGACY_MARIADB_URL"
PG_ENV = "CENTRAL_LEGACY_PG_URL"

ACTION_PT = {"created": "criar", "updated": "atualizar", "unchanged": "sem mudança", "skipped": "pular",
             "rejected": "rejeitar"}
ACTION_DONE_PT = {"created": "criados", "updated": "atualizados", "unchanged": "sem mudança",
                  "skipped": "pulados", "rejected": "rejeitados"}


def register(app: typer.Typer, setup: Callable[..., None]) -> None:
    @app.command("import-legacy")
    def import_legacy(
        org: Annotated[str, typer.Option(help="Target organization (id or slug).")],
        run: Annotated[bool, typer.Option("--run/--dry-run", help="Write (default: dry run, nothing written).")] = False,
        condominium: Annotated[list[int] | None, typer.Option(
            help="Legacy condominium_id whose extension_ia rows belong to this organization (repeatable).")] = None,
        server: Annotated[str, typer.Option(help="Asterisk server (name) of the panel's extensions.")] = "",
        queue: Annotated[str, typer.Option(help="Asterisk queue for the imported campaigns.")] = "",
        campaign: Annotated[list[int] | None, typer.Option(help="Only these legacy campaign ids (repeatable).")] = None,
        report: Annotated[Path | None, typer.Option(help="CSV with every row that was repaired, skipped or rejected.")] = None,
        user: Annotated[str | None, typer.Option(help="Username the audit log attributes the import to.")] = None,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
        data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Data directory. Env: CENTRAL_DATA_DIR.")] = None,
    ) -> None:
        """Import campaigns, contacts and extensions from the legacy dialer's MariaDB and AI
        extensions from the legacy AudioSocket server's PostgreSQL (dry run by default)."""
        setup(data_dir)
        main(org=org, dry_run=not run, condominiums=condominium or [], server=server, queue=queue,
             campaigns=campaign or [], report=report, user=user, quiet=quiet)


def _fail(message: str, code: int = 2):
    typer.secho(message, fg="red", err=True)
    raise typer.Exit(code)


def main(*, org: str, dry_run: bool, condominiums: list[int], server: str = "", queue: str = "",
         campaigns: list[int] | None = None, report: Path | None = None, user: str | None = None,
         quiet: bool = False) -> None:
    from central.core import audit
    from central.dialer.cli_import import _organization, _user

    from .runner import Options, run

    organization = _organization(org)
    actor = _user(user)
    mariadb_url = os.environ.get(MARIADB_ENV, "")
    pg_url = os.environ.get(PG_ENV, "")
    if not mariadb_url and not condominiums:
        _fail(f"nada a importar: defina {MARIADB_ENV} (discador) e/ou informe --condominium com {PG_ENV}")
    opts = Options(organization=organization, mariadb_url=mariadb_url, pg_url=pg_url, dry_run=dry_run,
                   condominiums=condominiums, server=server, queue=queue, campaigns=campaigns or [], report=report)
    typer.secho(("SIMULAÇÃO (nada é gravado; use --run para importar)" if dry_run else "IMPORTANDO")
                + f" para a organização {organization.slug}", bold=True)
    if quiet:
        result = run(opts)
    else:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        with Progress(TextColumn("[bold]{task.description:<20}"), BarColumn(), MofNCompleteColumn(),
                      TimeRemainingColumn()) as bar:
            tasks: dict[str, int] = {}

            def progress(table: str, done: int, total: int) -> None:
                if table not in tasks:
                    tasks[table] = bar.add_task(table, total=total or None)
                bar.update(tasks[table], completed=done)

            opts.progress = progress
            result = run(opts)
    _print(result, dry_run)
    if not dry_run:
        audit.record("legacy.import", actor=actor, organization=organization, via="cli", os_user=getpass.getuser(),
                     condominiums=condominiums, seconds=round(result.seconds, 1), errors=result.errors,
                     **result.tally.as_dict())
    if result.errors:
        raise typer.Exit(1)


def _print(result, dry_run: bool) -> None:
    tally = result.tally
    names = ACTION_PT if dry_run else ACTION_DONE_PT
    for table in tally.rows:
        counts = ", ".join(f"{names[a]}: {n}" for (t, a), n in sorted(tally.actions.items()) if t == table)
        typer.echo(f"{table}: {tally.rows[table]} linhas — {counts}")
        for (t, kind, reason), n in sorted(tally.notes.items(), key=lambda kv: (-kv[1], kv[0])):
            if t == table:
                typer.echo(f"    {n:>8}  {kind}" + (f": {reason}" if reason else ""))
    if result.lines:
        typer.echo("linhas (as primeiras; --report grava todas):")
        for table, lid, action, kind, detail in result.lines[:50]:
            typer.echo(f"  {table} #{lid} [{names[action]}] {kind}: {detail}")
    for err in result.errors:
        typer.secho(f"erro: {err}", fg="red", err=True)
    typer.echo(f"tempo: {result.seconds:.1f} s")
