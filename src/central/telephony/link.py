"""The PBX link: one AMI connection per Asterisk server turned into rows and live pushes.

For each server a :class:`PBXLink` owns

* an :class:`~central.telephony.ami.client.AMIClient` (login, keepalive, reconnect; it
  never re-sends an action),
* the pure :class:`~central.telephony.state.LiveState` (extensions, channels, bridges,
  queue members) and :class:`~central.telephony.cdr.CdrBuilder` (call records), fed from
  the client's read loop through a synchronous listener (in order, no queue to overflow),
* a flush loop that writes what changed in *batches* (``store.py`` in a worker thread,
  so the event loop never waits on the database) and then publishes the written rows to
  the tenant's dashboard group (``central.core.live``): ``extensions`` and ``calls``
  messages (and ``queue_members``) carry exactly what the REST API would answer.

After every (re)connect the link reloads the state Asterisk holds
(``ExtensionStateList``, ``DeviceStateList``, ``QueueStatus``, ``CoreShowChannels``),
because events sent while the connection was down are gone; calls whose channels are no
longer listed are closed with a record ending at the resync time, and calls listed that
the CDR builder does not follow (they began before this connect: a restart of ``central
pbx``, a reconnect) are *adopted*, so they get a record when they end; their ``CENTRAL_*``
variables (the dialer's attempt) are asked with ``Getvar`` in the background
(:meth:`PBXLink._adopt_variables`), never blocking the event handling.

Bad input never stops the link: the codec skips malformed bytes (counted by the client
in ``central_ami_protocol_errors``), and an event the state or CDR builder chokes on is
counted in ``central_telephony_bad_events_total`` and skipped.

``run_pbx`` is the ``central pbx`` process (one task per server plus a heartbeat);
``targets_from_db``/``target_from_env`` say which servers to connect to.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote, urlparse

from channels.db import database_sync_to_async

from central.core.live import apublish, apublish_agent, org_group
from central.core.runtime import raise_if_cancelling, wait_event
from central.telephony import chanvars

from . import actions, metrics, store
from .ami.client import CONNECTED_EVENT, DISCONNECTED_EVENT, AMIClient
from .ami.errors import AMIError, AuthenticationFailed
from .ami.protocol import Message
from .cdr import ADOPT_VARIABLES, CdrBuilder
from .cdr import CallRecord as CdrRecord
from .state import ExtensionInfo, LiveState

log = logging.getLogger("central.telephony.link")

# ExtensionStatus code -> the text Asterisk prints (ami-event-stream-extension-state.txt).
STATUS_TEXT = {-2: "Removed", -1: "Deactivated", 0: "Idle", 1: "InUse", 2: "Busy",
               4: "Unavailable", 8: "Ringing", 9: "InUse&Ringing", 16: "Hold", 17: "InUse&Hold"}
REGISTERED = {"registered": True, "unreachable": False, "unregistered": False}
RESYNC_ACTIONS = ("ExtensionStateList", "DeviceStateList", "QueueStatus")
# Records kept in memory while the database is unreachable; beyond this the oldest are
# dropped (and counted) rather than letting a long outage exhaust memory.
MAX_PENDING_RECORDS = 100_000
# Getvar actions in flight at once while asking adopted calls' variables: a restart in the
# middle of hundreds of calls must not flood the AMI session.
ADOPT_CONCURRENCY = 8


class ConfigError(Exception):
    """A server cannot be linked as configured (missing secret, bad URL)."""


@dataclass
class LinkTarget:
    """Where one link connects and which server row (tenant) it writes for."""

    server: store.ServerRef
    host: str
    port: int
    username: str
    secret: str = field(repr=False)
    auth: str = "plain"

    @property
    def name(self) -> str:
        return self.server.name


@dataclass(slots=True)
class _CallInfo:
    """What the channels alone do not say about a call in progress."""

    direction: str
    queue: str = ""
    agent: str = ""


class PBXLink:
    def __init__(
        self,
        target: LinkTarget,
        *,
        clock: Callable[[], float] = time.time,
        flush_interval: float = 0.3,
        publish: bool = True,
        client_options: dict | None = None,
    ) -> None:
        self.target = target
        self.name = target.name
        self.clock = clock
        self.flush_interval = flush_interval
        self.publish = publish
        self.state = LiveState(self.name)
        self.cdr = CdrBuilder(self.name)
        options = {"ping_interval": 20.0, "backoff_max": 15.0, **(client_options or {})}
        self.client = AMIClient(target.host, target.port, target.username, target.secret,
                                name=self.name, auth=target.auth, **options)
        self._dirty_ext: set[str] = set()
        self._dirty_members: set[str] = set()
        self._removed_members: set[str] = set()
        self._live_dirty = True
        self._records: list[CdrRecord] = []
        self._calls: dict[str, _CallInfo] = {}
        self._pops: set[asyncio.Task] = set()  # inbound screen pops on their way
        self._adopts: set[asyncio.Task] = set()  # Getvars of adopted calls on their way
        self._status: tuple[str, str] | None = None
        self._wake = asyncio.Event()
        self._flush_lock = asyncio.Lock()
        self._resync_task: asyncio.Task | None = None
        self._remove_listener: Callable[[], None] | None = None
        self.connected = False
        self.connected_since: float | None = None  # wall time of the last connect or disconnect
        self.resyncs = 0
        self.resynced = asyncio.Event()  # set after each completed resync (tests wait on it)
        self.flushed = asyncio.Event()  # set after each successful flush
        self._events_metric = metrics.EVENTS.labels(self.name)  # labels() per event is costly
        metrics.CONNECTED.labels(self.name).set(0)  # a link that never logs in shows 0, not nothing
        self.stats = {"events": 0, "bad_events": 0, "records": 0, "extension_writes": 0,
                      "flushes": 0, "store_errors": 0, "dropped_records": 0,
                      "adopted_calls": 0}  # calls in progress at a connect, Getvars done

    # ------------------------------------------------------------------ events in
    def _on_event(self, msg: Message) -> None:
        if msg.name == CONNECTED_EVENT:
            self.connected = True
            self.connected_since = time.time()
            metrics.CONNECTED.labels(self.name).set(1)
            self._set_status("connected", f"{self.client.banner or ''}")
            if self._resync_task is not None and not self._resync_task.done():
                self._resync_task.cancel()
            self._resync_task = asyncio.get_running_loop().create_task(self.resync())
            return
        if msg.name == DISCONNECTED_EVENT:
            self.connected = False
            self.connected_since = time.time()
            metrics.CONNECTED.labels(self.name).set(0)
            self._set_status("disconnected", str(self.client.last_error or ""))
            return
        self.feed(msg, self.clock())

    def feed(self, msg: Message, now: float) -> None:
        """One event into the state and CDR builder; never raises."""
        self.stats["events"] += 1
        self._events_metric.inc()
        try:
            changes = self.state.feed(msg, now)
        except Exception as exc:  # a malformed field must cost one event, not the link
            self._bad(msg, "state", exc)
            changes = []
        try:
            records = self.cdr.feed(msg, now)
        except Exception as exc:
            self._bad(msg, "cdr", exc)
            records = []
        name = msg.name
        if name in ("Newchannel", "QueueCallerJoin", "AgentConnect"):
            self._track_call(msg)
        for change in changes:
            if change.kind == "extension":
                self._dirty_ext.add(change.key)
            elif change.kind in ("channel", "bridge", "queue_caller"):
                self._live_dirty = True
            elif change.kind == "queue_member":
                if change.removed:
                    self._dirty_members.discard(change.key)
                    self._removed_members.add(change.key)
                else:
                    self._removed_members.discard(change.key)
                    self._dirty_members.add(change.key)
        if records:
            self._add_records(records)
            self._live_dirty = True

    def _bad(self, msg: Message, where: str, exc: Exception) -> None:
        self.stats["bad_events"] += 1
        metrics.BAD_EVENTS.labels(self.name, where).inc()
        log.warning("pbx %s: %s skipped %s event: %r", self.name, where, msg.name, exc)

    def _track_call(self, msg: Message) -> None:
        linkedid = msg.get("Linkedid") or msg.get("Uniqueid") or ""
        if not linkedid:
            return
        info = self._calls.get(linkedid)
        if info is None:
            channel = msg.get("Channel", "")
            inbound = msg.name == "Newchannel" and msg.get("ChannelState") == "4" \
                and not channel.startswith("Local/")
            info = self._calls[linkedid] = _CallInfo("inbound" if inbound else "outbound")
        if msg.name == "QueueCallerJoin":
            info.queue = msg.get("Queue") or info.queue
        elif msg.name == "AgentConnect":
            info.queue = msg.get("Queue") or info.queue
            info.agent = msg.get("MemberName") or msg.get("Interface") or info.agent
            if info.direction == "inbound" and self.publish:
                self._inbound_pop(msg)

    def _inbound_pop(self, msg: Message) -> None:
        """An inbound queue call reached an agent: their page pops the caller's number
        (the dialer's own calls are popped by the dialer, which knows the attempt).
        ``CallerIDNum`` of AgentConnect is the caller's (ami-event-stream-answered-queue-
        agent.txt); the page matches it to contacts (``desk_services.inbound_card``)."""
        interface = msg.get("Interface") or ""
        if not interface:
            return
        payload = {"kind": "inbound", "number": msg.get("CallerIDNum") or "", "queue": msg.get("Queue") or "",
                   "linkedid": msg.get("Linkedid") or "", "interface": interface, "connected_at": self.clock()}
        task = asyncio.get_running_loop().create_task(
            apublish_agent(self.target.server.organization_id, interface, payload))
        self._pops.add(task)
        task.add_done_callback(self._pops.discard)

    def _add_records(self, records: list[CdrRecord]) -> None:
        self._records.extend(records)
        overflow = len(self._records) - MAX_PENDING_RECORDS
        if overflow > 0:
            del self._records[:overflow]
            self.stats["dropped_records"] += overflow
            log.error("pbx %s: %d call records dropped (database unreachable too long)",
                      self.name, overflow)

    # ------------------------------------------------------------------ resync
    async def resync(self) -> None:
        """Reload what Asterisk knows now; called after every (re)connect."""
        now = self.clock()
        try:
            for action in RESYNC_ACTIONS:
                if action == "QueueStatus":
                    self.state.reset_queue_callers()  # its QueueEntry rows say who waits now
                try:
                    listing = await self.client.send_list_action(action)
                except AMIError as exc:  # e.g. app_queue not loaded: keep going
                    log.info("pbx %s: %s failed during resync: %s", self.name, action, exc)
                    continue
                for event in listing.events:
                    self.feed(event, now)
            channels = await self.client.send_list_action("CoreShowChannels")
            now = self.clock()  # the listing's Durations count up to about now
            self.state.reset_channels()
            listed: set[str] = set()
            for event in channels.events:
                self.feed(event, now)  # the CDR builder adopts calls it does not follow
                listed.add(event.get("Linkedid") or event.get("Uniqueid") or "")
            adopted = self.cdr.take_adopted()
            if adopted:
                task = asyncio.get_running_loop().create_task(self._adopt_variables(adopted))
                self._adopts.add(task)
                task.add_done_callback(self._adopts.discard)
            self.state.prune_queue_callers()
            # Calls the builder tracks that Asterisk no longer lists ended while we were
            # disconnected (their Hangups are lost): close them now.
            ended = self.cdr.end_calls_not_in(listed, self.clock())
            if ended:
                self._add_records(ended)
            # Everything is rewritten after a reconnect: rows may be stale.
            self._dirty_ext.update(self.state.extensions)
            self._dirty_members.update(self.state.queue_members)
            self._live_dirty = True
            self.resyncs += 1
            metrics.RESYNCS.labels(self.name).inc()
            log.info("pbx %s: resynced (%d extensions, %d channels, %d queue members)",
                     self.name, len(self.state.extensions), len(self.state.channels),
                     len(self.state.queue_members))
            self.resynced.set()
            self._wake.set()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            metrics.RESYNC_ERRORS.labels(self.name).inc()
            log.warning("pbx %s: resync failed: %r", self.name, exc)

    async def _adopt_variables(self, calls: list[tuple[str, str]]) -> None:
        """Ask Asterisk the :data:`~central.telephony.cdr.ADOPT_VARIABLES` of adopted
        calls (``Getvar`` on the channel the builder names: answers ``Response:
        Success`` / ``Variable:`` / ``Value:``, or ``Response: Error`` / ``No such
        channel`` once it hung up, ami-core-show-channels.txt getvar-1..3) and feed
        the answers back. A failed Getvar costs nothing: the record just lacks them."""
        gate = asyncio.Semaphore(ADOPT_CONCURRENCY)

        async def one(linkedid: str, uniqueid: str) -> None:
            values: dict[str, str] = {}
            async with gate:
                for var in ADOPT_VARIABLES:
                    try:
                        resp = await self.client.send_action(
                            "Getvar", {"Channel": uniqueid, "Variable": var}, timeout=10.0)
                    except AMIError as exc:
                        log.info("pbx %s: Getvar %s on %s failed: %s", self.name, var, uniqueid, exc)
                        break
                    if resp.get("Response") != "Success":
                        break  # the channel is gone: the others would fail the same way
                    values[var] = resp.get("Value") or ""
            records = self.cdr.set_variables(linkedid, values)
            if records:
                self._add_records(records)
                self._wake.set()

        await asyncio.gather(*(one(linkedid, uid) for linkedid, uid in calls))
        self.stats["adopted_calls"] += len(calls)
        log.info("pbx %s: adopted %d call(s) in progress at the connect", self.name, len(calls))

    # ------------------------------------------------------------------ rows out
    def extension_row(self, ext: ExtensionInfo) -> dict:
        state = ext.state
        if state == "unknown" and ext.lines:
            # No hint status yet (DeviceStateList before ExtensionStateList): use the
            # worst line state, ordered like Asterisk's hint aggregation.
            for candidate in ("ringing", "busy", "onhold", "free", "unavailable"):
                if candidate in ext.lines.values():
                    state = candidate
                    break
        return {
            "exten": ext.exten,
            "context": ext.context,
            "device": ext.hint,
            "registered": REGISTERED.get(ext.registration or ""),
            "state": state,
            "status_text": STATUS_TEXT.get(ext.status_code, "") if ext.status_code is not None else "",
            "last_activity": ext.last_activity,
        }

    def live_calls(self) -> list[dict]:
        """Calls in progress from the channels, one row per Linkedid."""
        groups: dict[str, list] = {}
        for ch in self.state.channels.values():
            groups.setdefault(ch.linkedid, []).append(ch)
        for linkedid in [k for k in self._calls if k not in groups]:
            del self._calls[linkedid]
        # Callers waiting in a queue now (QueueCallerJoin .. Leave/Abandon), per call.
        waiting: dict[str, tuple[str, float]] = {}
        for uid, caller in self.state.queue_callers.items():
            ch = self.state.channels.get(uid)
            waiting[ch.linkedid if ch is not None else caller.linkedid] = (caller.queue, caller.joined_at)
        rows = []
        for linkedid, chans in groups.items():
            chans.sort(key=lambda c: c.created_at)
            first = chans[0]
            info = self._calls.get(linkedid) or _CallInfo("outbound")
            to_number = first.exten
            if first.name.startswith("Local/"):
                to_number = first.name[6:].split("@", 1)[0]
            answered = [c.answered_at for c in chans if c.answered_at is not None]
            queued = waiting.get(linkedid)
            if queued is not None:
                state = "queued"
            elif answered:
                state = "up"
            elif any(c.state in (4, 5) for c in chans):
                state = "ringing"
            else:
                state = "dialing"
            rows.append({
                "linkedid": linkedid,
                "direction": info.direction,
                "from_number": first.caller_num or "",
                "to_number": to_number or "",
                "state": state,
                "queue": queued[0] if queued is not None else info.queue,
                "queued_at": queued[1] if queued is not None else None,
                "agent": info.agent,
                "attempt_id": next((c.attempt_id for c in chans if c.attempt_id), "") or "",
                "channels": len(chans),
                "started_at": first.created_at or None,
                "answered_at": min(answered) if answered else None,
            })
        return rows

    @staticmethod
    def member_row(member) -> dict:
        return {"queue": member.queue, "interface": member.interface, "name": member.name,
                "availability": member.availability, "paused_reason": member.paused_reason,
                "calls_taken": member.calls_taken, "last_change": member.last_change,
                "call_ended_at": member.call_ended_at, "wrapup_time": member.wrapuptime}

    @staticmethod
    def record_row(rec: CdrRecord) -> dict:
        return {
            "linkedid": rec.linkedid,
            "direction": rec.direction,
            "from_number": rec.from_number or "",
            "to_number": rec.to_number or "",
            "campaign_id": rec.variables.get(chanvars.CAMPAIGN_ID, ""),
            "attempt_id": rec.attempt_id or "",
            "queue": rec.queue or "",
            "agent": rec.agent or "",
            "agent_interface": rec.agent_interface or "",
            "legs": rec.legs,
            "started_at": rec.started_at,
            "ring_at": rec.ringing_at,
            "answered_at": rec.answered_at,
            "ended_at": rec.ended_at,
            "disposition": rec.disposition,
            "hangup_cause": rec.hangup_cause,
            "hangup_cause_text": rec.hangup_cause_text or "",
            "duration": max(0, rec.duration),
            "billsec": max(0, rec.billsec),
            "queue_wait": rec.queue_wait,
            "hangup_by": rec.hangup_by or "",
            "adopted": rec.adopted,
        }

    def _set_status(self, status: str, detail: str = "") -> None:
        self._status = (status, detail)
        self._wake.set()

    async def flush(self) -> None:
        """Write what changed since the last flush and push it to dashboards."""
        async with self._flush_lock:
            await self._flush()

    async def _flush(self) -> None:
        keys, self._dirty_ext = self._dirty_ext, set()
        ext_rows = [self.extension_row(self.state.extensions[k]) for k in keys
                    if k in self.state.extensions]
        member_keys, self._dirty_members = self._dirty_members, set()
        removed_keys, self._removed_members = self._removed_members, set()
        member_rows = [self.member_row(self.state.queue_members[k]) for k in member_keys
                       if k in self.state.queue_members]
        removed_pairs = [tuple(k.split("|", 1)) for k in removed_keys if "|" in k]
        live_rows = self.live_calls() if self._live_dirty else None
        self._live_dirty = False
        records, self._records = self._records, []
        status, self._status = self._status, None
        if not (ext_rows or member_rows or removed_pairs or live_rows is not None or records or status):
            return
        record_rows = [self.record_row(r) for r in records]
        ref = self.target.server
        try:
            written = await database_sync_to_async(_write_batch)(
                ref, ext_rows, live_rows, record_rows, status, member_rows, removed_pairs)
        except Exception as exc:
            # Keep everything for the next try: nothing is lost while the DB is down.
            self._dirty_ext |= keys
            self._dirty_members |= member_keys
            self._removed_members |= removed_keys
            self._live_dirty = self._live_dirty or live_rows is not None
            self._records[:0] = records
            self._status = self._status or status
            self.stats["store_errors"] += 1
            metrics.STORE_ERRORS.labels(self.name).inc()
            log.warning("pbx %s: write failed, will retry: %r", self.name, exc)
            return
        extensions, live, saved, members = written
        self.stats["flushes"] += 1
        self.stats["extension_writes"] += len(extensions)
        self.stats["records"] += len(saved)
        metrics.EXTENSION_UPDATES.labels(self.name).inc(len(extensions))
        for r in records:
            metrics.CDRS.labels(self.name, r.disposition).inc()
        metrics.EXTENSIONS.labels(self.name).set(len(self.state.extensions))
        if live is not None:
            metrics.LIVE_CALLS.labels(self.name).set(len(live))
        if self.publish:
            group = org_group(ref.organization_id)
            if status is not None:
                await apublish(group, {"type": "pbx_status", "server": ref.name, "server_id": ref.id,
                                       "status": status[0], "detail": status[1][:300]})
            if extensions:
                await apublish(group, {"type": "extensions", "server": ref.name,
                                       "server_id": ref.id, "extensions": extensions})
            if members:
                await apublish(group, {"type": "queue_members", "server": ref.name,
                                       "server_id": ref.id, "members": members})
                for member in members:  # each agent's own page (docs/agents.md)
                    await apublish_agent(ref.organization_id, member["interface"],
                                         {"kind": "member", "member": member})
            if live is not None or saved:
                payload = {"type": "calls", "server": ref.name, "server_id": ref.id,
                           "records": saved}
                if live is not None:
                    payload["live"] = live
                await apublish(group, payload)
        self.flushed.set()

    # ------------------------------------------------------------------ lifecycle
    async def run(self) -> None:
        """Connect (retrying), then flush forever. Returns only when cancelled or when
        Asterisk refuses the credentials (retrying a wrong secret only fills its log)."""
        self._remove_listener = self.client.add_listener(self._on_event)
        flusher = asyncio.create_task(self._flush_forever(), name=f"pbx-{self.name}-flush")
        # Actions other processes ask of this server (queue login, pauses, monitoring):
        # central.telephony.actions, through this link's own AMI connection.
        server_actions = asyncio.create_task(actions.serve(self.target.server.id, self.client),
                                             name=f"pbx-{self.name}-actions")
        try:
            try:
                await self.client.start()
            except AuthenticationFailed as exc:
                log.error("pbx %s: %s", self.name, exc)
                self._set_status("error", str(exc))
                await asyncio.sleep(0)
                flusher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await flusher
                await self.flush()
                return
            await flusher
        finally:
            flusher.cancel()
            server_actions.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
            with contextlib.suppress(asyncio.CancelledError):
                await server_actions
            await self.close()

    async def _flush_forever(self) -> None:
        while True:
            await wait_event(self._wake, self.flush_interval)  # cancel-safe (bpo-42130)
            self._wake.clear()
            await self.flush()
            raise_if_cancelling()
            # Batch: let a burst of events accumulate before the next write.
            await asyncio.sleep(self.flush_interval)

    async def close(self) -> None:
        if self._resync_task is not None:
            self._resync_task.cancel()
        for task in list(self._adopts):
            task.cancel()
        if self._remove_listener is not None:
            with contextlib.suppress(ValueError):
                self._remove_listener()
            self._remove_listener = None
        await self.client.close()
        metrics.CONNECTED.labels(self.name).set(0)

    def info(self) -> dict:
        return {"connected": self.connected, "since": self.connected_since,
                "last_error": str(self.client.last_error or ""), "host": f"{self.target.host}:{self.target.port}",
                "extensions": len(self.state.extensions), "channels": len(self.state.channels),
                "calls_in_progress": self.cdr.active_calls, **self.stats}


def _write_batch(ref: store.ServerRef, ext_rows: list[dict], live_rows: list[dict] | None,
                 record_rows: list[dict], status: tuple[str, str] | None,
                 member_rows: list[dict], removed_members: list[tuple[str, str]]):
    extensions = store.save_extensions(ref, ext_rows) if ext_rows else []
    members = store.save_queue_members(ref, member_rows, removed_members) \
        if member_rows or removed_members else []
    saved = store.save_call_records(ref, record_rows) if record_rows else []
    live = store.replace_live_calls(ref, live_rows) if live_rows is not None else None
    if status is not None:
        store.set_server_status(ref.id, *status)
    return extensions, live, saved, members


# --- which servers ----------------------------------------------------------------------

def parse_ami_url(url: str) -> tuple[str, int, str]:
    """``ami://user@host:port`` -> (host, port, user). A password in the URL is refused:
    secrets go in CENTRAL_AMI_SECRET, never in a URL that ends up in logs."""
    parts = urlparse(url)
    if parts.scheme != "ami" or not parts.hostname or not parts.username:
        raise ConfigError(f"CENTRAL_AMI_URL must look like ami://user@host:5038, got {url!r}")
    if parts.password:
        raise ConfigError("CENTRAL_AMI_URL must not contain the secret: use CENTRAL_AMI_SECRET")
    try:
        port = parts.port or 5038
    except ValueError as exc:
        raise ConfigError(f"CENTRAL_AMI_URL has a bad port: {exc}") from None
    return parts.hostname, port, unquote(parts.username)


#: The variable holding the secret of the platform's own Asterisk (CENTRAL_AMI_URL).
AMI_SECRET_ENV = "CENTRAL_AMI_SECRET"


def _platform_secret(server, environ: dict | None) -> str | None:
    """CENTRAL_AMI_SECRET, for the row that mirrors CENTRAL_AMI_URL only (same host, port
    and user as the URL says): the platform's secret goes to the platform's server, never
    to wherever a row that names it points."""
    env = os.environ if environ is None else environ
    url = env.get("CENTRAL_AMI_URL", "").strip()
    if not url or server.secret_env != AMI_SECRET_ENV:
        return None
    try:
        host, port, user = parse_ami_url(url)
    except ConfigError:
        return None
    if (server.host, server.port, server.username) != (host, port, user):
        return None
    return env.get(AMI_SECRET_ENV) or None


def server_secret(server, environ: dict | None = None) -> str | None:
    """The secret to log in to ``server`` with: the platform's own for the
    CENTRAL_AMI_URL row, else the tenant-named variable (``central.core.outbound`` rule)."""
    return _platform_secret(server, environ) or server.secret(environ)


def target_for(server, secret: str | None = None, environ: dict | None = None) -> LinkTarget:
    """A target for an AsteriskServer row.

    The embedded simulator passes its own ``secret`` (the platform configured it). For
    every other row the secret comes from :func:`server_secret`, and a tenant's row must
    point at a public address (checked again here, right before connecting, because DNS
    can change after the API accepted the name): the link connects to the address it
    checked, not to a second lookup."""
    host = server.host
    if secret is None:
        platform = _platform_secret(server, environ)
        secret = platform or server.secret(environ)
        if not platform:
            from central.core.outbound import OutboundRefused, check_destination

            try:
                host = check_destination(server.host, server.port)[0]
            except OutboundRefused as exc:
                raise ConfigError(f"server {server.name}: {server.host} refused: {exc}") from None
    if not secret:
        raise ConfigError(f"server {server.name}: environment variable {server.secret_env} "
                          "with the AMI secret is not set (tenant secrets need the "
                          "CENTRAL_TENANT_SECRET_ prefix)")
    return LinkTarget(store.server_ref(server), host, server.port, server.username,
                      secret, server.auth)


def platform_organization(environ: dict | None = None):
    """The one organization the platform's own Asterisk (``CENTRAL_AMI_URL``, ``central
    dialer --ami``) serves: CENTRAL_AMI_ORG (slug), else the only organization, else the
    demo one (slug ``demo``). Its campaigns with no server set are dialed there; no other
    tenant's ever are."""
    from central.core.models import Organization

    env = os.environ if environ is None else environ
    slug = env.get("CENTRAL_AMI_ORG", "").strip()
    if slug:
        org = Organization.objects.filter(slug=slug).first()
        if org is None:
            raise ConfigError(f"CENTRAL_AMI_ORG={slug}: no such organization")
        return org
    orgs = list(Organization.objects.all()[:2])
    if len(orgs) == 1:
        return orgs[0]
    if not orgs:
        raise ConfigError("no organization exists yet: the platform's Asterisk (CENTRAL_AMI_URL) "
                          "belongs to one. Create it with `central init --org NAME --admin USER`")
    # `central up` creates three demo organizations: the company one is the default.
    org = Organization.objects.filter(slug="demo").first()
    if org is None:
        raise ConfigError("the platform's Asterisk (CENTRAL_AMI_URL / --ami) needs CENTRAL_AMI_ORG "
                          "(organization slug) when there is more than one organization")
    return org


def platform_server(environ: dict | None = None):
    """The server row mirroring CENTRAL_AMI_URL, if it exists (looked up, never written)."""
    from .models import AsteriskServer

    env = os.environ if environ is None else environ
    url = env.get("CENTRAL_AMI_URL", "").strip()
    if not url:
        return None
    host, port, user = parse_ami_url(url)
    return AsteriskServer.objects.filter(
        organization=platform_organization(env), name=env.get("CENTRAL_AMI_NAME", "principal"),
        secret_env=AMI_SECRET_ENV, host=host, port=port, username=user).first()


def env_server(environ: dict | None = None):
    """The AsteriskServer row for CENTRAL_AMI_URL (created or updated), or None.

    The tenant is CENTRAL_AMI_ORG (slug), else the only organization, else the demo one
    (slug ``demo``); the row is named CENTRAL_AMI_NAME (default "principal")."""

    from .models import AsteriskServer

    env = os.environ if environ is None else environ
    url = env.get("CENTRAL_AMI_URL", "").strip()
    if not url:
        return None
    host, port, user = parse_ami_url(url)
    org = platform_organization(env)
    server, _ = AsteriskServer.objects.update_or_create(
        organization=org, name=env.get("CENTRAL_AMI_NAME", "principal"),
        defaults={"host": host, "port": port, "username": user,
                  "secret_env": AMI_SECRET_ENV, "enabled": True, "use_simulator": False},
    )
    return server


def targets_from_db(include_simulator: bool = False, environ: dict | None = None) -> tuple[list[LinkTarget], list[str]]:
    """Targets for every enabled server (plus CENTRAL_AMI_URL), and the problems found.
    A misconfigured server is reported and skipped, never fatal for the others."""
    from .models import AsteriskServer

    problems: list[str] = []
    try:
        env_server(environ)
    except ConfigError as exc:
        problems.append(str(exc))
    targets = []
    qs = AsteriskServer.objects.filter(enabled=True)
    if not include_simulator:
        qs = qs.filter(use_simulator=False)
    for server in qs.order_by("id"):
        try:
            targets.append(target_for(server, environ=environ))
        except ConfigError as exc:
            problems.append(str(exc))
            store.set_server_status(server.pk, "error", str(exc))
    return targets, problems


async def run_links(links: list[PBXLink]) -> None:
    """Run links together until cancelled."""
    tasks = [asyncio.create_task(link.run(), name=f"pbx-{link.name}") for link in links]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def run_pbx(targets: list[LinkTarget]) -> None:
    """The ``central pbx`` process: one link per target and a heartbeat."""
    from central.core.runtime import heartbeat_forever, run_together

    links = [PBXLink(t) for t in targets]
    await run_together(run_links(links),
                       heartbeat_forever("pbx", lambda: {"servers": {lk.name: lk.info() for lk in links}}))
