"""The dialer engine: the asyncio adapter around ``core``, ``pacing``, ``claims`` and ``leases``.

One :class:`Engine` per ``central dialer`` process and Asterisk server. Each tick
(1 s):

1. write what finished since the last tick (outcomes, progress) — fenced by the lease;
2. every ``renew_every`` seconds, renew held leases and try to take free or expired
   ones (a dead dialer's campaigns are picked up here, then reconciled);
3. per held campaign: snapshot (queue members from AMI, calls in flight from the
   tracker, the estimator) -> ``pacing.decide`` -> ``claims.claim`` (attempt rows
   written, state ``created``) -> ``Originate`` (Async, ChannelId = attempt uid) ->
   attempts marked ``sent``.

AMI events reach :meth:`Engine._on_ami` synchronously in the client's read loop: the
sans-I/O tracker turns them into outcomes, which are queued for the next write. After an
AMI reconnect, every attempt in flight is reconciled with the PBX (``reconcile``): events
were lost while the link was down, and nothing is ever re-dialed to find out.

The database is used from one dedicated thread (Django connections are per thread), so
writes of one process are serialised, which SQLite needs anyway.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import os
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from central.core.runtime import wait_event
from central.dialer import claims, leases
from central.dialer import metrics as m
from central.dialer.core import (
    AgentBoard,
    CallEvent,
    CallTracker,
    Outcome,
    dial_request,
    other_channel_id,
)
from central.dialer.pacing import AgentView, PacingEstimator, PacingParams, PacingSnapshot, decide
from central.recordings.policy import recording_filename, should_record
from central.telephony.ami.client import CONNECTED_EVENT, DISCONNECTED_EVENT, AMIClient
from central.telephony.ami.errors import AMIError, NotConnected, OriginateOutcomeUnknown

log = logging.getLogger(__name__)

__all__ = ["CampaignRunner", "Engine", "EngineOptions"]

# Stop originating when the lease has less than this left: a takeover can only happen
# after expiry, so an Originate sent earlier can never overlap the new holder's reconcile.
LEASE_SAFETY = 3.0

#: Originates of one campaign refused in a row (``Response: Error`` such as "Extension does
#: not exist.", or an OriginateResponse failure before any channel existed) before the
#: campaign is paused with an alarm: a dialplan mistake fails every call the same way, and
#: dialing on would only burn the contact list's attempts (issue 14).
ORIGINATE_ALARM_AFTER = 5


@dataclass
class EngineOptions:
    tick_s: float = 1.0
    lease_ttl: float = leases.TTL
    renew_every: float = leases.RENEW_EVERY
    wrapup_s: float = 0.0  # agent wrap-up not visible in AMI (app_queue wrapuptime)
    server: str = ""  # the server's name, for status only (names repeat across tenants)
    #: The AsteriskServer row this engine's AMI connection reaches: it claims the campaigns
    #: that reference it, and only those of the server's own organization.
    server_id: int | None = None
    #: Organizations whose campaigns with no server set this engine serves: the one the
    #: default PBX is configured for (CENTRAL_AMI_ORG), never every tenant.
    default_organization_ids: tuple[int, ...] = ()
    max_campaigns: int = 200
    campaign_ids: tuple[int, ...] | None = None  # restrict (tests, benches)
    publish_every: float = 2.0
    reconcile_stale_s: float = 180.0


@dataclass
class CampaignConf:
    id: int
    organization_id: int
    status: str
    queue: str
    dial_context: str
    dial_exten: str
    trunk: str
    caller_id: str
    use_0303: bool
    pacing_mode: str
    dial_ratio: float
    max_abandon_rate: float
    abandon_after_s: float
    max_channels: int
    max_cps: float
    ring_timeout_s: int
    short_call_message: str
    #: > 0: wrap-up lasts until the agent saves the disposition on their page, at most
    #: this long (real wrap-up); 0: the queue's fixed Wrapuptime.
    wrapup_limit_s: float = 0.0
    record: str = "none"
    record_percent: int = 0

    @classmethod
    def from_model(cls, c) -> CampaignConf:
        return cls(c.id, c.organization_id, c.status, c.queue, c.dial_context, c.dial_exten, c.trunk, c.caller_id,
                   c.use_0303_prefix, c.pacing_mode, c.dial_ratio, c.max_abandon_rate, c.abandon_after_s,
                   c.max_channels, c.max_cps, c.ring_timeout_s, c.short_call_message,
                   float(c.wrapup_limit_s or 0), c.record, c.record_percent)

    def params(self) -> PacingParams:
        return PacingParams(mode=self.pacing_mode, ratio=max(self.dial_ratio, 0.01),
                            max_channels=self.max_channels, max_cps=self.max_cps,
                            target_abandon=min(max(self.max_abandon_rate, 0.001), 0.99),
                            abandon_after=self.abandon_after_s)


@dataclass
class CampaignRunner:
    conf: CampaignConf
    lease: leases.Lease
    within_hours: bool = True
    estimator: PacingEstimator = field(default_factory=PacingEstimator)
    sent_times: deque = field(default_factory=deque)
    outcomes: list[Outcome] = field(default_factory=list)
    progress: dict[str, list[str]] = field(default_factory=dict)  # state -> uids
    last_decision: object | None = None
    hours_checked: float = -1e18
    conf_checked: float = 0.0
    reconcile_needed: bool = True
    published: float = -1e18
    unsent_uids: set[str] = field(default_factory=set)
    connected: list[tuple[str, str, float]] = field(default_factory=list)  # (uid, agent, t)
    awaiting_record: dict[str, float] = field(default_factory=dict)  # uid -> settle as unknown after
    recheck_at: float | None = None
    refused_in_a_row: int = 0
    alarm_raised: bool = False
    #: Attempt rows or contact statuses changed since the last progress push (the
    #: campaign page's tiles and recent attempts, the list's counts: live.progress).
    progress_dirty: bool = True


def _default_name() -> str:
    return f"dialer@{socket.gethostname()}:{os.getpid()}"


class Engine:
    """Run the campaigns this process holds leases for, against one AMI connection."""

    def __init__(self, client: AMIClient, *, name: str | None = None,
                 clock: Callable[[], float] = time.time, options: EngineOptions | None = None) -> None:
        self.client = client
        self.name = name or _default_name()
        self.clock = clock
        self.opts = options or EngineOptions()
        self.tracker = CallTracker()
        self.board = AgentBoard(self.opts.wrapup_s)
        self.runners: dict[int, CampaignRunner] = {}
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="dialer-db")
        self._tasks: set[asyncio.Task] = set()
        self._remove_listener: Callable[[], None] | None = None
        self._need_resync = True
        self._last_lease_pass = -1e18
        self.latencies: deque[float] = deque(maxlen=200_000)
        self.stats = {"originates": 0, "not_sent": 0, "unknown": 0, "outcomes": 0, "reconciled_found": 0,
                      "reconciled_closed": 0, "reconciled_unknown": 0, "takeovers": 0, "leases_lost": 0,
                      "refused": 0, "alarms": 0, "recordings": 0, "recordings_failed": 0}
        self.originated: list[str] = []  # uids, in order (tests and benches read it)
        self._sending: set[str] = set()  # attempts whose Originate is being written now
        self._refused_logged: set[int] = set()  # campaigns not dialed for their dial settings
        self._dispositions_after: int | None = None  # last Disposition id read (real wrap-up)
        self.pops: deque[tuple[str, str, float]] = deque(maxlen=10_000)  # (uid, agent, t): tests, benches

    # ------------------------------------------------------------------ plumbing
    async def db(self, fn, *args, **kwargs):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(_db_call, fn, *args, **kwargs))

    def now_dt(self):
        return claims.ts(self.clock())

    def _ami_gauge(self):
        return m.AMI_CONNECTED.labels(self.opts.server or "default")

    async def start(self) -> None:
        self._ami_gauge().set(1 if self.client.connected.is_set() else 0)
        if self._remove_listener is None:
            self._remove_listener = self.client.add_listener(self._on_ami)

    async def close(self, release: bool = True) -> None:
        if self._remove_listener is not None:
            self._remove_listener()
            self._remove_listener = None
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=1.0)
        with contextlib.suppress(Exception):
            await self.flush()
        if release:
            now = self.now_dt()
            for r in list(self.runners.values()):
                with contextlib.suppress(Exception):
                    await self.db(leases.release, r.lease, now)
        self.runners.clear()
        # Give the database thread's connection back (to the psycopg pool on PostgreSQL).
        with contextlib.suppress(Exception):
            await self.db(_close_connection)
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Tick until cancelled (or ``stop`` is set)."""
        await self.start()
        try:
            while stop is None or not stop.is_set():
                started = time.monotonic()
                try:
                    await self.step()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("dialer tick failed")
                delay = max(0.0, self.opts.tick_s - (time.monotonic() - started))
                if stop is None:
                    await asyncio.sleep(delay)
                else:  # a stop (SIGTERM) ends the wait at once, not at the next tick
                    await wait_event(stop, delay)
        finally:
            await self.close()

    def info(self) -> dict:
        """Heartbeat figures (``central status``)."""
        return {"name": self.name, "server": self.opts.server or "default",
                "ami_connected": self.client.connected.is_set(), "last_error": str(self.client.last_error or ""),
                "campaigns": sorted(self.runners),
                "originates": self.stats["originates"],
                # settled by reconcile in this process (also central_dialer_reconciled_total)
                "reconciled": self.stats["reconciled_found"] + self.stats["reconciled_closed"],
                "reconciled_unknown": self.stats["reconciled_unknown"], "alarms": self.stats["alarms"]}

    # ------------------------------------------------------------------ AMI events
    def _on_ami(self, msg) -> None:
        name = msg.name
        now = self.clock()
        if name == DISCONNECTED_EVENT:
            self._ami_gauge().set(0)
            self.board.clear()
            return
        if name == CONNECTED_EVENT:
            self._ami_gauge().set(1)
            self._need_resync = True
            return
        if name.startswith("QueueMember") or name == "AgentComplete":
            self.board.on_event(msg, now)
        steps = self.tracker.on_event(msg, now)
        if steps:
            self._apply_steps(steps)

    def _apply_steps(self, steps: list[CallEvent]) -> None:
        for ev in steps:
            r = self.runners.get(ev.campaign_id)
            if r is None:
                continue
            est = r.estimator
            kind = ev.kind
            if kind == "answered":
                est.call_result(ev.t, "answered", ev.data.get("ring", 0.0))
                r.progress.setdefault("answered", []).append(ev.uid)
                if should_record(r.conf.record, r.conf.record_percent, ev.uid):
                    task = asyncio.create_task(self._record(ev.uid))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
            elif kind == "ringing":
                r.progress.setdefault("ringing", []).append(ev.uid)
            elif kind == "result":
                est.call_result(ev.t, ev.data["outcome"], ev.data.get("ring", 0.0))
            elif kind == "connected":
                r.connected.append((ev.uid, ev.data.get("agent", ""), ev.t))
                self._screen_pop(r, ev)
                est.queue_result(ev.t, ev.data.get("wait", 0.0) > r.conf.abandon_after_s,
                                 ev.data.get("wait", 0.0), ev.data.get("predictive", False))
            elif kind == "abandoned":
                est.queue_result(ev.t, True, ev.data.get("wait", 0.0), ev.data.get("predictive", False))
                m.GUARD_MESSAGES.labels(str(ev.campaign_id)).inc()
            elif kind == "talk_ended":
                est.talk_ended(ev.t, ev.data.get("talk", 0.0))
                if self.opts.wrapup_s and not r.conf.wrapup_limit_s:
                    est.wrapup_ended(ev.t, self.opts.wrapup_s)
            elif kind == "outcome":
                o: Outcome = ev.data["outcome"]
                r.outcomes.append(o)
                self.stats["outcomes"] += 1
                m.RESULTS.labels(str(ev.campaign_id), o.result).inc()
                if o.short_call:
                    m.SHORT_CALLS.labels(str(ev.campaign_id)).inc()

    def _screen_pop(self, r: CampaignRunner, ev: CallEvent) -> None:
        """An agent took this attempt's call (``AgentConnect``): tell that agent's page at
        once, on their own group (``core.live.agent_group``: per organization and
        interface). Only ids travel; the page's socket loads the contact for its own
        user and organization (``central.agents.consumers``)."""
        agent = ev.data.get("agent", "")
        call = self.tracker.calls.get(ev.uid)
        if not agent or call is None:
            return
        from central.core.live import apublish_agent

        self.pops.append((ev.uid, agent, ev.t))
        payload = {"kind": "pop", "attempt": ev.uid, "campaign_id": r.conf.id,
                   "contact_id": call.contact_id, "interface": agent, "connected_at": ev.t}
        task = asyncio.ensure_future(apublish_agent(r.conf.organization_id, agent, payload))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _read_dispositions(self) -> None:
        """Real wrap-up: dispositions saved on the agents' pages since the last tick end
        their wrap-up in the agent board and feed the estimator the time it took."""
        cids = [cid for cid, r in self.runners.items() if r.conf.wrapup_limit_s > 0]
        for r in self.runners.values():
            if r.conf.wrapup_limit_s > 0:
                self.board.real_wrapup[r.conf.queue] = max(self.board.real_wrapup.get(r.conf.queue, 0.0),
                                                            r.conf.wrapup_limit_s)
        if not cids:
            return
        after, rows = await self.db(_dispositions_since, cids, self._dispositions_after)
        self._dispositions_after = after
        now = self.clock()
        for campaign_id, interface in rows:
            spent = self.board.disposition_saved(interface, now)
            r = self.runners.get(campaign_id)
            if spent is not None and r is not None:
                r.estimator.wrapup_ended(now, spent)

    # ------------------------------------------------------------------ the tick
    async def step(self) -> None:
        now = self.clock()
        if self._need_resync and self.client.connected.is_set():
            self._need_resync = False
            try:
                await self._resync()
            except AMIError:
                log.warning("dialer: resync after (re)connect failed; will retry", exc_info=True)
                self._need_resync = True
        await self.flush()
        if now - self._last_lease_pass >= self.opts.renew_every:
            self._last_lease_pass = now
            await self._lease_pass()
        await self._read_dispositions()
        for r in list(self.runners.values()):
            if r.recheck_at is not None and now >= r.recheck_at:
                r.recheck_at, r.reconcile_needed = None, True
            if r.reconcile_needed and self.client.connected.is_set():
                await self._reconcile(r)
            await self._tick_campaign(r, now)
        for call in self.tracker.sweep(now, self.opts.reconcile_stale_s):
            r = self.runners.get(call.campaign_id)
            if r is not None:
                r.reconcile_needed = True

    async def flush(self) -> None:
        """Write outcomes and progress gathered since the last tick."""
        now = self.now_dt()
        for r in list(self.runners.values()):
            if r.progress:
                progress, r.progress = r.progress, {}
                for state, uids in progress.items():
                    await self.db(claims.mark_state, uids, state, now)
                r.progress_dirty = True
            if r.connected:
                connected, r.connected = r.connected, []
                await self.db(claims.mark_connected, [(u, a, claims.ts(t)) for u, a, t in connected])
                r.progress_dirty = True
            if r.outcomes:
                outcomes, r.outcomes = r.outcomes, []
                r.progress_dirty = True
                try:
                    await self.db(claims.record_outcomes, r.lease, outcomes, now)
                except leases.LeaseLost:
                    self._lost(r)

    def _lost(self, r: CampaignRunner) -> None:
        log.warning("dialer %s: lost the lease of campaign %s", self.name, r.conf.id)
        self.stats["leases_lost"] += 1
        m.LEASES.labels("lost").inc()
        self.runners.pop(r.conf.id, None)
        m.forget_campaign(r.conf.id)
        for call in self.tracker.live(r.conf.id):
            self.tracker.forget(call.uid)

    async def _resync(self) -> None:
        """After (re)connecting: reload queue members, reconcile every attempt in flight."""
        status = await self.client.send_list_action("QueueStatus")
        self.board.load(status.events, self.clock())
        for r in self.runners.values():
            r.reconcile_needed = True

    async def _lease_pass(self) -> None:
        now_dt = self.now_dt()
        # renew ours
        for r in list(self.runners.values()):
            renewed = await self.db(leases.renew, r.lease, now_dt, self.opts.lease_ttl)
            if renewed is None:
                self._lost(r)
            else:
                r.lease = renewed
        # take what is free: active campaigns for our server
        candidates, refused = await self.db(_active_campaigns, self.opts.server_id,
                                            self.opts.default_organization_ids, self.opts.campaign_ids,
                                            self.opts.max_campaigns)
        for cid, problems in refused.items():
            if cid not in self._refused_logged:
                self._refused_logged.add(cid)
                log.error("dialer %s: campaign %s is not dialed: its dial settings break the rule (%s)",
                          self.name, cid, "; ".join(f"{k}: {v}" for k, v in problems.items()))
        for conf in candidates:
            r = self.runners.get(conf.id)
            if r is not None:
                r.conf = conf
                if r.alarm_raised:  # resumed after an alarm: count refusals afresh
                    r.alarm_raised, r.refused_in_a_row = False, 0
                continue
            if len(self.runners) >= self.opts.max_campaigns:
                break
            lease = await self.db(leases.acquire, conf.id, self.name, now_dt, self.opts.lease_ttl)
            if lease is None:
                continue
            log.info("dialer %s: took campaign %s (generation %s)", self.name, conf.id, lease.generation)
            m.LEASES.labels("acquired").inc()
            if lease.generation > 1:
                self.stats["takeovers"] += 1
            self.runners[conf.id] = CampaignRunner(
                conf, lease, estimator=PacingEstimator(target_abandon=conf.params().target_abandon))
        # drop campaigns no longer active once nothing of theirs is in flight
        active = {c.id for c in candidates}
        for cid, r in list(self.runners.items()):
            if cid not in active:
                r.conf.status = "inactive"  # paused or finished: stop dialing, finish calls
            if cid not in active and not self.tracker.live(cid) and not r.outcomes and not r.awaiting_record:
                await self.db(leases.release, r.lease, now_dt)
                self.runners.pop(cid, None)
                m.LEASES.labels("released").inc()
                m.forget_campaign(cid)

    async def _reconcile(self, r: CampaignRunner) -> None:
        """Account for every attempt of this campaign that may still be on the PBX.

        Alive on the PBX: adopted and followed by its events. Gone: settled from the PBX
        link's call record, else from what the attempt row says, else (after
        ``RECORD_GRACE_S`` for a record to be written) as ``unknown`` with the reason
        (``reconcile.settle_gone``). Never re-dialed, never guessed.
        """
        from central.dialer.reconcile import RECORD_GRACE_S, find_on_pbx, settle_gone
        from central.telephony.store import records_for_attempts

        r.reconcile_needed = False
        await self.flush()
        rows = await self.db(claims.inflight_attempts, r.conf.id)
        # Attempts whose Originate this process is sending right now are not in doubt.
        rows = [row for row in rows if row["uid"] not in self._sending]
        live = {row["uid"] for row in rows}
        for uid in [u for u in r.awaiting_record if u not in live]:
            del r.awaiting_record[uid]  # settled meanwhile (its events came after all)
        if not rows:
            return
        try:
            found = await find_on_pbx(self.client, {row["uid"] for row in rows})
        except AMIError:
            r.reconcile_needed = True
            return
        now = self.clock()
        gone = []
        for row in rows:
            uid = row["uid"]
            pbx = found.get(uid)
            if pbx is None:
                gone.append(row)
                continue
            r.awaiting_record.pop(uid, None)
            tracked = self.tracker.calls.get(uid)
            if tracked is not None and not tracked.done:
                # Still followed by its events; its Originate answer will never come.
                # (Counted once: a later pass, e.g. the recheck for a call record,
                # finds the same call again.)
                if not tracked.originate_known:
                    tracked.originate_known = True
                    self.stats["reconciled_found"] += 1
                    m.RECONCILED.labels(str(r.conf.id), "yes").inc()
                continue
            dialed = (row["sent_at"] or row["created_at"]).timestamp()
            state = {"queued": "queued", "connected": "connected", "ringing": "ringing"}.get(pbx.state, "dialing")
            steps = self.tracker.adopt(uid, r.conf.id, row["contact_id"], dialed, now, state=state,
                                       answered_at=row["answered_at"].timestamp() if row["answered_at"] else None,
                                       connected_at=row["connected_at"].timestamp() if row["connected_at"] else None,
                                       agent=pbx.agent or row.get("agent") or "", other_uid=other_channel_id(uid),
                                       abandon_after=r.conf.abandon_after_s)
            self._apply_steps(steps)
            self.stats["reconciled_found"] += 1
            m.RECONCILED.labels(str(r.conf.id), "yes").inc()
        if not gone:
            return
        records = await self.db(records_for_attempts, r.conf.organization_id, [row["uid"] for row in gone])
        settled = []
        for row in gone:
            uid = row["uid"]
            deadline = r.awaiting_record.setdefault(uid, now + RECORD_GRACE_S)
            outcome = settle_gone(row, records.get(uid), r.conf.id, now, final=now >= deadline)
            if outcome is None:
                continue
            self.tracker.forget(uid)
            r.awaiting_record.pop(uid, None)
            settled.append(outcome)
        if r.awaiting_record:
            r.recheck_at = min(r.awaiting_record.values())
        if not settled:
            return
        r.progress_dirty = True
        try:
            await self.db(claims.settle, r.lease, settled, self.now_dt())
        except leases.LeaseLost:
            self._lost(r)
            return
        for o in settled:
            if o.result == "unknown":
                self.stats["reconciled_unknown"] += 1
                log.warning("dialer: campaign %s attempt %s: %s", r.conf.id, o.uid, o.note)
            m.RESULTS.labels(str(r.conf.id), o.result).inc()
        self.stats["reconciled_closed"] += len(settled)
        m.RECONCILED.labels(str(r.conf.id), "no").inc(len(settled))

    async def _tick_campaign(self, r: CampaignRunner, now: float) -> None:
        conf = r.conf
        if now - r.hours_checked >= 30.0:
            r.hours_checked = now
            r.within_hours = await self.db(_within_hours, conf.id, self.now_dt())
        # Calls placed in the last second (cps cap). Ticks are 1 s apart, so the previous
        # tick's calls sit at exactly now - 1.0: a small tolerance keeps float noise from
        # counting them twice, which would halve the rate.
        while r.sent_times and r.sent_times[0] <= now - 0.98:
            r.sent_times.popleft()
        if not self.client.connected.is_set() or r.reconcile_needed:
            self._publish(r, now, None, reason="ami_down" if not self.client.connected.is_set() else "reconciling")
            return
        params = conf.params()
        contacts_due = await self.db(claims.contacts_due, conf.id, self.now_dt(), conf.max_channels + 1)
        agents = [AgentView(state, since) for state, since in self.board.views(conf.queue, now)]
        snapshot = PacingSnapshot(
            agents=agents,
            calls_in_flight=self.tracker.in_flight(conf.id),
            queued=self.tracker.queued(conf.id),
            contacts_due=contacts_due,
            within_hours=r.within_hours,
            active=conf.status == "active",
            originated_last_second=len(r.sent_times),
            estimates=r.estimator.estimates(now) if conf.pacing_mode == "predictive" else None,
        )
        decision = decide(snapshot, params, now)
        r.last_decision = decision
        n = decision.calls_to_place
        lease_left = r.lease.expires_at.timestamp() - now
        if n > 0 and lease_left > LEASE_SAFETY:
            t_decision = time.perf_counter()
            try:
                result = await self.db(claims.claim, r.lease, n, self.now_dt(), self.name, decision.effective_mode)
            except leases.LeaseLost:
                self._lost(r)
                return
            if result.attempts:
                r.progress_dirty = True
                await self._originate_batch(r, result.attempts, decision.effective_mode == "predictive",
                                            t_decision, now)
        self._publish(r, now, decision)

    async def _originate_batch(self, r: CampaignRunner, batch: list, predictive: bool, t_decision: float,
                               tick_now: float) -> None:
        conf = r.conf
        now = self.clock()
        tasks = []
        for a in batch:
            kwargs = dial_request(uid=a.uid, phone=a.phone, dial_context=conf.dial_context,
                                  dial_exten=conf.dial_exten, trunk=conf.trunk,
                                  queue=conf.queue, caller_id=conf.caller_id, use_0303=conf.use_0303,
                                  ring_timeout_s=conf.ring_timeout_s, abandon_after_s=conf.abandon_after_s,
                                  campaign_id=conf.id)
            self.tracker.track(a.uid, conf.id, a.contact_id, now, other_uid=kwargs["other_channel_id"],
                               predictive=predictive, abandon_after=conf.abandon_after_s)
            self._sending.add(a.uid)
            task = asyncio.create_task(self._originate(r, a.uid, kwargs))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            tasks.append((a.uid, task))
        # One turn of the loop: every task runs up to its first await, i.e. its
        # Originate bytes are written (or NotConnected is raised without writing).
        await asyncio.sleep(0)
        t_sent = time.perf_counter()
        sent, unsent = [], []
        for uid, task in tasks:
            if task.done() and isinstance(task.exception(), NotConnected):
                unsent.append(uid)
                self.tracker.forget(uid)
            else:
                sent.append(uid)
                r.sent_times.append(tick_now)  # the cps window counts per decision instant
                r.estimator.dialed(now)
                self.latencies.append(t_sent - t_decision)
                m.LATENCY.observe(t_sent - t_decision)
        self.originated.extend(sent)
        self.stats["originates"] += len(sent)
        self.stats["not_sent"] += len(unsent)
        m.ORIGINATES.labels(str(conf.id)).inc(len(sent))
        if unsent:
            m.NOT_SENT.labels(str(conf.id)).inc(len(unsent))
        try:
            await self.db(claims.mark_sent, r.lease, sent, self.now_dt())
            if unsent:
                await self.db(claims.mark_unsent, r.lease, unsent, self.now_dt(), "not sent: AMI not connected")
        except leases.LeaseLost:
            self._lost(r)
        finally:
            for uid, _ in tasks:
                self._sending.discard(uid)

    async def _originate(self, r: CampaignRunner, uid: str, kwargs: dict) -> None:
        try:
            res = await self.client.originate(**kwargs)
        except NotConnected:
            raise
        except OriginateOutcomeUnknown:
            # Written, then the link dropped (or no answer in time): the call may be
            # ringing right now. Never re-sent: reconcile decides.
            self.stats["unknown"] += 1
            r.progress.setdefault("unknown", []).append(uid)
            r.reconcile_needed = True
            return
        except AMIError:
            self.stats["unknown"] += 1
            r.progress.setdefault("unknown", []).append(uid)
            r.reconcile_needed = True
            return
        tracked = self.tracker.calls.get(uid)
        rejected = res.outcome == "rejected"
        # Refused before any channel existed: "Response: Error" (orig-fail-target in
        # ami-login-and-actions.txt: "Extension does not exist.") or an OriginateResponse
        # failure with no channel (orig-fail-async: Reason 0, Uniqueid <unknown>). A
        # network no-answer is Reason 0 too, but its channels came first (cause19 fixture).
        refused = rejected or (res.reason in (0, None) and res.outcome != "answered"
                               and (tracked is None or not tracked.channels_seen))
        note = ""
        if refused:
            detail = res.message if rejected and res.message else f"OriginateResponse Reason {res.reason}"
            note = f"Asterisk: {detail}"
            self.stats["refused"] += 1
            r.refused_in_a_row += 1
            log.warning("dialer: campaign %s attempt %s: Originate %s@%s refused: %s", r.conf.id, uid,
                        kwargs.get("exten"), kwargs.get("context"), detail)
        else:
            r.refused_in_a_row = 0
        steps = self.tracker.originate_result(uid, res.reason, self.clock(), uniqueid=res.uniqueid,
                                              rejected=rejected, note=note)
        self._apply_steps(steps)
        if refused and r.refused_in_a_row >= ORIGINATE_ALARM_AFTER and not r.alarm_raised:
            await self._raise_alarm(r, detail)

    async def _record(self, uid: str) -> None:
        """Start recording an answered call: AMI ``MixMonitor`` on the Originate's channel,
        found by its pre-assigned id (apps/app_mixmonitor.c manager_mixmonitor() looks the
        channel up with ast_channel_get_by_name(), which takes a name or a uniqueid), into
        ``<attempt id>.wav`` in Asterisk's monitor spool (docs/recordings.md). A refusal
        ("No such channel": the customer already hung up) loses only this recording."""
        try:
            reply = await self.client.send_action("MixMonitor", {"Channel": uid, "File": recording_filename(uid)})
        except AMIError as exc:
            self.stats["recordings_failed"] += 1
            log.warning("dialer: MixMonitor for attempt %s not confirmed: %s", uid, exc)
            return
        if (reply.get("Response") or "").lower() != "success":
            self.stats["recordings_failed"] += 1
            log.warning("dialer: MixMonitor for attempt %s refused: %s", uid, reply.get("Message"))
            return
        self.stats["recordings"] += 1

    async def _raise_alarm(self, r: CampaignRunner, detail: str) -> None:
        """Every Originate of the campaign is refused: stop dialing and say why, on the
        campaign (live panel, API) and in the log."""
        r.alarm_raised = True
        r.conf.status = "inactive"  # no more Originates from this runner
        self.stats["alarms"] += 1
        log.error("dialer: campaign %s paused: its last %s Originates were refused by Asterisk (%s); "
                  "check the campaign's dial context/exten and queue on the PBX", r.conf.id,
                  r.refused_in_a_row, detail)
        try:
            await self.db(claims.raise_originate_alarm, r.lease, "originate_failing", detail, self.now_dt())
        except leases.LeaseLost:
            self._lost(r)

    # ------------------------------------------------------------------ dashboards
    def campaign_state(self, r: CampaignRunner, now: float, decision=None, reason: str = "") -> dict:
        counts = self.board.counts(r.conf.queue, now)
        live = self.tracker.live(r.conf.id)
        d = decision or r.last_decision
        return {
            "agents": counts,
            "calls_in_progress": len(live),
            "in_flight": len(self.tracker.in_flight(r.conf.id)),
            "queued": self.tracker.queued(r.conf.id),
            "reason": reason or (d.reason if d else ""),
            "message": _REASON_TEXT.get(reason) or (d.message if d else ""),
            "effective_mode": d.effective_mode if d else "",
            "dialer": self.name,
            "generation": r.lease.generation,
            "at": claims.ts(now).isoformat(),
        }

    def _publish(self, r: CampaignRunner, now: float, decision, reason: str = "") -> None:
        state = self.campaign_state(r, now, decision, reason)
        key = str(r.conf.id)
        counts = state["agents"]
        for k in ("logged", "free", "talking", "wrapup", "paused"):
            m.AGENTS.labels(key, k).set(counts.get(k, 0))
        m.IN_PROGRESS.labels(key).set(state["calls_in_progress"])
        m.DIAL_LEVEL.labels(key).set(state["calls_in_progress"] / counts["logged"] if counts["logged"] else 0)
        # What the pacing controller itself measures (alert CentralDialerAbandonOverCap):
        # the same figures in every dialer process, whatever web page is open.
        m.ABANDON_CAP.labels(key).set(r.conf.max_abandon_rate)
        for window, seconds in (("1h", 3600.0), ("24h", 86400.0)):
            stats = r.estimator.abandonment(now, seconds)
            m.ABANDON_RATE.labels(key, window).set(stats.rate)
            m.ANSWERED_WINDOW.labels(key, window).set(stats.answered)
        if now - r.published < self.opts.publish_every:
            return
        r.published = now
        from central.dialer import live

        org_id, cid = r.conf.organization_id, r.conf.id
        fut = asyncio.get_running_loop().run_in_executor(
            self._executor, functools.partial(_db_call, live.store_state, cid, state))
        fut.add_done_callback(lambda f: f.exception())
        task = asyncio.ensure_future(live.apush(org_id, cid, state))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if r.progress_dirty:
            r.progress_dirty = False
            task = asyncio.ensure_future(self._push_progress(org_id, cid))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _push_progress(self, org_id: int, campaign_id: int) -> None:
        """Contacts by status and the recent attempts to the campaign's open pages (at the
        publish cadence, only after this dialer changed them)."""
        from central.dialer import live

        try:
            payload = await self.db(live.progress, campaign_id)
            await live.apush_progress(org_id, campaign_id, payload)
        except Exception:
            log.warning("dialer: progress of campaign %s not published", campaign_id, exc_info=True)


_REASON_TEXT = {
    "ami_down": "Sem conexão com o Asterisk (AMI): aguardando reconexão.",
    "reconciling": "Conferindo com o Asterisk as chamadas em andamento antes de discar.",
}


# ---------------------------------------------------------------------------- db helpers


def _db_call(fn, *args, **kwargs):
    from django.db import OperationalError, close_old_connections

    for attempt in range(5):
        try:
            return fn(*args, **kwargs)
        except OperationalError as exc:
            # SQLite "database is locked" under two dialer processes, or a PostgreSQL
            # connection that went away: drop the connection and try again shortly.
            close_old_connections()
            if attempt == 4:
                raise
            log.warning("dialer db: %s, retrying", exc)
            time.sleep(0.05 * (attempt + 1))
    return None


def _close_connection() -> None:
    from django.db import connections

    connections.close_all()


def served_campaigns(server_id: int | None, default_organization_ids: tuple[int, ...]):
    """The campaigns an engine attached to ``server_id`` may claim (the claim rule).

    A campaign that references the server, and only when the campaign and the server
    belong to the same organization (a row written around the API cannot send a tenant's
    campaign to another tenant's PBX); plus campaigns with no server set of the
    organizations the default PBX is configured for. Never selected by a server *name*:
    names repeat across tenants."""
    from django.db.models import F, Q

    from central.dialer.models import Campaign

    served = Q(pk__in=[])
    if server_id is not None:
        served |= Q(asterisk_server_id=server_id, organization_id=F("asterisk_server__organization_id"))
    if default_organization_ids:
        served |= Q(asterisk_server__isnull=True, organization_id__in=default_organization_ids)
    return Campaign.objects.filter(served)


def _active_campaigns(server_id: int | None, default_organization_ids: tuple[int, ...],
                      only: tuple[int, ...] | None, limit: int) -> tuple[list[CampaignConf], dict[int, dict]]:
    """Active campaigns this engine serves, and those it refuses to dial (dial settings
    outside ``central.core.outbound``'s rule: a row written before it or in the admin)."""
    from central.core.outbound import campaign_dial_problems
    from central.dialer.models import Campaign

    qs = served_campaigns(server_id, default_organization_ids).filter(status=Campaign.Status.ACTIVE)
    if only is not None:
        qs = qs.filter(id__in=only)
    confs, refused = [], {}
    for c in qs.order_by("id")[:limit]:
        problems = campaign_dial_problems(c)
        if problems:
            refused[c.id] = problems
        else:
            confs.append(CampaignConf.from_model(c))
    return confs, refused


def _dispositions_since(campaign_ids: list[int], after: int | None) -> tuple[int, list[tuple[int, str]]]:
    """``(last id, [(campaign id, agent interface)])`` of dispositions saved after row
    ``after`` (None: start from now, the past is not this engine's wrap-up)."""
    from django.db.models import Max

    from central.dialer.models import Disposition

    if after is None:
        return Disposition.objects.aggregate(m=Max("id"))["m"] or 0, []
    rows = list(Disposition.objects.filter(id__gt=after, campaign_id__in=campaign_ids)
                .order_by("id").values_list("id", "campaign_id", "agent_interface")[:5000])
    last = rows[-1][0] if rows else after
    return last, [(c, i) for _, c, i in rows if i]


def _within_hours(campaign_id: int, now) -> bool:
    from central.dialer.models import Campaign

    return claims.campaign_within_hours(Campaign.objects.get(pk=campaign_id), now)
