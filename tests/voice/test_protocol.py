"""AudioSocket codec against the bytes captured from Asterisk 22.10.1."""

from __future__ import annotations

import csv
import random
import uuid

import pytest

from central.voice.audiosocket.protocol import (
    DTMF,
    HANGUP_BYTES,
    MAX_AUDIO_MS,
    MAX_BUFFER,
    Audio,
    Connection,
    ErrorMessage,
    Hangup,
    ProtocolError,
    Role,
    UUIDMessage,
    encode_frame,
)
from tests.telephony.fixtures import FIXTURES_DIR as FIXTURES

# Touches neither the database nor Redis (checked: passes with neither reachable),
# so it runs only in the SQLite pass.
pytestmark = pytest.mark.backend_free


def rows(name: str) -> list[dict[str, str]]:
    with open(FIXTURES / name, newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def describe(event) -> tuple[str, int, str]:
    """(kind, length, note-ish) in the shape of the .frames.tsv rows."""
    if isinstance(event, UUIDMessage):
        return "0x01", 16, f"UUID {event.uuid.hex}"
    if isinstance(event, DTMF):
        return "0x03", 1, f"DTMF '{event.digit}'"
    if isinstance(event, Audio):
        return f"0x{event.kind:02x}", len(event.pcm), ""
    if isinstance(event, Hangup):
        return "0x00", 0, "HANGUP"
    raise AssertionError(event)


def peak(pcm: bytes) -> int:
    import array

    a = array.array("h")
    a.frombytes(pcm)
    return max(abs(x) for x in a)


def assert_matches_tsv(events, tsv_rows) -> None:
    assert len(events) == len(tsv_rows)
    for event, row in zip(events, tsv_rows, strict=True):
        kind, length, note = describe(event)
        assert (kind, length) == (row["kind"], int(row["length"])), row
        if note:
            assert row["note"].startswith(note), (row, note)
        if row["note"].startswith("peak="):
            assert peak(event.pcm) == int(row["note"][5:])


def test_session_from_asterisk_parses_completely_and_matches_tsv():
    data = (FIXTURES / "audiosocket-session.bin").read_bytes()
    conn = Connection(Role.SERVER)
    events = conn.receive_data(data)
    tsv = [r for r in rows("audiosocket-session.frames.tsv") if r["dir"] == "rx"]
    assert_matches_tsv(events, tsv)
    assert conn.uuid == uuid.UUID("a1b2c3d4-e5f6-4711-8899-aabbccddeeff")
    assert [e.digit for e in events if isinstance(e, DTMF)] == ["1", "2", "#"]
    assert conn.frames_in == 201


def test_session_to_asterisk_parses_completely_and_matches_tsv():
    data = (FIXTURES / "audiosocket-session.to-asterisk.bin").read_bytes()
    conn = Connection(Role.ASTERISK)
    events = conn.receive_data(data)
    tsv = [r for r in rows("audiosocket-session.frames.tsv") if r["dir"] == "tx"]
    assert_matches_tsv(events, tsv)
    assert data.endswith(HANGUP_BYTES) and isinstance(events[-1], Hangup)
    assert conn.closed


def test_reencoding_what_we_sent_gives_the_captured_bytes():
    data = (FIXTURES / "audiosocket-session.to-asterisk.bin").read_bytes()
    events = Connection(Role.ASTERISK).receive_data(data)
    server = Connection(Role.SERVER)
    assert b"".join(server.send(e) for e in events) == data


def test_every_read_boundary_gives_the_same_events():
    data = (FIXTURES / "audiosocket-session.bin").read_bytes()
    whole = Connection(Role.SERVER).receive_data(data)
    conn = Connection(Role.SERVER)
    one_byte: list = []
    for i in range(len(data)):
        one_byte += conn.receive_data(data[i : i + 1])
    assert one_byte == whole
    # and every two-way split within the first frames (UUID + first audio frames)
    for cut in range(0, 700):
        c = Connection(Role.SERVER)
        assert c.receive_data(data[:cut]) + c.receive_data(data[cut:]) == whole


def test_random_chunking_equals_whole():
    data = (FIXTURES / "audiosocket-session.bin").read_bytes()
    whole = Connection(Role.SERVER).receive_data(data)
    rnd = random.Random(5)
    for _ in range(20):
        conn, out, pos = Connection(Role.SERVER), [], 0
        while pos < len(data):
            n = rnd.randint(1, 2000)
            out += conn.receive_data(data[pos : pos + n])
            pos += n
        assert out == whole


def test_chan_audiosocket_slin16_frames():
    data = (FIXTURES / "audiosocket-chan-slin16.bin").read_bytes()
    events = Connection(Role.SERVER).receive_data(data)
    tsv = [
        r
        for r in rows("audiosocket-edge-cases.frames.tsv")
        if r["session"] == "chan_audiosocket-slin16" and r["dir"] == "rx"
    ]
    assert_matches_tsv(events, tsv)
    audio = [e for e in events if isinstance(e, Audio)]
    assert {(e.rate, len(e.pcm)) for e in audio} == {(16000, 640)}


def test_server_refuses_to_send_anything_but_hangup_and_audio():
    # audiosocket-edge-cases.frames.tsv, server-sends-kind-0x03: Asterisk reset the call.
    edge = [r for r in rows("audiosocket-edge-cases.frames.tsv") if r["session"] == "server-sends-kind-0x03"]
    assert edge[-2]["kind"] == "0x03" and edge[-1]["dir"] == "rx-error"
    conn = Connection(Role.SERVER)
    for bad in (DTMF("5"), UUIDMessage(uuid.uuid4()), ErrorMessage(b"\x01")):
        with pytest.raises(ProtocolError, match="only hangup and audio"):
            conn.send(bad)
    assert conn.send(Audio(b"\x00\x00" * 160)) == b"\x10\x01\x40" + b"\x00" * 320
    assert conn.send(Audio(b"\x00\x00" * 320, 16000))[:3] == b"\x12\x02\x80"
    assert conn.send(Hangup()) == b"\x00\x00\x00"
    with pytest.raises(ProtocolError):
        conn.send(Audio(b"\x00\x00"))


def test_asterisk_side_rejects_dtmf_from_server():
    conn = Connection(Role.ASTERISK)
    with pytest.raises(ProtocolError, match="only hangup and audio"):
        conn.receive_data(b"\x03\x00\x015")


def test_far_end_hangup_is_a_plain_eof_so_codec_stays_open():
    # caller-hangs-up-first: no hangup message, just TCP FIN; the adapter handles EOF.
    edge = [r for r in rows("audiosocket-edge-cases.frames.tsv") if r["session"] == "caller-hangs-up-first"]
    assert edge[-1]["dir"] == "rx-eof" and not any(r["kind"] == "0x00" for r in edge)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\x10\x01\x40", "before the UUID"),
        (b"\x01\x00\x05abcde", "16 raw bytes"),
        (b"\x01\x00\x10" + b"u" * 16 + b"\x42\x00\x00", "unknown message kind 0x42"),
        (b"\x01\x00\x10" + b"u" * 16 + b"\x10\xff\xff", "exceeds"),
        (b"\x01\x00\x10" + b"u" * 16 + b"\x10\x00\x03abc", "odd length"),
        (b"\x01\x00\x10" + b"u" * 16 + b"\x03\x00\x01x", "invalid DTMF"),
        (b"\x01\x00\x10" + b"u" * 16 + b"\x03\x00\x02" + b"12", "1 byte"),
        (b"\x01\x00\x10" + b"u" * 16 + b"\x01\x00\x10" + b"u" * 16, "second UUID"),
        (b"\x01\x00\x10" + b"u" * 16 + b"\x00\x00\x01x", "must be empty"),
    ],
)
def test_bad_input_raises_one_error_type_naming_the_problem(data, message):
    conn = Connection(Role.SERVER)
    with pytest.raises(ProtocolError, match=message):
        conn.receive_data(data)
    assert conn.closed
    with pytest.raises(ProtocolError):
        conn.receive_data(b"\x10\x00\x00")


def test_oversized_header_is_rejected_before_its_payload_arrives():
    conn = Connection(Role.SERVER)
    conn.receive_data(encode_frame(0x01, b"u" * 16))
    limit = 8000 * 2 * MAX_AUDIO_MS // 1000
    assert conn.receive_data(b"\x10" + limit.to_bytes(2, "big")) == []
    conn2 = Connection(Role.SERVER)
    conn2.receive_data(encode_frame(0x01, b"u" * 16))
    with pytest.raises(ProtocolError, match="exceeds"):
        conn2.receive_data(b"\x10" + (limit + 2).to_bytes(2, "big"))
    assert MAX_BUFFER >= 3 + 192000 * 2 * MAX_AUDIO_MS // 1000


def test_error_kind_and_hangup_close_the_connection():
    conn = Connection(Role.SERVER)
    events = conn.receive_data(encode_frame(0x01, b"u" * 16) + b"\xff\x00\x01\x04")
    assert events[-1] == ErrorMessage(b"\x04") and conn.closed
