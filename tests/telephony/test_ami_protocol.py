"""The sans-I/O AMI codec against the Asterisk 22 captures, byte for byte."""

from __future__ import annotations

import pytest

from central.telephony.ami.protocol import (
    MAX_ACTION_LINE_BYTES,
    MAX_LINE_BYTES,
    AMIParser,
    Message,
    ProtocolError,
    encode_action,
    encode_message,
)

from .fixtures import (
    CLIENT,
    SERVER,
    STREAM_FILES,
    TRANSCRIPT_FILES,
    client_bytes,
    server_bytes,
    stream_bytes,
    transcript,
)

# Touches neither the database nor Redis (checked: passes with neither reachable),
# so it runs only in the SQLite pass.
pytestmark = pytest.mark.backend_free

BANNER = b"Asterisk Call Manager/11.0.0\r\n"


def reference_pairs(raw: bytes) -> list[tuple[str, str]]:
    """Independent, obviously-correct split of ONE message's bytes."""
    assert raw.endswith(b"\r\n\r\n")
    out = []
    for line in raw[:-4].split(b"\r\n"):
        key, sep, value = line.partition(b": ")
        assert sep, line
        out.append((key.decode(), value.decode()))
    return out


def encode_all(msgs: list[Message]) -> bytes:
    return b"".join(m.to_bytes() for m in msgs)


@pytest.mark.parametrize("name", STREAM_FILES)
def test_stream_fixture_parses_and_reencodes_byte_for_byte(name):
    raw = stream_bytes(name)
    parser = AMIParser()
    msgs = parser.receive_data(raw)
    assert parser.banner == "Asterisk Call Manager/11.0.0"
    assert parser.ami_version == "11.0.0"
    assert parser.buffered == 0
    assert msgs[0].kind == "response" and msgs[0]["Message"] == "Authentication accepted"
    assert msgs[-1].kind == "response" and msgs[-1].name == "Goodbye"
    # the audiosocket capture also holds the Originate's own response (same connection)
    assert all(m.kind == "event" or m.action_id == "as-orig" for m in msgs[1:-1])
    assert len(msgs) == raw.count(b"\r\n\r\n")
    # Re-encoding every message gives back the exact captured bytes.
    assert BANNER + encode_all(msgs) == raw
    # And each message matches an independent split of its own bytes.
    blocks = raw[len(BANNER) :].split(b"\r\n\r\n")[:-1]
    for msg, block in zip(msgs, blocks, strict=True):
        assert msg.pairs == reference_pairs(block + b"\r\n\r\n")


@pytest.mark.parametrize("name", TRANSCRIPT_FILES)
def test_transcript_both_directions_byte_for_byte(name):
    segments = transcript(name)
    client_side = AMIParser()
    server_side = AMIParser("server")
    got_server = client_side.receive_data(server_bytes(name))
    got_client = server_side.receive_data(client_bytes(name))
    expected_server = [b for d, b in segments if d == SERVER][1:]  # first is the banner
    expected_client = [b for d, b in segments if d == CLIENT]
    assert [m.to_bytes() for m in got_server] == expected_server
    assert [m.to_bytes() for m in got_client] == expected_client
    for msg, raw in zip(got_server, expected_server, strict=True):
        assert msg.pairs == reference_pairs(raw)
        assert msg.kind in ("response", "event")
    assert all(m.kind == "action" for m in got_client)
    assert client_side.buffered == 0 and server_side.buffered == 0


def test_every_read_boundary_gives_the_same_messages():
    # busy stream, split in two at every byte offset: identical messages each time.
    raw = stream_bytes("ami-event-stream-busy.txt")
    whole = AMIParser().receive_data(raw)
    for cut in range(len(raw) + 1):
        p = AMIParser()
        got = p.receive_data(raw[:cut]) + p.receive_data(raw[cut:])
        assert got == whole, cut


def test_one_byte_reads():
    raw = server_bytes("ami-login-and-actions.txt")
    p = AMIParser()
    got = []
    for i in range(len(raw)):
        got += p.receive_data(raw[i : i + 1])
    assert got == AMIParser().receive_data(raw)


def test_utf8_name_split_across_reads():
    msg = "Event: Newcallerid\r\nCallerIDName: João Conceição\r\n\r\n".encode()
    cut = msg.index("ã".encode()) + 1  # inside the two-byte "ã"
    for i in (cut, cut + 1, cut - 1):
        p = AMIParser(expect_banner=False)
        got = p.receive_data(msg[:i]) + p.receive_data(msg[i:])
        assert [m["CallerIDName"] for m in got] == ["João Conceição"]


def test_invalid_utf8_is_replaced_and_counted_not_fatal():
    p = AMIParser(expect_banner=False)
    got = p.receive_data(b"Event: X\r\nCallerIDName: Jo\xe3o\r\n\r\n")
    assert got[0]["CallerIDName"] == "Jo\ufffdo"
    assert p.utf8_replaced == 1


def test_command_output_on_asterisk_22_is_repeated_output_keys():
    # ami-login-and-actions.txt: Command "core show version" answers Response: Success
    # with "Message: Command output follows" and one "Output:" line per CLI line.
    msgs = AMIParser().receive_data(server_bytes("ami-login-and-actions.txt"))
    cmd = next(m for m in msgs if m.action_id == "cmd-1")
    assert cmd.kind == "response" and cmd.name == "Success"
    assert cmd.getall("Output") == [
        "Asterisk 22.10.1 built by root @ vm on a x86_64 running Linux on 2026-11-23 14:34:41 UTC"
    ]


def test_legacy_response_follows_asterisk_13():
    raw = (
        b"Response: Follows\r\nPrivilege: Command\r\nActionID: c1\r\n"
        b"Name/username             Host\n1001/1001                 10.0.0.5\n\n"
        b"--END COMMAND--\r\n\r\n"
        b"Event: Ping\r\nX: 1\r\n\r\n"
    )
    for cut in range(len(raw) + 1):
        p = AMIParser(expect_banner=False)
        msgs = p.receive_data(raw[:cut]) + p.receive_data(raw[cut:])
        assert len(msgs) == 2, cut
        follows, ev = msgs
        assert follows.kind == "response" and follows.name == "Follows"
        assert follows.action_id == "c1"
        assert follows.getall("Output") == [
            "Name/username             Host", "1001/1001                 10.0.0.5", ""
        ]
        assert ev.name == "Ping"


def test_repeated_keys_and_first_value_lookup():
    msgs = AMIParser().receive_data(server_bytes("ami-core-show-channels.txt"))
    status = [m for m in msgs if m.name == "Status" and m.get("Variable")]
    assert status[0].getall("Variable") == ["CENTRAL_ATTEMPT_ID=att-123"]
    m = Message([("Response", "Success"), ("Variable", "A=1"), ("Variable", "B=2")])
    assert m["Variable"] == "A=1" and m.getall("variable") == ["A=1", "B=2"]
    assert m["variable"] == "A=1" and "VARIABLE" in m and "Nope" not in m
    assert m.get("Nope") is None and m.get("Nope", "x") == "x"
    with pytest.raises(KeyError):
        m["Nope"]
    assert m.to_dict() == {"Response": "Success", "Variable": "A=1"}
    assert m.keys() == ["Response", "Variable"] and len(m) == 3


def test_value_with_colon_space_keeps_the_rest():
    # ami-login-and-actions.txt: "Filter: Event: OriginateResponse"
    msgs = AMIParser("server").receive_data(client_bytes("ami-login-and-actions.txt"))
    flt = next(m for m in msgs if m.name == "Filter")
    assert flt["Filter"] == "Event: OriginateResponse"
    assert flt.action_id == "filter-1"


def test_unknown_event_is_just_a_message():
    p = AMIParser(expect_banner=False)
    (m,) = p.receive_data(b"Event: SomethingFromAsterisk99\r\nFoo: bar\r\n\r\n")
    assert m.kind == "event" and m.event == "SomethingFromAsterisk99" and m["Foo"] == "bar"


def test_action_round_trip():
    raw = encode_action(
        "Originate",
        {"Channel": "Local/5511999990006@customers", "Variable": ["CAMPAIGN=demo", "LEADID=42"],
         "Async": "true", "Timeout": 30000, "Skip": None},
        action_id="orig-async-1",
    )
    assert raw == (
        b"Action: Originate\r\nActionID: orig-async-1\r\nChannel: Local/5511999990006@customers\r\n"
        b"Variable: CAMPAIGN=demo\r\nVariable: LEADID=42\r\nAsync: true\r\nTimeout: 30000\r\n\r\n"
    )
    (m,) = AMIParser("server").receive_data(raw)
    assert m.kind == "action" and m.name == "Originate" and m.action_id == "orig-async-1"
    assert m.getall("Variable") == ["CAMPAIGN=demo", "LEADID=42"]
    assert m.to_bytes() == raw


def test_server_side_accepts_bare_lf_and_action_not_first():
    p = AMIParser("server")
    msgs = p.receive_data(b"ActionID: 7\nAction: Ping\n\nAction: Logoff\r")
    assert [(m.name, m.action_id) for m in msgs] == [("Ping", "7")]
    assert p.receive_data(b"\n\r\n")[0].name == "Logoff"


def test_encode_rejects_header_injection():
    with pytest.raises(ProtocolError) as exc:
        encode_action("Originate", {"CallerID": "X\r\nAction: Hangup"})
    assert exc.value.kind == "bad_field" and "line break" in str(exc.value)
    with pytest.raises(ProtocolError):
        encode_message([("Bad: key", "v")])


def test_not_an_ami_server_is_fatal():
    p = AMIParser()
    with pytest.raises(ProtocolError) as exc:
        p.receive_data(b"HTTP/1.1 400 Bad Request\r\n\r\n")
    assert exc.value.kind == "bad_banner" and "HTTP/1.1" in str(exc.value)
    with pytest.raises(ProtocolError):
        p.receive_data(b"Event: X\r\n\r\n")


def test_garbage_block_is_skipped_and_parsing_resumes():
    p = AMIParser(expect_banner=False)
    data = (
        b"Event: A\r\nK: 1\r\n\r\n"
        b"\x00\xff garbage without colon\r\n\r\n"
        b"Event: B\r\nK: 2\r\n\r\n"
    )
    with pytest.raises(ProtocolError) as exc:
        p.receive_data(data)
    assert exc.value.kind == "bad_header" and "garbage without colon" in str(exc.value)
    assert [m.name for m in exc.value.messages] == ["A", "B"]
    assert p.receive_data(b"Event: C\r\n\r\n")[0].name == "C"
    assert p.errors_seen == 1


def test_message_without_kind_is_an_error():
    p = AMIParser(expect_banner=False)
    with pytest.raises(ProtocolError) as exc:
        p.receive_data(b"Foo: bar\r\n\r\nEvent: Ok\r\n\r\n")
    assert exc.value.kind == "no_kind"
    assert [m.name for m in exc.value.messages] == ["Ok"]


def test_unbalanced_block_does_not_misparse():
    # One line without ": " and one value with ": " balance the separator count; the
    # fast path must notice and the strict path must reject the block.
    p = AMIParser(expect_banner=False)
    with pytest.raises(ProtocolError) as exc:
        p.receive_data(b"Event: X\r\ngarbage\r\nFilter: Event: Y\r\n\r\n")
    assert exc.value.kind == "bad_header"


def test_ten_megabyte_line_is_rejected_early_and_parser_resyncs():
    p = AMIParser(expect_banner=False)
    errors = []
    chunk = b"x" * 65536
    p.receive_data(b"Event: Big\r\nValue: ")
    for _ in range(10 * 16):  # 10 MiB in 64 KiB reads
        try:
            p.receive_data(chunk)
        except ProtocolError as exc:
            errors.append(exc)
        assert p.buffered <= MAX_LINE_BYTES + 65536
    assert len(errors) == 1 and errors[0].kind == "line_too_long"
    # the end of the huge message, then a good one
    got = p.receive_data(b"xx\r\nMore: 1\r\n\r\nEvent: After\r\n\r\n")
    assert [m.name for m in got] == ["After"]


def test_ten_megabyte_line_in_one_read():
    p = AMIParser(expect_banner=False)
    with pytest.raises(ProtocolError) as exc:
        p.receive_data(b"Event: Big\r\nValue: " + b"y" * (10 * 1024 * 1024) + b"\r\n\r\nEvent: Ok\r\n\r\n")
    assert exc.value.kind in ("line_too_long", "message_too_long")
    assert [m.name for m in exc.value.messages] == ["Ok"]
    p = AMIParser(expect_banner=False)
    with pytest.raises(ProtocolError) as exc:
        p.receive_data(b"Event: Big\r\nValue: " + b"y" * (MAX_LINE_BYTES + 1) + b"\r\n\r\n")
    assert exc.value.kind == "line_too_long" and "65544 characters" in str(exc.value)


def test_message_without_terminator_is_bounded():
    p = AMIParser(expect_banner=False, max_message=10_000)
    p.receive_data(b"Event: Endless\r\n")
    with pytest.raises(ProtocolError) as exc:
        for i in range(2000):
            p.receive_data(b"Key%d: value\r\n" % i)
    assert exc.value.kind == "message_too_long"
    assert p.buffered <= 3
    assert p.receive_data(b"\r\nEvent: Next\r\n\r\n")[0].name == "Next"


def test_message_without_terminator_just_waits():
    p = AMIParser(expect_banner=False)
    assert p.receive_data(b"Event: Half\r\nKey: v\r\n") == []
    assert p.buffered > 0
    assert p.receive_data(b"\r\n")[0]["Key"] == "v"


def test_server_side_line_limit_is_asterisks():
    p = AMIParser("server")
    with pytest.raises(ProtocolError) as exc:
        p.receive_data(b"Action: Ping\r\nX: " + b"a" * (MAX_ACTION_LINE_BYTES + 10) + b"\r\n\r\n")
    assert exc.value.kind == "line_too_long"


def test_extra_blank_lines_between_messages_are_ignored():
    p = AMIParser(expect_banner=False)
    got = p.receive_data(b"Event: A\r\n\r\n\r\n\r\nEvent: B\r\n\r\n")
    assert [m.name for m in got] == ["A", "B"]


# ---------------------------------------------------------------- property tests
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_CONGESTION = stream_bytes("ami-event-stream-congestion.txt")
_CONGESTION_MSGS = AMIParser().receive_data(_CONGESTION)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(_CONGESTION)), max_size=12))
def test_any_chunking_gives_the_same_messages(cuts):
    p = AMIParser()
    got = []
    last = 0
    for cut in sorted(cuts) + [len(_CONGESTION)]:
        got += p.receive_data(_CONGESTION[last:cut])
        last = cut
    assert got == _CONGESTION_MSGS


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.sampled_from(["client", "server"]))
def test_random_bytes_only_ever_raise_protocol_error(data, role):
    p = AMIParser(role, expect_banner=False, max_line=64, max_message=256)
    for chunk in (data[: len(data) // 2], data[len(data) // 2 :], b"\r\n\r\nEvent: Ok\r\n\r\n"):
        try:
            msgs = p.receive_data(chunk)
        except ProtocolError as exc:
            msgs = exc.messages
        assert all(isinstance(m, Message) for m in msgs)
    # the parser always finds its way back: after a blank line (and the end of a
    # legacy Follows body, in case the noise opened one) a good message is parsed
    try:
        got = p.receive_data(b"\r\n\r\n--END COMMAND--\r\n\r\nEvent: After\r\n\r\n")
    except ProtocolError as exc:
        got = exc.messages
    assert got[-1].name == "After"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(
    st.text(alphabet=st.characters(blacklist_characters=":\r\n", blacklist_categories=("Cs",)),
            min_size=1, max_size=12).filter(lambda k: k == k.strip()),
    st.text(alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)),
            max_size=30),
), max_size=8))
def test_encode_then_parse_round_trips(fields):
    pairs = [("Event", "Fuzz")] + fields
    raw = encode_message(pairs)
    (m,) = AMIParser(expect_banner=False).receive_data(raw)
    assert m.pairs == pairs


def test_lookup_rules():
    m = Message([("Event", "X"), ("Value", "\x00Key"), ("Key", "real"), ("UniqueID", "u1")])
    assert m.get("Key") == "real" and m["Key"] == "real"  # a value is never a key
    assert m.get("Uniqueid") == "u1" and m.get_exact("Uniqueid") is None
    assert m.get_exact("UniqueID") == "u1" and m.get_exact("UniqueID", within=2) is None
