"""``central pbx``: the PBX link process (one AMI connection per Asterisk server)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from central.core.metrics import MetricsPort


def register(app: typer.Typer, setup: Callable[..., None]) -> None:
    @app.command("pbx")
    def pbx(
        data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Data directory. Env: CENTRAL_DATA_DIR.")] = None,
        server: Annotated[list[str] | None, typer.Option("--server", help="Only these server names (repeatable).")] = None,
        metrics_port: MetricsPort = None,
    ) -> None:
        """Connect to every enabled Asterisk server (database, or CENTRAL_AMI_URL with
        CENTRAL_AMI_SECRET), keep extensions, live calls and call records, push live updates."""
        setup(data_dir)
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
        from django.db import DatabaseError

        from central.core.metrics import serve_process_metrics
        from central.telephony.link import ConfigError, run_pbx, targets_from_db

        try:
            targets, problems = targets_from_db()
        except ConfigError as exc:
            typer.secho(f"pbx: {exc}", fg="red", err=True)
            raise typer.Exit(2) from exc
        except DatabaseError as exc:
            typer.secho(f"pbx: cannot read the Asterisk servers from the database ({exc}); "
                        "run `central migrate` first.", fg="red", err=True)
            raise typer.Exit(2) from exc
        for problem in problems:
            typer.secho(f"pbx: {problem}", fg="yellow", err=True)
        if server:
            targets = [t for t in targets if t.name in server]
        if not targets:
            if os.environ.get("CENTRAL_AMI_URL", "").strip():
                # Set, but unusable: the reason was printed above; never claim it is unset.
                typer.secho("pbx: no Asterisk server to connect to: CENTRAL_AMI_URL is set but could "
                            "not be used (see above).", fg="red", err=True)
            else:
                typer.secho("pbx: no Asterisk server to connect to. Add one in /api/v1/telephony/servers/ "
                            "(or the admin), or set CENTRAL_AMI_URL=ami://user@host:5038 and "
                            "CENTRAL_AMI_SECRET.", fg="red", err=True)
            raise typer.Exit(2)
        for t in targets:
            typer.secho(f"pbx: {t.name} -> {t.username}@{t.host}:{t.port}", fg="green")
        serve_process_metrics("pbx", metrics_port)
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run_pbx(targets))
