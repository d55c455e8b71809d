"""``central whatsapp``: the WhatsApp sender process of a production installation."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer, setup: Callable[..., None]) -> None:
    @app.command("whatsapp")
    def whatsapp(
        data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Data directory. Env: CENTRAL_DATA_DIR.")] = None,
    ) -> None:
        """Send queued WhatsApp messages within the Cloud API limits (exactly one per
        installation, like `central beat`). Without a Celery broker it also applies the
        webhook events; with one, `central worker` does."""
        setup(data_dir)
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
        from central.core.runtime import heartbeat_forever, run_together
        from central.messaging import inbound
        from central.messaging.sender import Sender

        if not inbound.uses_celery():
            runner = inbound.runner()
            runner.start()
            runner.wake()

        async def main() -> None:
            await run_together(Sender().run(), heartbeat_forever("whatsapp"))

        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(main())
