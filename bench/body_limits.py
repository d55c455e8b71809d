"""Temporary-disk cost of oversized request bodies on a real ``central web``.

Run: .venv/bin/python bench/body_limits.py [--src PATH] [--send-mb 100]

Starts ``central web`` on a migrated SQLite data directory with its own ``TMPDIR`` and, over
a raw socket, sends to ``POST /api/v1/auth/token/`` (anonymous): a lying
``Content-Length: 500 MB`` followed by ``--send-mb`` of body, then a chunked body of the same
size. For each it prints the peak bytes the server held in temporary files (its open
descriptors under ``TMPDIR``, deleted or not, plus files there) and the status line it
answered. ``--src`` runs the server from another checkout's ``src`` (e.g. a ``git worktree``
of an older commit) to measure the code before a change.

The socket client and the measure are those of ``tests/core/test_body_limits.py``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.core.test_body_limits import MB, push  # noqa: E402
from tests.support import free_port, migrated_env, start_central  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--src", type=Path, default=None)
    parser.add_argument("--send-mb", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bodylimit-") as base:
        base = Path(base)
        tmpdir = base / "tmp"
        tmpdir.mkdir()
        extra = {"TMPDIR": str(tmpdir)}
        if args.src:
            extra["PYTHONPATH"] = str(args.src.resolve())
        env = migrated_env(base / "data", **extra)
        port = free_port()
        web = start_central(["web", "--port", str(port)], env, port, base / "web.log")
        try:
            for label, length in (("Content-Length: 500 MB (lie)", 500 * MB), ("chunked", None)):
                response, peak, sent = push(port, web.proc.pid, tmpdir, "/api/v1/auth/token/", length=length,
                                            send_bytes=args.send_mb * MB)
                status = response.split(b"\r\n", 1)[0].decode() or "(no answer in 30 s: still reading the body)"
                print(f"{label}: sent {sent / MB:.1f} MB, server temp peak {peak / MB:.1f} MB, answer {status}")
        finally:
            web.stop()


if __name__ == "__main__":
    main()
