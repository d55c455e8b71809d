"""The CLI commands registered by central.simulator.commands."""

from __future__ import annotations

import socket
import threading
import wave

import pytest
from typer.testing import CliRunner

from central.cli import app

# Touches neither the database nor Redis (checked: passes with neither reachable),
# so it runs only in the SQLite pass.
pytestmark = pytest.mark.backend_free


def test_simulate_pbx_is_registered() -> None:
    result = CliRunner().invoke(app, ["simulate-pbx", "--help"])
    assert result.exit_code == 0 and "--clock" in result.output


def test_simulate_audiosocket_talks_to_a_server_and_records(tmp_path) -> None:
    received = bytearray()
    srv = socket.create_server(("127.0.0.1", 0))
    port = srv.getsockname()[1]

    def serve() -> None:
        conn, _ = srv.accept()
        with conn:
            conn.sendall(b"\x10\x01\x40" + b"\x07\x00" * 160)  # one 20 ms frame back
            while chunk := conn.recv(65536):
                received.extend(chunk)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    out = tmp_path / "heard.wav"
    result = CliRunner().invoke(app, ["simulate-audiosocket", f"127.0.0.1:{port}", "--dtmf", "12",
                                      "--seconds", "0.3", "--record", str(out),
                                      "--uuid", "a1b2c3d4-e5f6-4711-8899-aabbccddeeff"])
    thread.join(2.0)
    srv.close()
    assert result.exit_code == 0, result.output
    assert "received 1 frames" in result.output
    assert received.startswith(b"\x01\x00\x10\xa1\xb2\xc3\xd4")
    assert b"\x03\x00\x011" in received and b"\x03\x00\x012" in received
    kinds, pos = [], 0
    while pos + 3 <= len(received):
        kinds.append(received[pos])
        pos += 3 + int.from_bytes(received[pos + 1:pos + 3], "big")
    assert pos == len(received) and 0x00 not in kinds  # closed without a hangup message
    assert kinds[0] == 0x01 and kinds.count(0x10) >= 10
    with wave.open(str(out)) as w:
        assert w.readframes(1000) == b"\x07\x00" * 160
