"""The asyncio AMI client over real TCP against a server replaying the Asterisk captures.

``ReplayAMI`` is a tiny AMI server: it sends the banner, checks the login, and answers
each action with the server messages that followed the same action in the fixture
transcripts (ActionID rewritten to the client's). Hooks make it drop the connection
mid-action, ignore Pings, or push event streams.
"""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from prometheus_client import REGISTRY

from central.telephony.ami.client import (
    CONNECTED_EVENT,
    DISCONNECTED_EVENT,
    AMIClient,
)
from central.telephony.ami.errors import (
    ActionNotConfirmed,
    AuthenticationFailed,
    ClientClosed,
    NotConnected,
    OriginateOutcomeUnknown,
)
from central.telephony.ami.protocol import AMIParser, Message, encode_message
from tests.support import free_port

from .fixtures import CLIENT, stream_bytes, transcript

# Touches neither the database nor Redis (checked: passes with neither reachable),
# so it runs only in the SQLite pass.
pytestmark = pytest.mark.backend_free

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
MATCH_KEYS = ("Channel", "Context", "Async", "Queue", "Interface", "Command", "Exten")


def load_exchanges(*names: str) -> list[tuple[Message, list[Message]]]:
    out: list[tuple[Message, list[Message]]] = []
    for name in names:
        for direction, raw in transcript(name):
            if direction == CLIENT:
                (action,) = AMIParser("server").receive_data(raw)
                out.append((action, []))
            elif out:  # the first server segment is the banner
                out[-1][1].extend(AMIParser(expect_banner=False).receive_data(raw))
    return out


class ReplayAMI:
    def __init__(self, *transcripts: str, secret: str = "central-test") -> None:
        self.exchanges = load_exchanges(*transcripts or ("ami-login-and-actions.txt",))
        self.secret = secret
        self.drop_on: set[str] = set()  # action names answered by closing the socket
        self.drop_once: set[str] = set()  # the same, for the first such action only
        self.silent: set[str] = set()  # action names never answered
        self.received: list[Message] = []
        self.connections = 0
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> ReplayAMI:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc) -> None:
        assert self.server is not None
        self.server.close()
        for w in self.writers:
            w.close()
        await self.server.wait_closed()

    def push(self, data: bytes) -> None:
        for w in self.writers:
            if not w.is_closing():
                w.write(data)

    def answer(self, action: Message) -> list[Message]:
        for fixture_action, replies in self.exchanges:
            if fixture_action.name != action.name:
                continue
            if all(fixture_action.get(k) == action.get(k) for k in MATCH_KEYS
                   if k in fixture_action or k in action):
                old, new = fixture_action.action_id, action.action_id
                return [
                    Message([(k, new if k == "ActionID" and v == old else v) for k, v in m.pairs])
                    for m in replies
                ]
        return [Message([("Response", "Error"), ("ActionID", action.action_id or ""),
                         ("Message", f"Invalid/unknown command: {action.name}.")])]

    async def _handle(self, reader, writer) -> None:
        self.connections += 1
        self.writers.append(writer)
        writer.write(BANNER)
        parser = AMIParser("server")
        challenge = "840415273"
        try:
            while data := await reader.read(65536):
                for action in parser.receive_data(data):
                    self.received.append(action)
                    aid = action.action_id or ""
                    if action.name == "Challenge":
                        writer.write(encode_message([("Response", "Success"), ("ActionID", aid),
                                                     ("Challenge", challenge)]))
                    elif action.name == "Login":
                        key = hashlib.md5((challenge + self.secret).encode()).hexdigest()
                        if action.get("Secret") == self.secret or action.get("Key") == key:
                            writer.write(encode_message([
                                ("Response", "Success"), ("ActionID", aid),
                                ("Message", "Authentication accepted")]))
                            # ami-login-and-actions.txt: FullyBooted follows the login
                            writer.write(encode_message([
                                ("Event", "FullyBooted"), ("Privilege", "system,all"),
                                ("Uptime", "71"), ("LastReload", "71"),
                                ("Status", "Fully Booted")]))
                        else:
                            # ami-login-failure.txt: Error, then the server hangs up.
                            writer.write(encode_message([
                                ("Response", "Error"), ("ActionID", aid),
                                ("Message", "Authentication failed")]))
                            await writer.drain()
                            writer.close()
                            return
                    elif action.name in self.drop_on or action.name in self.drop_once:
                        self.drop_once.discard(action.name)
                        writer.transport.abort()
                        return
                    elif action.name in self.silent:
                        pass
                    elif action.name == "Ping":
                        writer.write(encode_message([("Response", "Success"), ("ActionID", aid),
                                                     ("Ping", "Pong")]))
                    else:
                        for m in self.answer(action):
                            writer.write(m.to_bytes())
                await writer.drain()
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass  # client went away, or the test ended and the loop is closing
        finally:
            writer.close()


def client_for(server: ReplayAMI, **kw) -> AMIClient:
    kw.setdefault("backoff_initial", 0.01)
    kw.setdefault("backoff_max", 0.05)
    kw.setdefault("ping_interval", None)
    kw.setdefault("action_timeout", 5)
    return AMIClient("127.0.0.1", server.port, "central", kw.pop("secret", "central-test"), **kw)


async def eventually(predicate, timeout: float = 10.0) -> None:
    """Wait for a condition reached through real sockets (generous for loaded CI)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


def metric(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_login_ping_and_plain_actions():
    async with ReplayAMI() as srv, client_for(srv) as client:
        assert client.banner == "Asterisk Call Manager/11.0.0"
        pong = await client.ping()
        assert pong.name == "Success" and pong["Ping"] == "Pong"
        status = await client.send_action("CoreStatus")
        assert status["CoreCurrentCalls"] == "0"
        cmd = await client.send_action("Command", {"Command": "core show version"})
        assert cmd.getall("Output")[0].startswith("Asterisk 22.10.1")
        bad = await client.send_action("FooBarNoSuchAction")
        assert bad.name == "Error" and "Invalid/unknown command" in bad["Message"]
        login = srv.received[0]
        assert login.name == "Login" and login["Username"] == "central"
        assert login["Events"] == "on"
        # every action carried its own, distinct ActionID
        ids = [m.action_id for m in srv.received]
        assert len(set(ids)) == len(ids) and all(ids)


async def test_md5_login():
    async with ReplayAMI() as srv, client_for(srv, auth="md5") as client:
        assert (await client.ping())["Ping"] == "Pong"
        names = [m.name for m in srv.received[:2]]
        assert names == ["Challenge", "Login"]
        assert "Secret" not in srv.received[1] and srv.received[1]["AuthType"] == "MD5"


async def test_login_failure_is_reported_and_not_retried():
    async with ReplayAMI() as srv:
        client = client_for(srv, secret="wrong-secret")
        with pytest.raises(AuthenticationFailed, match="Authentication failed"):
            await asyncio.wait_for(client.start(), 5)
        # not retried: its connection loop has ended (rather than sleeping in a backoff)
        await asyncio.wait_for(client._task, 10)
        assert srv.connections == 1
        with pytest.raises(NotConnected):
            await client.ping()
        await client.close()


async def test_list_actions_collect_until_complete():
    async with ReplayAMI("ami-login-and-actions.txt", "ami-extension-state.txt") as srv, \
            client_for(srv) as client:
        sub = client.subscribe()
        qs = await client.send_list_action("QueueStatus", {"Queue": "sales"})
        assert qs.ok and [e.name for e in qs.events] == ["QueueParams"] + ["QueueMember"] * 3
        assert qs.complete is not None and qs.complete.name == "QueueStatusComplete"
        assert qs.complete["ListItems"] == "4"
        csc = await client.send_list_action("CoreShowChannels")
        assert len(csc.events) == 4 and csc.complete["ListItems"] == "4"
        assert {e["Linkedid"] for e in csc.events} == {"1795445705.0"}
        esl = await client.send_list_action("ExtensionStateList")
        assert esl.events and all(e.name == "ExtensionStatus" for e in esl.events)
        assert esl.complete.name == "ExtensionStateListComplete"
        dsl = await client.send_list_action("DeviceStateList")
        assert dsl.events and all(e.name == "DeviceStateChange" for e in dsl.events)
        # list events are answers, never broadcast
        await client.ping()
        assert (await sub.get(1)).name == CONNECTED_EVENT
        assert sub._queue.empty()


async def test_originate_outcomes():
    async with ReplayAMI() as srv, client_for(srv) as client:
        answered = await client.originate(
            "Local/5511999990006@customers", context="discador-out", exten="5511999990006",
            caller_id='"Discador" <1100>', variables={"CAMPAIGN": "demo", "LEADID": "42"},
            channel_id="dialer-0001-a", other_channel_id="dialer-0001-b",
        )
        assert answered.outcome == "answered" and answered.reason == 4 and answered.answered
        assert answered.uniqueid == "dialer-0001-a"
        sent = srv.received[-1]
        assert sent["Async"] == "true" and sent["ChannelId"] == "dialer-0001-a"
        assert sent["OtherChannelId"] == "dialer-0001-b"
        assert sent.getall("Variable") == ["CAMPAIGN=demo", "LEADID=42"]

        async def outcome(number: str, context: str = "customers", ctx: str = "discador-out"):
            return await client.originate(f"Local/{number}@{context}", context=ctx, exten=number)

        busy = await outcome("5511999990002")
        assert (busy.outcome, busy.reason, busy.uniqueid) == ("busy", 5, None)
        cong = await outcome("5511999990004")
        assert (cong.outcome, cong.reason) == ("congestion", 8)
        noans = await outcome("5511999990003")
        assert (noans.outcome, noans.reason) == ("no_answer", 3)
        failed = await outcome("5511999990001", context="nonexistent-ctx")
        assert (failed.outcome, failed.reason, failed.response) == ("failed", 0, "Failure")
        rejected = await outcome("5511999990001", ctx="nonexistent-ctx")
        assert rejected.outcome == "rejected" and rejected.message == "Extension does not exist."


async def test_originate_response_is_also_broadcast():
    async with ReplayAMI() as srv, client_for(srv) as client:
        seen: list[Message] = []
        client.add_listener(seen.append)
        await client.originate("Local/5511999990002@customers", context="discador-out",
                               exten="5511999990002")
        assert [m.name for m in seen] == ["OriginateResponse"]


async def test_drop_mid_action_fails_it_and_never_resends():
    async with ReplayAMI() as srv:
        srv.drop_on.add("Originate")
        before = metric("central_ami_actions_not_confirmed_total", server="drop", action="Originate")
        client = client_for(srv, name="drop")
        await client.start()
        events = client.subscribe()
        assert (await events.get(5)).name == CONNECTED_EVENT
        with pytest.raises(OriginateOutcomeUnknown) as exc:
            await client.originate("Local/5511999990006@customers", context="discador-out",
                                   exten="5511999990006", channel_id="att-9-leg1")
        assert exc.value.channel_id == "att-9-leg1"
        assert "NOT re-sent" in str(exc.value) and isinstance(exc.value, ActionNotConfirmed)
        assert (await events.get(5)).name == DISCONNECTED_EVENT
        assert (await events.get(5)).name == CONNECTED_EVENT  # reconnected by itself
        assert (await client.ping())["Ping"] == "Pong"
        assert srv.connections == 2
        assert [m.name for m in srv.received].count("Originate") == 1
        after = metric("central_ami_actions_not_confirmed_total", server="drop", action="Originate")
        assert after == before + 1
        await client.close()


async def test_plain_action_dropped_raises_action_not_confirmed():
    async with ReplayAMI() as srv:
        srv.drop_on.add("CoreStatus")
        async with client_for(srv) as client:
            with pytest.raises(ActionNotConfirmed) as exc:
                await client.send_action("CoreStatus")
            assert exc.value.action == "CoreStatus"
            await asyncio.wait_for(client.connected.wait(), 10)
            srv.drop_on.clear()
            assert (await client.send_action("CoreStatus"))["CoreCurrentCalls"] == "0"
            assert [m.name for m in srv.received].count("CoreStatus") == 2  # 1 per call


async def test_keepalive_reconnects_a_silent_server():
    async with ReplayAMI() as srv:
        srv.silent.add("Ping")
        async with client_for(srv, ping_interval=0.05, ping_timeout=0.05) as client:
            await eventually(lambda: srv.connections >= 2)
            assert client.connections >= 1


async def test_events_are_delivered_in_order_and_garbage_is_counted():
    stream = stream_bytes("ami-event-stream-busy.txt")
    events_raw = stream[len(BANNER):]
    expected = [m for m in AMIParser(expect_banner=False).receive_data(events_raw)
                if m.kind == "event"]
    async with ReplayAMI() as srv, client_for(srv, name="ev") as client:
        sub = client.subscribe()
        assert (await sub.get(5)).name == CONNECTED_EVENT
        before = metric("central_ami_protocol_errors_total", server="ev", kind="bad_header")
        srv.push(b"garbage without a colon\r\n\r\n")
        # the fixture's own Login/Logoff responses are not ours: not broadcast
        srv.push(events_raw)
        got = [await sub.get(5) for _ in expected]
        assert got == expected
        assert metric("central_ami_protocol_errors_total", server="ev",
                      kind="bad_header") == before + 1
        assert (await client.ping())["Ping"] == "Pong"


async def test_slow_subscriber_is_bounded_and_told():
    async with ReplayAMI() as srv, client_for(srv) as client:
        sub = client.subscribe(maxsize=5)
        srv.push(b"".join(b"Event: E%d\r\n\r\n" % i for i in range(20)))
        await client.ping()
        names = [(await sub.get(1)).name for _ in range(5)]
        assert names == [CONNECTED_EVENT, "E0", "E1", "E2", "E3"]
        srv.push(b"Event: Later\r\n\r\n")
        await client.ping()
        lost = await sub.get(1)
        assert lost.name == "CentralAMIEventsLost" and lost["Count"] == "16"
        assert (await sub.get(1)).name == "Later"


async def test_not_connected_is_raised_without_sending():
    client = AMIClient("127.0.0.1", 9, "u", "s", reconnect=False, connect_timeout=1)
    with pytest.raises(OSError):
        await client.start()
    with pytest.raises(NotConnected):
        await client.send_action("Ping")
    await client.close()


def test_backoff_grows_with_full_jitter_and_caps():
    import random

    c = AMIClient("h", 1, "u", "s", backoff_initial=0.5, backoff_max=30, rng=random.Random(1))
    delays = [c._backoff(a) for a in range(12)]
    for a, d in enumerate(delays):
        cap = min(30, 0.5 * 2**a)
        assert cap / 2 <= d <= cap
    assert max(delays) <= 30 and delays[-1] >= 15


async def test_close_fails_pending_actions_and_releases_start():
    async with ReplayAMI() as srv:
        srv.silent.add("CoreStatus")
        client = client_for(srv)
        await client.start()
        pending = asyncio.create_task(client.send_action("CoreStatus"))
        await eventually(lambda: srv.received[-1].name == "CoreStatus")
        await client.close()
        # it was written and never answered: it may have run, so "not confirmed"
        with pytest.raises(ActionNotConfirmed):
            await pending
        await eventually(lambda: srv.received[-1].name == "Logoff")
    # start() on a client whose server never answers is released by close()
    never = AMIClient("127.0.0.1", free_port(), "u", "s", backoff_initial=0.01, backoff_max=0.02)
    waiter = asyncio.create_task(never.start())
    await eventually(lambda: never.last_error is not None)  # it is in its reconnect loop
    await never.close()
    with pytest.raises(ClientClosed):
        await waiter
    with pytest.raises(ClientClosed):  # and so is any later start()
        await never.start()


async def _close_after(client: AMIClient, turns: int) -> BaseException | None:
    """Start ``client``, let the loop run ``turns`` times, close it: what start() got."""
    waiter = asyncio.create_task(client.start())
    for _ in range(turns):
        await asyncio.sleep(0)
    closing = asyncio.create_task(client.close())
    await asyncio.wait({closing, waiter}, timeout=10)  # generous: each takes a few loop turns
    assert closing.done(), f"turn {turns}: close() waited for a connection it had cancelled"
    assert waiter.done(), f"turn {turns}: close() did not release start()"
    await closing
    assert client._task is None or client._task.done()
    assert not client.connected.is_set()
    return waiter.exception()


async def test_close_in_any_loop_turn_of_a_connect_releases_start_with_client_closed():
    """close() at every loop turn of a first connection attempt, stepped with sleep(0)
    (no wall clock involved). Python 3.11's wait_for swallowed a cancel landing in the
    turn its inner connect finished in; the client then handed start() the refused
    connect (ConnectionRefusedError at turns 4-6 here) instead of ClientClosed, or, on a
    server that accepts, went on to log in while close() waited for it. A client closed
    before its start() ran made start() wait forever."""
    refused_port = free_port()
    never_started = AMIClient("127.0.0.1", refused_port, "u", "s")
    await never_started.close()
    with pytest.raises(ClientClosed):  # it used to wait forever: the loop never ran
        async with asyncio.timeout(10):
            await never_started.start()
    for turns in range(40):
        refused = AMIClient("127.0.0.1", refused_port, "u", "s", backoff_initial=60, backoff_max=60)
        got = await _close_after(refused, turns)
        assert isinstance(got, ClientClosed), (turns, got)
    async with ReplayAMI() as srv:
        outcomes = set()
        for turns in range(40):
            got = await _close_after(client_for(srv, backoff_initial=60, backoff_max=60), turns)
            assert got is None or isinstance(got, ClientClosed), (turns, got)
            outcomes.add(type(got).__name__)
        assert outcomes == {"ClientClosed", "NoneType"}  # closed mid-connect, and after login


async def test_panoramisk_would_dial_twice_after_a_reconnect():
    """The evidence behind writing our own client (see client.py's docstring): with
    panoramisk 1.4 an Originate that reached the server before the connection dropped
    is written again on the new connection once FullyBooted arrives."""
    from panoramisk import Manager

    async with ReplayAMI() as srv:
        srv.drop_once.add("Originate")
        manager = Manager(host="127.0.0.1", port=srv.port, username="central",
                          secret="central-test", reconnect_timeout=0, ping_delay=3600,
                          loop=asyncio.get_running_loop())
        await manager.connect()
        await eventually(lambda: manager.authenticated)
        manager.send_action({"Action": "Originate", "Channel": "Local/5511999990006@customers",
                             "Context": "discador-out", "Exten": "5511999990006",
                             "Priority": "1", "Async": "true"})
        await eventually(lambda: [m.name for m in srv.received].count("Originate") >= 2)
        manager.close()
        assert srv.connections == 2
        assert [m.name for m in srv.received].count("Originate") == 2  # dialled twice
