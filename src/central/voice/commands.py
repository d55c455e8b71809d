"""``central voice``: registered by central.cli (``register(app, setup)``)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Annotated

import typer

from central.core.metrics import MetricsPort


def register(app: typer.Typer, setup: Callable[..., None]) -> None:
    @app.command("voice")
    def voice(
        api_host: Annotated[str, typer.Option(help="Management API address.")] = "127.0.0.1",
        api_port: Annotated[int, typer.Option(help="Management API port (the port of CENTRAL_VOICE_API_URL).",
                                              envvar="CENTRAL_VOICE_API_PORT")] = 8090,
        snapshot: Annotated[str | None, typer.Option(help="Config snapshot file.")] = None,
        metrics_port: MetricsPort = None,
    ) -> None:
        """The voice AI attendant: AudioSocket listeners per AI extension + management API.

        Management API token: CENTRAL_VOICE_TOKEN. PBX link: CENTRAL_AMI_URL/CENTRAL_AMI_SECRET.
        """
        setup()
        import logging

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        from central.core.metrics import serve_process_metrics
        from central.core.runtime import heartbeat_forever, run_together
        from central.voice.priority import configured_slice_us, request_short_slice
        from central.voice.runner import run_event_loop, run_voice

        serve_process_metrics("voice", metrics_port)
        request_short_slice(configured_slice_us())  # on time without SCHED_FIFO (priority.py)

        async def main() -> None:
            # The heartbeat puts the voice process in `central status` next to the others.
            await run_together(run_voice(api_host=api_host, api_port=api_port, snapshot_path=snapshot),
                               heartbeat_forever("voice", lambda: {"api_port": api_port}))

        with contextlib.suppress(KeyboardInterrupt):
            run_event_loop(main())
