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
from dataclasses import dataclass, field
from importlib import import_module
from importlib.util import find_spec
from pathlib import Path
from typing import Annotated

import typer

from central.core.metrics import MetricsPort


@dataclass(frozen=True)
class DialerTarget:
    """Where one ``central dialer`` connects and which campaigns it may claim."""

    host: str
    port: int
    username: str
    secret: str = field(repr=False)
    auth: str
    label: str  # for logs and status: the server's name ("" for --ami without a row)
    server_id: int | None  # campaigns that reference this server row (same organization only)
    default_organization_ids: tuple[int, ...]  # and these organizations' campaigns with no server


def find_server(ref: str):
    """The enabled server ``--server`` names: an id, ``<organization slug>/<name>``, or a
    name held by exactly one server (names repeat across tenants: never the first match)."""
    from central.telephony.models import AsteriskServer

    qs = AsteriskServer.objects.filter(enabled=True)
    if ref.isdigit():
        rows = list(qs.filter(pk=int(ref)))
    elif "/" in ref:
        slug, name = ref.split("/", 1)
        rows = list(qs.filter(organization__slug=slug, name=name))
    else:
        rows = list(qs.filter(name=ref)[:2])
    if len(rows) > 1:
        raise typer.BadParameter(f"several organizations have a server named {ref!r}: "
                                 "give its id or <organization slug>/<name>")
    if not rows:
        raise typer.BadParameter(f"no enabled Asterisk server {ref!r}")
    return rows[0]


def _resolve_target(server: str | None, ami: str | None) -> DialerTarget:
    """The connection and the claim rule of this process (docs/security.md, rule 17).

    ``--server``: that row's campaigns, at the address the outbound rule checked (and the
    platform's secret only for the CENTRAL_AMI_URL row, which also serves its
    organization's campaigns with no server). ``--ami``: the platform's Asterisk, serving
    the campaigns with no server of the organization it is configured for
    (CENTRAL_AMI_ORG), plus those that reference the CENTRAL_AMI_URL row."""
    from central.telephony.link import (
        ConfigError,
        parse_ami_url,
        platform_organization,
        platform_server,
        target_for,
    )

    if server:
        row = find_server(server)
        try:
            target = target_for(row)
            platform = platform_server()
        except ConfigError as exc:
            raise typer.BadParameter(str(exc)) from exc
        defaults = (row.organization_id,) if platform is not None and platform.pk == row.pk else ()
        return DialerTarget(target.host, target.port, target.username, target.secret, target.auth,
                            row.name, row.pk, defaults)
    url = ami or os.environ.get("CENTRAL_AMI_URL", "")
    if not url:
        raise typer.BadParameter("give --server ID|ORG/NAME|NAME or --ami ami://user@host:5038 (or CENTRAL_AMI_URL)")
    try:
        host, port, user = parse_ami_url(url)
        org = platform_organization()
        platform = platform_server()
    except ConfigError as exc:
        raise typer.BadParameter(str(exc)) from exc
    secret = os.environ.get("CENTRAL_AMI_SECRET", "")
    if not secret:
        raise typer.BadParameter("set CENTRAL_AMI_SECRET with the AMI secret")
    same = platform is not None and (platform.host, platform.port, platform.username) == (host, port, user)
    return DialerTarget(host, port, user, secret, "plain", platform.name if same else "",
                        platform.pk if same else None, (org.pk,))


async def run_dialer(target: DialerTarget, *, name: str | None, wrapup: float, tick: float,
                     lease_ttl: float | None = None, renew_every: float | None = None) -> None:
    from central.core.runtime import heartbeat_forever
    from central.dialer.engine import Engine, EngineOptions
    from central.telephony.ami.client import AMIClient

    client = AMIClient(target.host, target.port, target.username, target.secret,
                       name=f"dialer-{target.label or 'default'}", auth=target.auth)
    opts = EngineOptions(server=target.label, server_id=target.server_id,
                         default_organization_ids=target.default_organization_ids, wrapup_s=wrapup, tick_s=tick)
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
        server: Annotated[str | None, typer.Option(help="Asterisk server: id, <org slug>/<name>, or a name "
                                                       "only one organization uses; serves the campaigns "
                                                       "assigned to it.")] = None,
        ami: Annotated[str | None, typer.Option(help="ami://user@host:5038 (secret in CENTRAL_AMI_SECRET); "
                                                    "serves the campaigns with no server set of "
                                                    "CENTRAL_AMI_ORG.")] = None,
        name: Annotated[str | None, typer.Option(help="Process name in leases (default dialer@host:pid).")] = None,
        wrapup: Annotated[float, typer.Option(help="Agent wrap-up seconds not visible in AMI.")] = 0.0,
        tick: Annotated[float, typer.Option(help="Seconds between pacing decisions.")] = 1.0,
        lease_ttl: Annotated[float, typer.Option(help="Campaign lease lifetime, seconds.")] = 15.0,
        renew_every: Annotated[float, typer.Option(help="Lease renewal interval, seconds.")] = 5.0,
        metrics_port: MetricsPort = None,
        data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Data directory. Env: CENTRAL_DATA_DIR.")] = None,
    ) -> None:
        """Run campaigns against one Asterisk: leases, pacing, Originate, outcomes, reconcile."""
        setup(data_dir)
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
        target = _resolve_target(server, ami)
        typer.secho(f"dialer: {target.username}@{target.host}:{target.port} (campaigns of server "
                    f"{target.label or '-'!r} id {target.server_id}; with no server set: organizations "
                    f"{list(target.default_organization_ids)})", fg="green")
        from central.core.metrics import serve_process_metrics

        serve_process_metrics("dialer", metrics_port)
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run_dialer(target, name=name, wrapup=wrapup, tick=tick,
                                   lease_ttl=lease_ttl, renew_every=renew_every))

    # The data helper's commands (campaigns, imports, exports) live in their own module.
    if find_spec("central.dialer.commands_data") is not None:
        import_module("central.dialer.commands_data").register(app, setup)
