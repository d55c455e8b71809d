"""Asyncio AMI client: one long-lived, self-healing connection to one Asterisk.

A thin adapter around the sans-I/O codec (``protocol.py``): it owns the socket, the
ActionID table, keepalive and reconnection; every byte is parsed by ``AMIParser`` and
written by ``encode_action``.

Why not panoramisk (1.4, the only release since 2021, read in .venv/.../panoramisk):

* It re-sends unanswered actions after a reconnect. ``AMIProtocol.close()``
  (panoramisk/ami_protocol.py) moves every pending action with no response yet into
  ``factory.awaiting_actions`` (only ``ping``/``login`` are "forgetable"), and
  ``Manager.__init__`` registers ``send_awaiting_actions`` on the ``FullyBooted`` event
  (panoramisk/manager.py), which writes them again on the new connection. An Originate
  whose bytes reached Asterisk just before the TCP connection dropped is then executed
  twice: the customer is dialled twice (reproduced over TCP by
  tests/telephony/test_ami_client.py::test_panoramisk_would_dial_twice_after_a_reconnect).
  Central's rule is the opposite: an action that
  may have reached Asterisk fails with :class:`ActionNotConfirmed` and the caller
  reconciles.
* Its parser decodes each read separately with ``bytes.decode(encoding, 'ignore')``
  (ami_protocol.py ``data_received``), so a character split between two reads is
  silently dropped: fed "João" cut inside the "ã", it yields "Joo" (checked against
  panoramisk 1.4 with the Manager's default ``utf8``). It has no line or message size
  limit (``self.queue`` grows until a blank line arrives), and it is ~3.5x slower than
  ``protocol.py`` on the same bytes (bench/ami_parse.py).
* Reconnect is a fixed ``reconnect_timeout`` (2 s) without backoff or jitter, so a fleet
  of dialers reconnects in lockstep after an Asterisk restart.
Writing the client is a few hundred lines on top of a codec we need anyway for the
simulator, and it lets the codec's limits and errors reach our metrics.

Connection state reaches subscribers in-band, as synthetic events with the names
:data:`CONNECTED_EVENT` and :data:`DISCONNECTED_EVENT`, so a consumer sees them in order
with the real events (after a reconnect, live state must be resynchronised with
``CoreShowChannels``/``QueueStatus``/``ExtensionStateList``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import logging
import random
import secrets
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field

from prometheus_client import Counter

from .errors import (
    ActionNotConfirmed,
    ActionTimeout,
    AMIError,
    AuthenticationFailed,
    ClientClosed,
    NotConnected,
    OriginateOutcomeUnknown,
)
from .protocol import AMIParser, Message, ProtocolError, encode_action

__all__ = [
    "CONNECTED_EVENT",
    "DISCONNECTED_EVENT",
    "EVENTS_LOST_EVENT",
    "AMIClient",
    "ListResponse",
    "OriginateResult",
    "ORIGINATE_REASONS",
]

log = logging.getLogger(__name__)

CONNECTED_EVENT = "CentralAMIConnected"
DISCONNECTED_EVENT = "CentralAMIDisconnected"
EVENTS_LOST_EVENT = "CentralAMIEventsLost"

# Module-level metrics, default registry (the web process exposes it on /metrics).
PROTOCOL_ERRORS = Counter(
    "central_ami_protocol_errors", "Malformed AMI input skipped by the parser", ["server", "kind"]
)
RECONNECTS = Counter("central_ami_reconnects", "AMI connections (re)established", ["server"])
NOT_CONFIRMED = Counter(
    "central_ami_actions_not_confirmed",
    "Actions failed because the connection dropped after they were written",
    ["server", "action"],
)
EVENTS_DROPPED = Counter(
    "central_ami_events_dropped", "Events dropped because a subscriber was too slow", ["server"]
)
LISTENER_ERRORS = Counter(
    "central_ami_listener_errors", "Exceptions raised by event listeners", ["server"]
)

# OriginateResponse "Reason" = the last AST_CONTROL_* frame seen on the outgoing channel
# (include/asterisk/frame.h). ami-login-and-actions.txt shows 4 (answered), 5 (busy),
# 8 (congestion), 3 (no answer after Timeout) and 0 (failed: bad channel, or a network
# hangup with cause 19, see ami-event-stream-noanswer-cause19.txt).
ORIGINATE_REASONS: dict[int, str] = {
    0: "failed",
    1: "hangup",
    2: "ring",
    3: "no_answer",
    4: "answered",
    5: "busy",
    8: "congestion",
}

_LIST_END_SUFFIX = "Complete"


@dataclass(slots=True)
class ListResponse:
    """Answer of a list action: the Response plus the events up to ``...Complete``."""

    response: Message
    events: list[Message] = field(default_factory=list)
    complete: Message | None = None

    @property
    def ok(self) -> bool:
        return self.response.name == "Success"


@dataclass(slots=True)
class OriginateResult:
    """How an ``Async: true`` Originate ended.

    ``outcome`` is ``rejected`` when Asterisk refused the action itself
    (``Response: Error``, e.g. "Extension does not exist."), otherwise the
    OriginateResponse Reason name (:data:`ORIGINATE_REASONS`). ``uniqueid`` is None when
    Asterisk reports ``<unknown>`` (every failed originate in the fixtures). The CDR, not
    this result, has the final word on a call's disposition: Reason 0 also covers a
    network "no answer" (cause 19).
    """

    action_id: str
    outcome: str
    reason: int | None
    response: str
    channel: str | None
    uniqueid: str | None
    channel_id: str | None
    other_channel_id: str | None
    message: str | None = None

    @property
    def answered(self) -> bool:
        return self.outcome == "answered"


class _Pending:
    __slots__ = ("name", "future", "list_result", "collect", "originate", "response")

    def __init__(self, name: str, future: asyncio.Future, collect: bool, originate: bool):
        self.name = name
        self.future = future
        self.collect = collect  # gather events with this ActionID until ...Complete
        self.list_result: ListResponse | None = None
        self.originate = originate  # wait for OriginateResponse after the Response
        self.response: Message | None = None


class EventSubscription:
    """Async iterator over events, fed by the client; bounded so a stalled consumer
    cannot grow memory without limit. When it overflows, events are dropped and
    counted, and the consumer receives one :data:`EVENTS_LOST_EVENT` before the next
    event (``Count:`` says how many), so it knows to resynchronise."""

    def __init__(self, client: AMIClient, maxsize: int, names: frozenset[str] | None):
        self._client = client
        self._queue: asyncio.Queue[Message | None] = asyncio.Queue(maxsize)
        self._names = names
        self._lost = 0
        self.closed = False

    def _push(self, msg: Message) -> None:
        if self.closed or (self._names is not None and msg.name not in self._names
                           and not msg.name.startswith("CentralAMI")):
            return
        q = self._queue
        if self._lost and q.qsize() < q.maxsize - 1:
            q.put_nowait(Message([("Event", EVENTS_LOST_EVENT), ("Count", str(self._lost))]))
            self._lost = 0
        if q.full():
            self._lost += 1
            EVENTS_DROPPED.labels(self._client.name).inc()
            return
        q.put_nowait(msg)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._client._subscriptions.discard(self)
            with contextlib.suppress(asyncio.QueueFull):
                self._queue.put_nowait(None)

    def __aiter__(self) -> EventSubscription:
        return self

    async def __anext__(self) -> Message:
        if self.closed and self._queue.empty():
            raise StopAsyncIteration
        msg = await self._queue.get()
        if msg is None:
            raise StopAsyncIteration
        return msg

    async def get(self, timeout: float | None = None) -> Message:
        """Next event, or TimeoutError."""
        async with asyncio.timeout(timeout):
            return await self.__anext__()


class AMIClient:
    """One AMI connection with login, ActionID correlation, keepalive and reconnect.

    Usage::

        client = AMIClient("127.0.0.1", 5038, "central", secret, name="pbx1")
        await client.start()                      # connects and logs in (or raises)
        events = client.subscribe()
        pong = await client.send_action("Ping")
        channels = await client.send_list_action("CoreShowChannels")
        result = await client.originate("Local/5511999990001@customers", context="discador-out",
                                        exten="5511999990001", channel_id="att-123-leg1")
        await client.close()

    Guarantee: an action is written at most once. If the connection drops after the
    write and before the answer, the awaiting caller gets :class:`ActionNotConfirmed`
    (an :class:`OriginateOutcomeUnknown` for an accepted Originate). Actions attempted
    while disconnected raise :class:`NotConnected` without touching any socket.
    """

    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        secret: str,
        *,
        name: str = "default",
        events: bool = True,
        event_filters: Iterable[str] = (),
        auth: str = "plain",
        connect_timeout: float = 10.0,
        action_timeout: float = 30.0,
        ping_interval: float | None = 20.0,
        ping_timeout: float = 10.0,
        reconnect: bool = True,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        rng: random.Random | None = None,
    ) -> None:
        if auth not in ("plain", "md5"):
            raise ValueError("auth must be 'plain' or 'md5'")
        self.host, self.port = host, port
        self.username, self._secret = username, secret
        self.name = name
        self.events_on = events
        #: ``Action: Filter`` regexes sent after every login (manager.c ``action_filter``:
        #: a session with include filters gets only the events that match one). A
        #: connection that only sends actions still needs ``Events: on``: Asterisk sends
        #: an async Originate's ``OriginateResponse`` as an event, and an ``Events: off``
        #: session gets none (ami-login-and-actions.txt logs in with ``Events: on`` and
        #: ``Filter: Event: OriginateResponse``).
        self.event_filters = tuple(event_filters)
        self.auth = auth
        self.connect_timeout = connect_timeout
        self.action_timeout = action_timeout
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.reconnect = reconnect
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self._rng = rng or random.Random()
        self._ids = itertools.count(1)
        # ActionIDs are unique per client instance and never reused across reconnects,
        # so a stale answer can never be matched to a newer action.
        self._id_prefix = f"central-{secrets.token_hex(3)}"
        self._pending: dict[str, _Pending] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._listeners: list[Callable[[Message], object]] = []
        self._subscriptions: set[EventSubscription] = set()
        self._task: asyncio.Task | None = None
        self._ping_task: asyncio.Task | None = None
        self._closing = False  # stop the run loop (owner's close, or a refused login)
        self._closed = False  # the owner called close(): start() owes ClientClosed
        self._ready: asyncio.Future | None = None
        self.connected = asyncio.Event()
        self.banner: str | None = None
        self.connections = 0
        self.last_error: BaseException | None = None

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Connect and log in; return once logged in. Raises AuthenticationFailed, or
        OSError/TimeoutError if the first connection fails and ``reconnect`` is off;
        with ``reconnect`` on it keeps trying (use ``asyncio.wait_for`` to bound it).

        Raises :class:`ClientClosed` once :meth:`close` was called, before, during or
        after the connection attempt: the owner's close is why start() did not
        succeed, not whichever connect error the loop happened to see last (a refused
        connect finishing in the same loop turn as the close used to reach the caller)."""
        if self._closed:
            raise self._closed_error()
        if self._task is None:
            self._ready = asyncio.get_running_loop().create_future()
            self._task = asyncio.create_task(self._run(), name=f"ami-{self.name}")
        assert self._ready is not None
        await asyncio.shield(self._ready)

    async def close(self) -> None:
        """Log off politely (best effort) and stop reconnecting.

        Returns once the connection task has ended. A ``start()`` still waiting is
        released with :class:`ClientClosed`, decided here before the first await so
        nothing the connection task does afterwards can change it."""
        self._closing = True
        self._closed = True
        self._set_ready_exc(self._closed_error())
        writer = self._writer
        if writer is not None and self.connected.is_set():
            with contextlib.suppress(Exception):
                writer.write(encode_action("Logoff", None, self._next_id()))
                async with asyncio.timeout(1):
                    await writer.drain()
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                # The task's own cancellation ends here; our caller's does not.
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise
            except Exception:
                log.exception("AMI %s: connection task failed", self.name)
        self._fail_pending(lambda p, aid: self._closed_error())
        for sub in list(self._subscriptions):
            sub.close()

    def _closed_error(self) -> ClientClosed:
        return ClientClosed(f"AMI client {self.name} closed")

    async def __aenter__(self) -> AMIClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ events
    def subscribe(
        self, names: Iterable[str] | None = None, maxsize: int = 10_000
    ) -> EventSubscription:
        """Events (and the synthetic connection events) as an async iterator.

        A subscription made while connected starts with a :data:`CONNECTED_EVENT`, so
        every consumer begins with its cue to (re)load state."""
        sub = EventSubscription(self, maxsize, frozenset(names) if names is not None else None)
        self._subscriptions.add(sub)
        if self.connected.is_set():
            sub._push(self._connected_event())
        return sub

    def _connected_event(self) -> Message:
        return Message([("Event", CONNECTED_EVENT), ("Server", self.name),
                        ("Banner", self.banner or "")])

    def add_listener(self, callback: Callable[[Message], object]) -> Callable[[], None]:
        """Call ``callback(message)`` synchronously for every event, in the read loop
        (the cheapest path, e.g. to feed ``central.telephony.state``). Exceptions are
        logged and counted, never propagated. Returns a function that removes it."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback)

    def _dispatch(self, msg: Message) -> None:
        for cb in self._listeners:
            try:
                cb(msg)
            except Exception:
                LISTENER_ERRORS.labels(self.name).inc()
                log.exception("AMI %s: event listener failed on %s", self.name, msg.name)
        for sub in self._subscriptions:
            sub._push(msg)

    # ------------------------------------------------------------------ actions
    def _next_id(self) -> str:
        return f"{self._id_prefix}-{next(self._ids)}"

    def _write(self, name: str, fields, pending: _Pending | None, action_id: str) -> None:
        writer = self._writer
        if writer is None or not self.connected.is_set() or writer.is_closing():
            raise NotConnected(f"AMI {self.name}: not connected, {name} was not sent")
        data = encode_action(name, fields, action_id)  # may raise ProtocolError (bad field)
        if pending is not None:
            self._pending[action_id] = pending
        # From here on the bytes may reach Asterisk: the action is "maybe executed".
        writer.write(data)

    async def _await(self, action_id: str, fut: asyncio.Future, timeout: float | None, name: str):
        timeout = self.action_timeout if timeout is None else timeout
        try:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a
            # cancellation that lands in the loop turn its inner future completes in
            # (bpo-42130, CPython gh-86296; fixed in 3.12), and a cancelled caller would go on.
            async with asyncio.timeout(timeout):
                return await asyncio.shield(fut)
        except TimeoutError:
            self._pending.pop(action_id, None)
            NOT_CONFIRMED.labels(self.name, name).inc()
            raise ActionTimeout(
                f"AMI {self.name}: no answer to {name} (ActionID {action_id}) in {timeout} s; "
                "it may have run, reconcile before retrying",
                action=name, action_id=action_id,
            ) from None

    async def send_action(
        self, name: str, fields: Mapping | Iterable | None = None, *, timeout: float | None = None
    ) -> Message:
        """Send one action and return its Response (``Success``, ``Error``, ``Goodbye``...).

        If the Response opens an event list (``EventList: start``) its events are
        swallowed; use :meth:`send_list_action` to get them."""
        action_id = self._next_id()
        fut = asyncio.get_running_loop().create_future()
        self._write(name, fields, _Pending(name, fut, collect=False, originate=False), action_id)
        return await self._await(action_id, fut, timeout, name)

    async def send_list_action(
        self, name: str, fields: Mapping | Iterable | None = None, *, timeout: float | None = None
    ) -> ListResponse:
        """Send an action answered by an event list (QueueStatus, CoreShowChannels,
        PJSIPShowEndpoints, SIPpeers, ExtensionStateList, DeviceStateList, Status...)
        and collect the events until the one whose name ends in ``Complete``
        (``QueueStatusComplete``, ``CoreShowChannelsComplete``: ami-login-and-actions.txt)."""
        action_id = self._next_id()
        fut = asyncio.get_running_loop().create_future()
        self._write(name, fields, _Pending(name, fut, collect=True, originate=False), action_id)
        return await self._await(action_id, fut, timeout, name)

    async def ping(self, timeout: float | None = None) -> Message:
        return await self.send_action("Ping", timeout=timeout)

    async def originate(
        self,
        channel: str,
        *,
        context: str | None = None,
        exten: str | None = None,
        priority: int | str = 1,
        application: str | None = None,
        data: str | None = None,
        caller_id: str | None = None,
        timeout_ms: int = 30_000,
        variables: Mapping[str, str] | None = None,
        channel_id: str | None = None,
        other_channel_id: str | None = None,
        account: str | None = None,
        extra: Mapping[str, str] | None = None,
        result_timeout: float | None = None,
    ) -> OriginateResult:
        """Originate with ``Async: true`` and wait for its ``OriginateResponse``.

        ``channel_id`` (and ``other_channel_id`` for the ``;2`` half of a Local channel)
        pre-assign the Uniqueid, so events and a later reconcile can be matched to the
        attempt before the first event arrives (ami-core-show-channels.txt:
        ``ChannelId: att-123-leg1``). ``variables`` become one ``Variable:`` header each.

        Raises :class:`NotConnected` (not sent: safe to retry) or
        :class:`OriginateOutcomeUnknown` (may be dialling: reconcile by ``channel_id``).
        """
        fields: list[tuple[str, str]] = [("Channel", channel)]
        if application is not None:
            fields.append(("Application", application))
            if data is not None:
                fields.append(("Data", data))
        else:
            if context is None or exten is None:
                raise ValueError("originate needs context+exten or application")
            fields += [("Context", context), ("Exten", exten), ("Priority", str(priority))]
        fields.append(("Timeout", str(int(timeout_ms))))
        if caller_id is not None:
            fields.append(("CallerID", caller_id))
        if account is not None:
            fields.append(("Account", account))
        for k, v in (variables or {}).items():
            if "=" in k:
                raise ValueError(f"variable name {k!r} contains '='")
            fields.append(("Variable", f"{k}={v}"))
        fields.append(("Async", "true"))
        if channel_id is not None:
            fields.append(("ChannelId", channel_id))
        if other_channel_id is not None:
            fields.append(("OtherChannelId", other_channel_id))
        fields += list((extra or {}).items())

        action_id = self._next_id()
        fut = asyncio.get_running_loop().create_future()
        pending = _Pending("Originate", fut, collect=False, originate=True)
        self._write("Originate", fields, pending, action_id)
        # Asterisk answers "Originate successfully queued" at once, then sends
        # OriginateResponse when the call is answered or fails: up to Timeout later.
        if result_timeout is None:
            result_timeout = self.action_timeout + timeout_ms / 1000
        try:
            msg = await self._await(action_id, fut, result_timeout, "Originate")
        except ActionTimeout:
            raise OriginateOutcomeUnknown(
                f"AMI {self.name}: no OriginateResponse for {action_id} in {result_timeout} s",
                action_id=action_id, channel_id=channel_id,
                accepted=pending.response is not None,
            ) from None
        except ActionNotConfirmed as exc:
            raise OriginateOutcomeUnknown(
                str(exc), action_id=action_id, channel_id=channel_id,
                accepted=pending.response is not None,
            ) from None
        if msg.kind == "response":  # Response: Error, the action itself was refused
            return OriginateResult(
                action_id=action_id, outcome="rejected", reason=None, response=msg.name,
                channel=channel, uniqueid=None, channel_id=channel_id,
                other_channel_id=other_channel_id, message=msg.get("Message"),
            )
        reason_raw = msg.get("Reason", "")
        reason = int(reason_raw) if reason_raw.isdigit() else None
        uniqueid = msg.get("Uniqueid")
        if uniqueid in ("<unknown>", ""):
            uniqueid = None  # every failed originate in ami-login-and-actions.txt
        return OriginateResult(
            action_id=action_id,
            outcome=ORIGINATE_REASONS.get(reason, "failed") if reason is not None else "failed",
            reason=reason, response=msg.get("Response", ""), channel=msg.get("Channel"),
            uniqueid=uniqueid, channel_id=channel_id, other_channel_id=other_channel_id,
            message=(pending.response.get("Message") if pending.response else None),
        )

    # ------------------------------------------------------------------ connection loop
    def _backoff(self, attempt: int) -> float:
        # Exponential backoff with "full jitter" (AWS architecture blog, 2015): spreads
        # a fleet of dialers reconnecting to one Asterisk after it restarts.
        cap = min(self.backoff_max, self.backoff_initial * (2**attempt))
        return self._rng.uniform(cap / 2, cap)

    async def _run(self) -> None:
        attempt = 0
        while not self._closing:
            logged_in = False
            try:
                # asyncio.timeout, not wait_for (see _await): close() cancels this task,
                # and with wait_for a cancel landing in the turn the connect finished in
                # was swallowed, so the loop went on to log in and read while close()
                # waited for it, or handed a refused connect to start() instead of
                # ClientClosed.
                async with asyncio.timeout(self.connect_timeout):
                    reader, writer = await asyncio.open_connection(self.host, self.port)
            except (OSError, TimeoutError) as exc:
                self.last_error = exc
                log.warning("AMI %s: connect to %s:%s failed: %s", self.name, self.host,
                            self.port, exc)
                if not self.reconnect:
                    self._set_ready_exc(exc)
                    return
            else:
                self._writer = writer
                try:
                    await self._session(reader, writer)
                    logged_in = True
                except AuthenticationFailed as exc:
                    self.last_error = exc
                    # Retrying a wrong secret only fills Asterisk's security log: stop.
                    log.error("AMI %s: %s", self.name, exc)
                    self._set_ready_exc(exc)
                    self._closing = True
                except (OSError, TimeoutError, ProtocolError, AMIError,
                        asyncio.IncompleteReadError) as exc:
                    self.last_error = exc
                    logged_in = self.connected.is_set()
                    log.warning("AMI %s: connection lost: %r", self.name, exc)
                finally:
                    was_connected = self.connected.is_set()
                    self.connected.clear()
                    self._writer = None
                    if self._ping_task is not None:
                        self._ping_task.cancel()
                        self._ping_task = None
                    writer.close()
                    self._fail_pending(self._lost_error)
                    if was_connected:
                        self._dispatch(Message([("Event", DISCONNECTED_EVENT),
                                                ("Server", self.name)]))
            if self._closing or not self.reconnect:
                if self._ready is not None and not self._ready.done():
                    self._set_ready_exc(self.last_error or NotConnected("closed"))
                return
            attempt = 0 if logged_in else attempt + 1
            await asyncio.sleep(self._backoff(attempt))

    def _set_ready_exc(self, exc: BaseException) -> None:
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(exc)
            self._ready.exception()  # mark retrieved: start() may never be awaited

    def _lost_error(self, p: _Pending, action_id: str) -> AMIError:
        NOT_CONFIRMED.labels(self.name, p.name).inc()
        return ActionNotConfirmed(
            f"AMI {self.name}: connection lost before Asterisk answered {p.name} "
            f"(ActionID {action_id}); it may have run, it was NOT re-sent",
            action=p.name, action_id=action_id,
        )

    def _fail_pending(self, make_error: Callable[[_Pending, str], BaseException]) -> None:
        pending, self._pending = self._pending, {}
        for action_id, p in pending.items():
            if not p.future.done():
                p.future.set_exception(make_error(p, action_id))
                p.future.exception()  # the awaiting caller may have timed out already

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        parser = AMIParser()
        backlog: list[Message] = []

        async def read_messages() -> list[Message]:
            if backlog:
                out = backlog[:]
                backlog.clear()
                return out
            while True:
                data = await reader.read(65536)
                if not data:
                    raise ConnectionResetError("server closed the connection")
                try:
                    msgs = parser.receive_data(data)
                except ProtocolError as exc:
                    for err in exc.errors:
                        PROTOCOL_ERRORS.labels(self.name, err.kind).inc()
                        log.warning("AMI %s: %s", self.name, err)
                    if exc.kind == "bad_banner":
                        raise
                    msgs = exc.messages
                if msgs:
                    return msgs

        async def login_exchange(name: str, fields) -> Message:
            aid = self._next_id()
            writer.write(encode_action(name, fields, aid))
            while True:
                for i, m in enumerate(msgs := await read_messages()):
                    if m.kind == "response" and m.action_id == aid:
                        backlog.extend(msgs[i + 1 :])
                        return m
                    # events before login (none in practice) are dropped

        async def login() -> None:
            events = "on" if self.events_on else "off"
            if self.auth == "md5":
                ch = await login_exchange("Challenge", {"AuthType": "MD5"})
                digest = hashlib.md5(
                    (ch.get("Challenge", "") + self._secret).encode(), usedforsecurity=False
                ).hexdigest()
                fields = {"AuthType": "MD5", "Username": self.username, "Key": digest,
                          "Events": events}
            else:
                fields = {"Username": self.username, "Secret": self._secret, "Events": events}
            resp = await login_exchange("Login", fields)
            if resp.name != "Success":
                # ami-login-failure.txt: "Response: Error / Message: Authentication failed"
                raise AuthenticationFailed(
                    f"AMI {self.name}: login as {self.username!r} refused: "
                    f"{resp.get('Message', resp.name)}"
                )
            for rx in self.event_filters:
                # ami-login-and-actions.txt filter-1: "Response: Success / Message: Success".
                answer = await login_exchange("Filter", {"Operation": "Add", "Filter": rx})
                if answer.name != "Success":  # e.g. no `system` write permission
                    log.warning("AMI %s: Filter %r refused (%s); receiving unfiltered events",
                                self.name, rx, answer.get("Message", answer.name))

        async with asyncio.timeout(self.connect_timeout):  # not wait_for: see _run
            await login()
        self.banner = parser.banner
        self.connections += 1
        RECONNECTS.labels(self.name).inc()
        self.connected.set()
        log.info("AMI %s: logged in to %s:%s (%s)", self.name, self.host, self.port, self.banner)
        if self._ready is not None and not self._ready.done():
            self._ready.set_result(None)
        self._dispatch(self._connected_event())
        if self.ping_interval:
            self._ping_task = asyncio.create_task(self._keepalive(writer))
        while True:
            for msg in await read_messages():
                self._handle(msg)

    async def _keepalive(self, writer: asyncio.StreamWriter) -> None:
        # A half-open TCP connection (Asterisk host gone) is only noticed by writing:
        # Ping and, without a Pong in time, close the socket so the run loop reconnects.
        assert self.ping_interval
        while True:
            await asyncio.sleep(self.ping_interval)
            try:
                await self.send_action("Ping", timeout=self.ping_timeout)
            except (ActionTimeout, NotConnected):
                log.warning("AMI %s: no Pong in %s s, reconnecting", self.name, self.ping_timeout)
                writer.transport.abort()
                return
            except AMIError:
                return

    def _handle(self, msg: Message) -> None:
        action_id = msg.action_id
        p = self._pending.get(action_id) if action_id is not None else None
        if p is None:
            if msg.kind == "event":
                self._dispatch(msg)
            return
        if msg.kind == "response":
            p.response = msg
            if p.collect or msg.get("EventList") == "start":
                if msg.name != "Success" or msg.get("EventList") != "start":
                    # Error, or a list action answered without a list: done.
                    self._resolve(action_id, p, ListResponse(msg) if p.collect else msg)
                    return
                p.list_result = ListResponse(msg)
                if not p.collect:  # send_action on a list action: answer now, drain events
                    p.future.set_result(msg)
                return
            if p.originate and msg.name == "Success":
                return  # "Originate successfully queued": wait for OriginateResponse
            self._resolve(action_id, p, msg)
            return
        # An event carrying our ActionID.
        if p.originate and msg.name == "OriginateResponse":
            self._resolve(action_id, p, msg)
            self._dispatch(msg)  # state/CDR consumers want it too (it is broadcast)
            return
        if p.list_result is not None:
            if msg.name.endswith(_LIST_END_SUFFIX) or msg.get("EventList") == "Complete":
                p.list_result.complete = msg
                self._resolve(action_id, p, p.list_result)
            else:
                p.list_result.events.append(msg)
            return
        self._dispatch(msg)

    def _resolve(self, action_id: str, p: _Pending, value: object) -> None:
        self._pending.pop(action_id, None)
        if not p.future.done():
            p.future.set_result(value)

    # ------------------------------------------------------------------ helpers
    async def events(self) -> AsyncIterator[Message]:
        """Shortcut: ``async for ev in client.events(): ...``."""
        sub = self.subscribe()
        try:
            async for msg in sub:
                yield msg
        finally:
            sub.close()
