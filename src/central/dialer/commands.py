"""``central dialer``: one dialer process attached to one Asterisk server.

Run several per Asterisk (on one or more hosts): campaigns are spread by leases, and
when one process dies the others take its campaigns over within 30 s. Registered by
``central.cli``; the data helper's commands (campaign CRUD, imports) are chained from
``central.dialer.commands_data`` when it exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable
from importlib import import_module
from importlib.util import find_spec
from pathlib import Path
from typing import Annotated

import typer


def _resolve_target(server: str | None, ami: str | None) -> tuple[str, int, str, str, str, str]:
    """(host, port, username, secret, auth, campaigns' asterisk_server) for this process."""
    from central.telephony.link import ConfigError, parse_ami_url, server_secret

    if server:
        from central.telephony.models import AsteriskServer

        row = AsteriskServer.objects.filter(name=server, enabled=True).first()
        if row is None:
            raise typer.BadParameter(f"no enabled Asterisk server named {server!r}")
        secret = server_secret(row)
        if not secret:
            raise typer.BadParameter(f"server {server}: environment variable {row.secret_env} is not set")
        return row.host, row.port, row.username, secret, row.auth, server
    url = ami or os.environ.get("CENTRAL_AMI_URL", "")
    if not url:
        raise typer.BadParameter("give --server NAME or --ami ami://user@host:5038 (or CENTRAL_AMI_URL)")
    try:
        host, port, user = parse_ami_url(url)
    except ConfigError as exc:
        raise typer.BadParameter(str(exc)) from exc
    secret = os.environ.get("CENTRAL_AMI_SECRET", "")
    if not secret:
        raise typer.BadParameter("set CENTRAL_AMI_SECRET with the AMI secret")
    return host, port, user, secret, "plain", ""


async def run_dialer(host: str, port: int, user: str, secret: str, auth: str, served: str, *,
                     name: str | None, wrapup: float, tick: float, lease_ttl: float | None = None,
                     renew_every: float | None = None) -> None:
    from central.core.runtime import heartbeat_forever
    from central.dialer.engine import Engine, EngineOptions
    from central.telephony.ami.client import AMIClient

    client = AMIClient(host, port, user, secret, name=f"dialer-{served or 'default'}", auth=auth)
    opts = EngineOptions(server=served, wrapup_s=wrapup, tick_s=tick)
    if lease_ttl:
        opts.lease_ttl = lease_ttl
    if renew_every:
        opts.renew_every = renew_every
    engine = Engine(client, name=name, options=opts)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await asyncio.wait_for(client.start(), 60)
    beat = asyncio.ensure_future(heartbeat_forever("dialer", engine.info))
    try:
        await engine.run(stop)
    finally:
        beat.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await beat
        await client.close()


def register(app: typer.Typer, setup: Callable[..., None]) -> None:
    @app.command("dialer")
    def dialer(
        server: Annotated[str | None, typer.Option(help="Asterisk server name (telephony servers); "
                                                       "serves the campaigns assigned to it.")] = None,
        ami: Annotated[str | None, typer.Option(help="ami://user@host:5038 (secret in CENTRAL_AMI_SECRET); "
                                                    "serves campaigns with no server set.")] = None,
        name: Annotated[str | None, typer.Option(help="Process name in leases (default dialer@host:pid).")] = None,
        wrapup: Annotated[float, typer.Option(help="Agent wrap-up seconds not visible in AMI.")] = 0.0,
        tick: Annotated[float, typer.Option(help="Seconds between pacing decisions.")] = 1.0,
        lease_ttl: Annotated[float, typer.Option(help="Campaign lease lifetime, seconds.")] = 15.0,
        renew_every: Annotated[float, typer.Option(help="Lease renewal interval, seconds.")] = 5.0,
        data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Data directory. Env: CENTRAL_DATA_DIR.")] = None,
    ) -> None:
        """Run campaigns against one Asterisk: leases, pacing, Originate, outcomes, reconcile."""
        setup(data_dir)
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
        host, port, user, secret, auth, served = _resolve_target(server, ami)
        typer.secho(f"dialer: {user}@{host}:{port} (campaigns of server {served or 'default'!r})", fg="green")
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run_dialer(host, port, user, secret, auth, served, name=name, wrapup=wrapup, tick=tick,
                                        lease_ttl=lease_ttl, renew_every=renew_every))

    # The data helper's commands (campaigns, imports, exports) live in their own module.
    if find_spec("central.dialer.commands_data") is not None:
        import_module("central.dialer.commands_data").register(app, setup)
