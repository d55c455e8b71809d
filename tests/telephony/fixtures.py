"""Load the Asterisk 22 fixtures (tests/fixtures/asterisk/) as exact bytes.

Two formats (see that folder's README.md):

* ``ami-event-stream-*.txt`` and ``ami-queue-member-pause.txt``: verbatim bytes a
  listener connection received; :func:`stream_bytes` returns them untouched.
* transcripts (``ami-login-and-actions.txt``...): each AMI message is preceded by a
  marker line ``### <<< server->client t=…s`` or ``### >>> client->server t=…s`` ending in
  a bare ``\\n``; ``### --- …`` lines note events such as the server closing the socket.
  :func:`transcript` strips the markers and returns the exact message bytes per direction.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

FIXTURES_DIR = Path(
    os.environ.get(
        "CENTRAL_ASTERISK_FIXTURES",
        Path(__file__).resolve().parents[1] / "fixtures" / "asterisk",
    )
)

STREAM_FILES = sorted(
    p.name for p in FIXTURES_DIR.glob("ami-event-stream-*.txt")
) + ["ami-queue-member-pause.txt"]
TRANSCRIPT_FILES = [
    "ami-login-and-actions.txt",
    "ami-login-failure.txt",
    "ami-queue-actions.txt",
    "ami-extension-state.txt",
    "ami-core-show-channels.txt",
]

_MARKER = re.compile(rb"^### (<<<|>>>|---)[^\n]*\n", re.M)

SERVER = "server->client"
CLIENT = "client->server"


def stream_bytes(name: str) -> bytes:
    return (FIXTURES_DIR / name).read_bytes()


def transcript(name: str) -> list[tuple[str, bytes]]:
    """[(direction, bytes), ...] in file order; ``---`` notes are dropped."""
    raw = (FIXTURES_DIR / name).read_bytes()
    out: list[tuple[str, bytes]] = []
    marks = list(_MARKER.finditer(raw))
    if marks and marks[0].start() != 0:
        raise ValueError(f"{name}: bytes before the first marker line")
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(raw)
        body = raw[m.end() : end]
        kind = m.group(1)
        if kind == b"---":
            if body:
                raise ValueError(f"{name}: bytes after a '---' note")
            continue
        out.append((SERVER if kind == b"<<<" else CLIENT, body))
    return out


def server_bytes(name: str) -> bytes:
    """Everything the server sent, concatenated (what a client socket would read)."""
    return b"".join(b for d, b in transcript(name) if d == SERVER)


def client_bytes(name: str) -> bytes:
    """Everything the client sent, concatenated."""
    return b"".join(b for d, b in transcript(name) if d == CLIENT)
