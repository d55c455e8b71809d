"""``central simulate-pbx`` and ``central simulate-audiosocket``.

Registered by ``central.cli`` (it imports ``central.<capability>.commands`` and calls
``register(app, setup)``). The simulator needs no Django, so ``setup`` is not called:
the commands start instantly and work without a database.
"""

from __future__ import annotations

import asyncio
import contextlib
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer, setup: Callable[..., None]) -> None:
    @app.command("simulate-pbx")
    def simulate_pbx(
        host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="AMI port.")] = 5038,
        clock: Annotated[str, typer.Option(help="real | virtual | manual")] = "real",
        agents: Annotated[int, typer.Option(help="Agents in queue 'sales'.")] = 5,
        seed: Annotated[int, typer.Option(help="Random seed (same seed, same traffic).")] = 0,
        churn: Annotated[float, typer.Option(help="Mean seconds between extension state changes; 0 = static.")] = 15.0,
        answer_rate: Annotated[float | None, typer.Option(help="P(answer) per dial.")] = None,
        talk_time: Annotated[float | None, typer.Option(help="Mean talk time in seconds.")] = None,
        ring_time: Annotated[float | None, typer.Option(help="Mean seconds an answered call rings first.")] = None,
        background_calls: Annotated[float, typer.Option(help="Calls per minute the simulator places by itself (demo traffic).")] = 6.0,
        monitor_dir: Annotated[Path | None, typer.Option(
            help="Where MixMonitor writes its (generated) recordings: Central's CENTRAL_RECORDINGS_SPOOL.")] = None,
        patience: Annotated[float | None, typer.Option(help="Seconds an answered caller waits in the queue for an agent when the call sets no CENTRAL_ABANDON_AFTER (default 2).")] = None,
    ) -> None:
        """A simulated Asterisk 22 (AMI) with agents, customers and extensions.

        AMI users: CENTRAL_SIM_AMI_USERS="user:secret,..." (or CENTRAL_SIM_AMI_USER and
        CENTRAL_SIM_AMI_SECRET); without them the demo account central/central-demo.
        """
        from central.simulator.ami_server import serve
        from central.simulator.scenarios import DemoSettings, demo_config

        if clock not in ("real", "virtual", "manual"):
            raise typer.BadParameter("clock must be real, virtual or manual")
        cfg = demo_config(DemoSettings(agents=agents, churn_interval=churn,
                                       background_calls_per_minute=background_calls),
                          clock=clock, seed=seed)
        if answer_rate is not None:
            cfg.world.answer_rate = answer_rate
        if talk_time is not None:
            cfg.world.talk_time_mean = talk_time
        if monitor_dir is not None:
            cfg.monitor_dir = str(monitor_dir)
        if ring_time is not None:
            cfg.world.ring_time_mean = ring_time
        if patience is not None:
            cfg.world.abandon_after = patience
        typer.secho(f"PBX simulator: AMI on {host}:{port} (clock {clock}, {agents} agents, "
                    f"users {', '.join(cfg.users)})", fg="green")
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(host, port, cfg))

    @app.command("simulate-audiosocket")
    def simulate_audiosocket(
        target: Annotated[str, typer.Argument(help="AudioSocket server host:port.")],
        wav: Annotated[Path | None, typer.Option(help="Caller speech: WAV 8 kHz mono 16-bit.")] = None,
        dtmf: Annotated[str, typer.Option(help="Digits to send after the speech.")] = "",
        seconds: Annotated[float, typer.Option(help="Stay connected this long.")] = 10.0,
        record: Annotated[Path | None, typer.Option(help="Write what the server said to this WAV.")] = None,
        call_uuid: Annotated[str | None, typer.Option("--uuid", help="Call UUID (random if omitted).")] = None,
    ) -> None:
        """Act as Asterisk's AudioSocket() towards a voice server: UUID, 20 ms slin frames,
        DTMF, then hang up by closing the socket (no hangup message, like Asterisk)."""
        from central.simulator.audiosocket_client import AudioSocketClient

        host, _, port_text = target.rpartition(":")
        if not host or not port_text.isdigit():
            raise typer.BadParameter("target must be host:port")

        async def run() -> AudioSocketClient:
            async with AudioSocketClient(host, int(port_text), call_uuid) as leg:
                if wav is not None:
                    leg.play_wav(str(wav))
                    await leg.wait_idle()
                for digit in dtmf:
                    leg.dtmf(digit)
                await leg.run_for(seconds)
            return leg

        try:
            leg = asyncio.run(run())
        except (OSError, ValueError) as exc:
            typer.secho(f"audiosocket: {exc}", fg="red", err=True)
            raise typer.Exit(1) from exc
        r = leg.record
        typer.echo(f"uuid {leg.uuid}: sent {r.frames_sent} frames, {len(r.dtmf_sent)} DTMF; "
                   f"received {r.frames_received} frames; server hangup: {r.hangup_received}")
        if record is not None:
            with wave.open(str(record), "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(8000)
                w.writeframes(bytes(r.received_audio))
