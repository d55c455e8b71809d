"""The shared protocol: encode/decode round trips and the validation both ends rely on."""

from __future__ import annotations

import json

import pytest

from central_agent import protocol as p

pytestmark = pytest.mark.backend_free

SHA = "a" * 64


def _entry(**kw):
    base = dict(size=10, mtime=1_700_000_000.5, sha256=SHA, title="Relatório", pages=2)
    base.update(kw)
    return p.Entry(**base)


def _roundtrip(msg, allowed=None):
    text = p.encode(msg)
    back = p.decode(text, allowed)
    assert back == msg
    assert json.loads(text)["type"] == msg.TYPE
    return text


def test_every_message_type_round_trips():
    folder = p.FolderStats(folder="docs", path="/srv/docs", files=3, bytes=30,
                           skipped={"unreadable": 1}, watch="polling")
    messages = [
        p.Hello(protocol=p.PROTOCOL_VERSION, version="0.1.0", os="Linux 6.1", hostname="pc",
                ips=["10.0.0.2"], folders=[folder], heartbeat=5.0, started_at=1.0),
        p.Heartbeat(uptime=12.5, folders=[folder], pending_changes=2, active_uploads=1),
        p.IndexBatch(index_id="idx1", seq=1, reset=True, changes=[
            p.Change(op="added", folder="docs", path="Relatório Março.pdf", entry=_entry()),
            p.Change(op="modified", folder="docs", path="a/b.pdf", entry=_entry(error="encrypted")),
            p.Change(op="renamed", folder="docs", path="c.pdf", old_path="b.pdf", entry=_entry()),
            p.Change(op="deleted", folder="docs", path="gone.pdf"),
        ]),
        p.UploadProgress(transfer_id="t1", offset=5, size=10, attempt=2),
        p.UploadError(transfer_id="t1", code="attempts_exhausted", detail="x"),
        p.UploadStale(transfer_id="t1", folder="docs", path="a.pdf", reason="modified", sha256=SHA),
        p.Welcome(agent_id="7", name="Loja", index_id=None, last_seq=0, server_time=2.0),
        p.IndexAck(index_id="idx1", seq=1),
        p.Resync(reason="seq_gap"),
        p.UploadRequest(transfer_id="t1", folder="docs", path="a.pdf", sha256=SHA, size=10),
        p.UploadCancel(transfer_id="t1"),
        p.Error(code="oops", detail=None),
    ]
    assert {m.TYPE for m in messages} == set(p.MESSAGE_TYPES)
    for msg in messages:
        _roundtrip(msg)


def test_non_ascii_names_travel_unescaped_and_nfc():
    change = p.Change(op="added", folder="docs", path="Relatório Março.pdf", entry=_entry())
    text = _roundtrip(p.IndexBatch(index_id="i", seq=1, changes=[change]))
    assert "Relatório Março.pdf" in text
    decomposed = "Relato\u0301rio.pdf"
    assert p.normalize_path(decomposed) == "Relatório.pdf"
    with pytest.raises(p.ProtocolError):
        p.check_path(decomposed)
    assert p.normalize_path("a\\b.pdf") == "a/b.pdf"


@pytest.mark.parametrize("path", ["", "/etc/passwd", "../x.pdf", "a/../../x", "a//b", "C:/x.pdf",
                                  "a\\b.pdf", "a\x00b", "./a.pdf", "x" * 2000])
def test_bad_paths_are_refused(path):
    with pytest.raises(p.ProtocolError):
        p.check_path(path)
    with pytest.raises(p.ProtocolError):
        p.UploadRequest.from_dict(dict(transfer_id="t", folder="d", path=path, sha256=SHA, size=1))


@pytest.mark.parametrize("text", [
    "not json", "[]", '{"type": 3}', '{"type": "nope"}', '{"type": "index_ack", "seq": 1}',
    '{"type": "index_ack", "index_id": "i", "seq": "1"}',
    '{"type": "index_ack", "index_id": "i", "seq": true}',
    '{"type": "welcome", "agent_id": "a b", "name": "n", "index_id": null, "last_seq": 0}',
    '{"type": "welcome", "agent_id": "a", "name": "n", "index_id": null, "last_seq": -1}',
    '{"type": "upload_request", "transfer_id": "t", "folder": "d", "path": "a.pdf", "sha256": "AB", "size": 1}',
    '{"type": "heartbeat", "uptime": NaN, "folders": []}',
    b"\xff\xfe",
])
def test_malformed_frames_raise_protocol_error(text):
    with pytest.raises(p.ProtocolError):
        p.decode(text)


def test_direction_is_enforced():
    frame = p.encode(p.UploadRequest(transfer_id="t", folder="d", path="a.pdf", sha256=SHA, size=1))
    assert isinstance(p.decode(frame, p.CENTRAL_MESSAGES), p.UploadRequest)
    with pytest.raises(p.ProtocolError):
        p.decode(frame, p.AGENT_MESSAGES)


def test_unknown_fields_are_ignored_for_forward_compatibility():
    msg = p.decode('{"type": "index_ack", "index_id": "i", "seq": 4, "future": 1}')
    assert msg == p.IndexAck(index_id="i", seq=4)


_E = {"size": 1, "mtime": 1.0, "sha256": "a" * 64}


@pytest.mark.parametrize("data", [
    dict(op="deleted", folder="d", path="a.pdf", old_path="b.pdf"),
    dict(op="deleted", folder="d", path="a.pdf", entry=_E),
    dict(op="added", folder="d", path="a.pdf"),
    dict(op="renamed", folder="d", path="a.pdf", entry=_E),
    dict(op="modified", folder="d", path="a.pdf", old_path="b.pdf", entry=_E),
    dict(op="moved", folder="d", path="a.pdf", entry=_E),
    dict(op="added", folder="a/b", path="a.pdf", entry=_E),
])
def test_change_shape_rules(data):
    with pytest.raises(p.ProtocolError):
        p.Change.from_dict(data)


def test_entry_without_digest_needs_a_reason():
    with pytest.raises(p.ProtocolError):
        p.Entry.from_dict(dict(size=1, mtime=1.0, sha256=None))
    assert p.Entry.from_dict(dict(size=1, mtime=1, sha256=None, error="broken_pdf")).mtime == 1.0


def test_batches_are_split_by_count_and_bytes():
    big = "x" * 900
    changes = [p.Change(op="added", folder="d", path=f"{i}.pdf", entry=_entry(title=big))
               for i in range(2500)]
    pieces = p.split_changes(changes)
    assert sum(len(x) for x in pieces) == 2500
    for i, piece in enumerate(pieces, 1):
        assert len(piece) <= p.MAX_BATCH_CHANGES
        p.encode(p.IndexBatch(index_id="i", seq=i, changes=piece))  # fits MAX_MESSAGE_BYTES
    with pytest.raises(p.ProtocolError):
        p.encode(p.IndexBatch(index_id="i", seq=1, changes=changes[:600]))


def test_close_codes_tell_stop_from_reconnect():
    assert p.close_is_fatal(p.CLOSE_TOKEN_INVALID)
    assert "revoked" in p.close_reason(p.CLOSE_TOKEN_INVALID)
    assert p.close_is_fatal(p.CLOSE_UNSUPPORTED_VERSION)
    assert p.close_is_fatal(p.CLOSE_REPLACED)
    for code in (None, p.CLOSE_NORMAL, p.CLOSE_GOING_AWAY, p.CLOSE_SERVICE_RESTART, 1006,
                 p.CLOSE_PROTOCOL_ERROR, p.CLOSE_HELLO_TIMEOUT):
        assert not p.close_is_fatal(code)
    codes = [v for k, v in vars(p).items() if k.startswith("CLOSE_")]
    assert len(codes) == len(set(codes))


def test_auth_header_and_paths():
    assert p.parse_auth_header(p.auth_header_value("tok_123")) == "tok_123"
    assert p.parse_auth_header("agent tok") == "tok"
    for bad in (None, "", "Bearer tok", "Agent", "Agent a b"):
        assert p.parse_auth_header(bad) is None
    assert p.upload_path("abc_1") == "/api/v1/documents/agent/uploads/abc_1/"
    with pytest.raises(p.ProtocolError):
        p.upload_path("../x")
    assert p.ENROLL_PATH == "/api/v1/documents/agent/enroll/"
    assert p.WS_PATH == "/ws/agent/"
    assert p.CHUNK_SIZE <= p.MAX_CHUNK_SIZE


def test_upload_status_and_enrollment_records():
    assert p.UploadStatus.from_dict({"offset": 3, "size": 9, "state": "receiving"}).offset == 3
    with pytest.raises(p.ProtocolError):
        p.UploadStatus.from_dict({"offset": 10, "size": 9, "state": "receiving"})
    with pytest.raises(p.ProtocolError):
        p.UploadStatus.from_dict({"offset": 1, "size": 9, "state": "weird"})
    req = p.EnrollRequest(code="ABCD-1234", hostname="pc", os="Windows 11", version="0.1.0")
    assert p.EnrollRequest.from_dict(req.to_dict()) == req
    with pytest.raises(p.ProtocolError):
        p.EnrollRequest.from_dict({**req.to_dict(), "code": "  "})
    with pytest.raises(p.ProtocolError):
        p.EnrollResponse.from_dict({"agent_id": "1", "name": "n", "token": ""})
    assert p.EnrollError.from_dict({"error": "expired_code"}).error == "expired_code"


def test_chunk_frames_parse_piece_by_piece_and_bound_memory():
    """The upload body: frames split anywhere by the network come out whole, in order."""
    import hashlib

    chunks = [b"a" * 10, b"b" * 3, b"c"]
    body = b"".join(p.chunk_frame(c, hashlib.sha256(c).digest()) + c for c in chunks)
    for step in (1, 7, 40, len(body)):
        reader, out = p.ChunkReader(), []
        for i in range(0, len(body), step):
            out += reader.feed(body[i:i + step])
        assert out == [(hashlib.sha256(c).hexdigest(), c) for c in chunks] and reader.at_boundary
    reader = p.ChunkReader()
    reader.feed(body[:45])
    assert not reader.at_boundary  # a body may not end inside a frame
    # A frame announcing more than the limit is refused before any of its data is kept.
    with pytest.raises(p.ChunkTooLarge):
        p.ChunkReader(max_chunk=8).feed((9).to_bytes(8, "big") + bytes(32))
    with pytest.raises(p.ProtocolError):
        p.ChunkReader().feed((0).to_bytes(8, "big") + bytes(32))
    with pytest.raises(p.ProtocolError):
        p.chunk_frame(b"x", b"short")
