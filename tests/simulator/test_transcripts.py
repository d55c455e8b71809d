"""Replay the client side of each AMI transcript against the simulator, over TCP, and
compare every answer's shape (kind, name, keys in order, fixed Message text) with what
Asterisk 22.10.1 sent in the same place."""

from __future__ import annotations

import asyncio

import pytest

from central.simulator import Simulator, SimulatorConfig, WorldConfig
from central.simulator.config import ExtensionConfig
from central.telephony.ami.protocol import AMIParser, Message
from tests.simulator.amiclient import RawAMI
from tests.telephony.fixtures import CLIENT, transcript

# Touches neither the database nor Redis (checked: passes with neither reachable),
# so it runs only in the SQLite pass.
pytestmark = pytest.mark.backend_free

# Values that are the same on every Asterisk (not ids, times or counts).
FIXED_VALUES = ("Response", "Message", "EventList", "Ping", "StatusText", "Hint", "Reason")


def shape(msg: Message) -> tuple:
    fixed = tuple((k, v) for k, v in msg.pairs if k in FIXED_VALUES)
    return (msg.kind, msg.name, tuple(k for k, _ in msg.pairs), fixed)


def collapse(shapes: list[tuple]) -> list[tuple]:
    """Runs of identical shapes count once: list lengths (3 queue members vs 5, 6 device
    states vs 7) depend on the configuration, the shape of each item does not."""
    out: list[tuple] = []
    for s in shapes:
        if not out or out[-1] != s:
            out.append(s)
    return out


def exchanges(name: str) -> list[tuple[bytes, list[Message]]]:
    """[(client bytes, [server messages that followed]), ...]."""
    out: list[tuple[bytes, list[Message]]] = []
    parser = AMIParser()
    for direction, data in transcript(name):
        if direction == CLIENT:
            out.append((data, []))
        else:
            msgs = parser.receive_data(data)
            if out:
                out[-1][1].extend(msgs)
    return out


def config(**world) -> SimulatorConfig:
    numbers = {
        "5511999990001": "answer", "5511999990006": "answer", "5511999990002": "busy",
        "5511999990004": "congestion", "5511999990003": "noanswer",
    }
    return SimulatorConfig(
        clock="manual",
        users={"central": "central-test"},
        world=WorldConfig(agents=3, numbers=numbers, talk_time_mean=world.get("talk", 90000.0)),
        extensions=ExtensionConfig(extensions=["1001", "1002", "1003"]),
        login_failure_delay=0.05,
    )


async def replay(sim: Simulator, conn: RawAMI, name: str) -> None:
    for sent, expected in exchanges(name):  # the banner precedes the first exchange
        conn.send_raw(sent)
        want = collapse([shape(m) for m in expected])
        got: list[Message] = []
        for _ in range(200):
            await conn.pump(0.01)
            got, conn.inbox = got + conn.inbox, []
            if len(collapse([shape(m) for m in got])) >= len(want) or conn.eof:
                break
            await sim.advance(1.0)  # a sync Originate answers only when the call does
        await conn.pump(0.02)
        got += conn.inbox
        conn.inbox = []
        assert collapse([shape(m) for m in got]) == want, sent.decode()


@pytest.mark.parametrize("name", ["ami-login-and-actions.txt", "ami-queue-actions.txt",
                                  "ami-extension-state.txt"])
async def test_transcript_shapes(name: str) -> None:
    async with Simulator(config()) as sim:
        conn = await RawAMI.connect(sim.host, sim.port)
        await conn.pump(0.05)
        assert conn.parser.banner == "Asterisk Call Manager/11.0.0"
        await replay(sim, conn, name)
        assert conn.eof or await conn.read_to_eof(1.0) == []
        await conn.close()


async def test_core_show_channels_transcript() -> None:
    """ami-core-show-channels.txt: a call bridged to an agent, placed on another
    connection with ChannelId att-123-leg1 and CENTRAL_ATTEMPT_ID, then inspected."""
    async with Simulator(config()) as sim:
        other = await RawAMI.connect(sim.host, sim.port)
        await other.login(secret="central-test", events="off")
        other.send("Originate", {
            "Channel": "Local/5511999990001@customers", "Context": "discador-out",
            "Exten": "5511999990001", "Priority": "1", "Timeout": "30000",
            "CallerID": '"Central" <1000>', "Variable": "CENTRAL_ATTEMPT_ID=att-123",
            "Async": "true", "ChannelId": "att-123-leg1", "OtherChannelId": "att-123-leg2",
        }, "orig")
        assert (await other.response("orig"))["Response"] == "Success"
        await sim.advance(40)
        assert sim.pbx.current_calls() == 1 and len(sim.pbx.renderer.channels) == 4
        conn = await RawAMI.connect(sim.host, sim.port)
        await conn.pump(0.05)
        await replay(sim, conn, "ami-core-show-channels.txt")
        await conn.close()
        await other.close()


async def test_login_failure_transcript() -> None:
    """ami-login-failure.txt: Error after the delay, then the server closes."""
    cfg = config()
    cfg.login_failure_delay = 0.3
    async with Simulator(cfg) as sim:
        conn = await RawAMI.connect(sim.host, sim.port)
        await conn.pump(0.05)
        (bad, expected), (ping, _) = exchanges("ami-login-failure.txt")
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        conn.send_raw(bad)
        got = await conn.wait_for(lambda m: m.kind == "response", 2.0)
        assert loop.time() - t0 >= 0.3
        assert shape(got) == shape(expected[0])
        conn.send_raw(ping)
        assert await conn.read_to_eof(2.0) == []
        assert conn.eof


LISTENER_STREAMS = {
    "ami-queue-actions.txt": "ami-queue-member-pause.txt",
    "ami-extension-state.txt": "ami-event-stream-extension-state.txt",
}
MEANINGFUL = ("Device", "State", "Queue", "MemberName", "Interface", "StateInterface",
              "Membership", "Penalty", "Status", "Paused", "PausedReason", "Exten", "Context",
              "Hint", "StatusText")


def listener_view(msgs: list[Message]) -> list[tuple]:
    return [(m.name, tuple(k for k, _ in m.pairs), tuple((k, m[k]) for k in MEANINGFUL if k in m))
            for m in msgs if m.kind == "event" and m.name not in ("FullyBooted", "SuccessfulAuth")]


@pytest.mark.parametrize("name", sorted(LISTENER_STREAMS))
async def test_broadcast_events_match_the_listener_stream(name: str) -> None:
    """What a listener sees while the transcript's actions run: the same events, in the
    same order, as the listener captured next to that transcript."""
    from tests.telephony.fixtures import stream_bytes

    async with Simulator(config()) as sim:
        listener = await RawAMI.connect(sim.host, sim.port)
        await listener.login(secret="central-test")
        conn = await RawAMI.connect(sim.host, sim.port)
        await conn.pump(0.05)
        await replay(sim, conn, name)
        listener.send("Logoff", None, "bye")
        got = await listener.read_to_eof()
    expected = AMIParser().receive_data(stream_bytes(LISTENER_STREAMS[name]))
    assert listener_view(got) == listener_view(expected)
