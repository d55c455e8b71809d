"""Typer registration of the dialer's data commands (the lead chains ``register`` from
``central.dialer.commands``):

    central import-contacts CAMPAIGN_ID FILE [--legal-basis consent] [--origin TEXT]
    central import-dnc FILE [--campaign ID] [--source nao_me_perturbe] [--org SLUG]
    central export-results CAMPAIGN_ID [FILE] [--attempts]
    central campaign start|pause|resume|finish ID [--user NAME]
    central campaign list
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Data directory. Env: CENTRAL_DATA_DIR.")]
User = Annotated[str | None, typer.Option("--user", help="Username the audit log attributes the action to.")]


def register(app: typer.Typer, setup: Callable[..., None]) -> None:
    from . import cli_import

    @app.command("import-contacts")
    def import_contacts(
        campaign_id: Annotated[int, typer.Argument(help="Campaign id.")],
        file: Annotated[Path, typer.Argument(help="CSV (; or ,; UTF-8 or Latin-1) or XLSX file.")],
        legal_basis: Annotated[str, typer.Option(help="LGPD legal basis for rows without one.")] = "legitimate_interest",
        origin: Annotated[str, typer.Option(help="Where the data came from (LGPD).")] = "",
        user: User = None,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
        data_dir: DataDir = None,
    ) -> None:
        """Import contacts into a campaign, streaming, with a progress bar and per-row errors."""
        setup(data_dir)
        cli_import.import_contacts(campaign_id, file, legal_basis=legal_basis, origin=origin, user=user, quiet=quiet)

    @app.command("import-dnc")
    def import_dnc(
        file: Annotated[Path, typer.Argument(help="Do-not-call list: CSV/TXT/XLSX with a phone column.")],
        campaign: Annotated[int | None, typer.Option(help="Campaign list (default: organization-wide).")] = None,
        source: Annotated[str, typer.Option(help="nao_me_perturbe, procon_sp, opt_out, import, manual.")] = "import",
        org: Annotated[str | None, typer.Option(help="Organization id or slug (when there are several).")] = None,
        user: User = None,
        quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
        data_dir: DataDir = None,
    ) -> None:
        """Import a do-not-call list (Não Me Perturbe, Procon-SP or any phone list)."""
        setup(data_dir)
        cli_import.import_dnc(file, campaign_id=campaign, source=source, org=org, user=user, quiet=quiet)

    @app.command("export-results")
    def export_results(
        campaign_id: Annotated[int, typer.Argument(help="Campaign id.")],
        file: Annotated[Path | None, typer.Argument(help="Output CSV (default: stdout).")] = None,
        attempts: Annotated[bool, typer.Option("--attempts", help="One row per attempt.")] = False,
        data_dir: DataDir = None,
    ) -> None:
        """Export a campaign's results as CSV (streamed)."""
        setup(data_dir)
        cli_import.export_results(campaign_id, file, per_attempt=attempts)

    campaign_app = typer.Typer(help="Campaign actions (audited): start, pause, resume, finish, list.",
                               no_args_is_help=True)

    def _action(name: str, doc: str):
        @campaign_app.command(name, help=doc)
        def command(campaign_id: Annotated[int, typer.Argument(help="Campaign id.")], user: User = None,
                    data_dir: DataDir = None) -> None:
            setup(data_dir)
            cli_import.campaign_action(name, campaign_id, user=user)

    _action("start", "Start a draft campaign (checks queue, hours, caller ID).")
    _action("pause", "Pause an active campaign: no new calls.")
    _action("resume", "Resume a paused campaign.")
    _action("finish", "Finish a campaign for good.")

    @campaign_app.command("list")
    def campaign_list(data_dir: DataDir = None) -> None:
        """Campaigns of every organization with contact counts."""
        setup(data_dir)
        cli_import.campaign_list()

    app.add_typer(campaign_app, name="campaign")
