"""``python -m central.simulator``: run the PBX simulator (same as ``central simulate-pbx``).

AMI users come from ``CENTRAL_SIM_AMI_USERS`` (``user:secret,...``) or
``CENTRAL_SIM_AMI_USER``/``CENTRAL_SIM_AMI_SECRET``; without them the demo account
``central``/``central-demo`` (see ``config.DEMO_USERS``) is used.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys

from central.simulator.ami_server import serve
from central.simulator.scenarios import DemoSettings, demo_config


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m central.simulator",
                                description="Simulated Asterisk 22 (AMI) for demos and tests.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5038)
    p.add_argument("--clock", choices=["real", "virtual", "manual"], default="real")
    p.add_argument("--agents", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--churn", type=float, default=15.0,
                   help="mean seconds between extension state changes (0 = static)")
    p.add_argument("--background-calls", type=float, default=6.0,
                   help="calls per minute placed by the simulator itself (demo traffic)")
    p.add_argument("--answer-rate", type=float, default=None)
    p.add_argument("--talk-time", type=float, default=None, help="mean talk time (s)")
    return p


def run(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    cfg = demo_config(DemoSettings(agents=args.agents, churn_interval=args.churn,
                                   background_calls_per_minute=args.background_calls),
                      clock=args.clock, seed=args.seed)
    if args.answer_rate is not None:
        cfg.world.answer_rate = args.answer_rate
    if args.talk_time is not None:
        cfg.world.talk_time_mean = args.talk_time
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port, cfg))
    return 0


if __name__ == "__main__":
    sys.exit(run())
