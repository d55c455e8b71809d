"""The voice process: listeners per AI extension, hot reload, status.

Config comes from a loader (the database in production, see :mod:`central.voice.loader`).
Every successful load is written to a JSON snapshot; when the loader fails the snapshot is
used; when nothing is configured a compatibility pair listens on 8080/8081.

Refresh compares the new config with the running one per extension: an extension whose
bind address or ports changed gets new listeners; one whose other settings changed gets a
new call context for *new* calls; calls in progress keep the context they started with.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field

from central.voice import metrics as voice_metrics
from central.voice.audiosocket.server import Listener, Pacer, pacer_for_loop
from central.voice.calls import CallContext, ResidentCall, VisitorCall, VoiceRuntime
from central.voice.config import (
    COMPAT_BIND_IP,
    COMPAT_PORT,
    COMPAT_RETURN_PORT,
    ExtensionConfig,
    VoiceConfig,
    compat_config,
    read_snapshot,
    write_snapshot,
)
from central.voice.flows.concierge import PHRASES
from central.voice.phrases import PhraseCache
from central.voice.providers.registry import ConfigError, build_providers

log = logging.getLogger(__name__)

#: Trail entries per call in progress that status reports (the page shows the latest).
CALL_EVENTS = 30

#: Sample rates the phrase cache is warmed for: slin8 (AudioSocket() app) and slin16
#: (chan_audiosocket c(slin16), audiosocket-chan-slin16.bin).
WARM_RATES = (8000, 16000)


@dataclass
class ExtensionRuntime:
    config: ExtensionConfig
    ctx: CallContext
    ai: Listener
    ret: Listener
    started_at: float = field(default_factory=time.time)
    #: Listeners replaced by a restart whose calls are still in progress.
    retired: list[Listener] = field(default_factory=list)

    def visitor_sessions(self) -> int:
        self.retired = [r for r in self.retired if r.sessions]
        return len(self.ai.sessions) + sum(len(r.sessions) for r in self.retired if r.label.startswith("ramal"))

    def resident_sessions(self) -> int:
        return len(self.ret.sessions) + sum(len(r.sessions) for r in self.retired if r.label.startswith("retorno"))

    def calls(self, events: int = CALL_EVENTS) -> list[dict]:
        """Visits in progress on this extension with their flow's trail so far (what the
        voice page follows live): cheap, read only when status is asked for."""
        wall = time.time() - time.monotonic()  # flow times are monotonic
        out = []
        for listener in (self.ai, *[r for r in self.retired if r.label.startswith("ramal")]):
            for session in list(listener.sessions):
                call = session.handler
                flow = getattr(call, "flow", None)
                if flow is None or not hasattr(call, "visit_id"):
                    continue
                unit = getattr(flow, "unit", None)
                out.append({
                    "visit_id": call.visit_id,
                    "call_uuid": str(session.uuid or ""),
                    "state": getattr(getattr(flow, "state", None), "value", ""),
                    "unit": unit.label if unit is not None else (getattr(flow, "unit_number", None) or ""),
                    "visitor": getattr(flow, "visitor_name", None) or "",
                    "started_at": round(call.started_at + wall, 3),
                    "events": [{"at": round(t + wall, 3), "event": e, "detail": d}
                               for t, e, d in list(flow.audit)[-events:]],
                })
        return out

    def status(self) -> dict:
        c = self.config
        visitors, residents = self.visitor_sessions(), self.resident_sessions()
        return {
            "ramal": c.number,
            "ramal_retorno": c.return_number,
            "organization": c.organization,
            "organization_id": c.organization_id,
            "bind_ip": c.bind_ip,
            "port_configured": c.port,
            "port": self.ai.port,
            "return_port_configured": c.return_port,
            "return_port": self.ret.port,
            "port_changed": self.ai.port != c.port or self.ret.port != c.return_port,
            "active_sessions": visitors + residents,
            "visitor_sessions": visitors,
            "resident_sessions": residents,
            "sessions_total": self.ai.stats.sessions_total + self.ret.stats.sessions_total,
            "protocol_errors": self.ai.stats.protocol_errors + self.ret.stats.protocol_errors,
            # Connections dropped for not behaving like Asterisk (no UUID in time, nothing
            # received for IDLE_TIMEOUT) or refused over the listener's connection cap.
            "handshake_timeouts": self.ai.stats.handshake_timeouts + self.ret.stats.handshake_timeouts,
            "idle_timeouts": self.ai.stats.idle_timeouts + self.ret.stats.idle_timeouts,
            "refused_over_cap": self.ai.stats.refused_over_cap + self.ret.stats.refused_over_cap,
            "calls": self.calls(),
            "providers": {
                "stt": self.ctx.providers.stt.name,
                "tts": self.ctx.providers.tts.name,
                "reply": self.ctx.providers.reply.name,
            },
        }


class VoiceService:
    def __init__(
        self,
        *,
        loader=None,
        snapshot_path: str | None = None,
        runtime: VoiceRuntime | None = None,
        stt_override=None,
        warm: bool = True,
        compat_bind_ip: str = COMPAT_BIND_IP,
        compat_ports: tuple[int, int] = (COMPAT_PORT, COMPAT_RETURN_PORT),
        caches: dict[str, PhraseCache] | None = None,
    ) -> None:
        self.loader = loader
        self.snapshot_path = snapshot_path
        self.runtime = runtime or VoiceRuntime()
        self.stt_override = stt_override
        self.warm = warm
        self.compat_bind_ip = compat_bind_ip
        #: Where the compatibility pair listens; tests pass (0, 0) so they never compete
        #: for 8080/8081 with a Central running on the same host.
        self.compat_ports = compat_ports
        self.extensions: dict[str, ExtensionRuntime] = {}
        self.failed: dict[str, str] = {}  # ramal -> why it is not running
        self.config = VoiceConfig()
        self.caches: dict[str, PhraseCache] = caches if caches is not None else {}
        self.pacer: Pacer | None = None
        self.load_error = ""
        self.started_at = time.time()
        self._lock = asyncio.Lock()

    # -- config -------------------------------------------------------------------------
    async def load_config(self) -> VoiceConfig:
        config: VoiceConfig | None = None
        self.load_error = ""
        if self.loader is not None:
            try:
                # In a thread: Django's ORM refuses to run on the event loop thread, and a
                # slow database must not delay the pacer.
                config = await asyncio.to_thread(self.loader)
            except Exception as exc:  # DB down, bad rows: run on the last known config
                self.load_error = f"{type(exc).__name__}: {exc}"
                log.warning("voice config: loader failed (%s); trying snapshot", self.load_error)
            else:
                if self.snapshot_path:
                    write_snapshot(config, self.snapshot_path)
        if config is None and self.snapshot_path:
            config = read_snapshot(self.snapshot_path)
        if config is None or not config.enabled():
            log.info("voice config: nothing configured, starting the 8080/8081 compatibility pair")
            config = compat_config(self.compat_bind_ip, *self.compat_ports)
        return config

    def _cache_for(self, ext: ExtensionConfig, providers) -> PhraseCache:
        key = json.dumps(ext.providers.get("tts", []), sort_keys=True)
        cache = self.caches.get(key)
        if cache is None:
            cache = self.caches[key] = PhraseCache(providers.tts)
        return cache

    def _context(self, ext: ExtensionConfig) -> CallContext:
        providers = build_providers(ext.providers, stt_override=self.stt_override)
        return CallContext(ext, providers, self._cache_for(ext, providers))

    async def _warm(self, ctx: CallContext) -> None:
        if self.warm:
            texts = [ctx.extension.greeting, *PHRASES.values()]
            await ctx.cache.warm(texts, WARM_RATES)

    # -- listeners ----------------------------------------------------------------------
    async def _start_extension(self, ext: ExtensionConfig) -> ExtensionRuntime:
        ctx = self._context(ext)
        await self._warm(ctx)
        rt: ExtensionRuntime

        def visitor_factory(session):
            return VisitorCall(session, rt.ctx, self.runtime)

        def resident_factory(session):
            return ResidentCall(session, rt.ctx, self.runtime)

        ai = Listener(visitor_factory, f"ramal {ext.number}", self.pacer)
        ret = Listener(resident_factory, f"retorno {ext.return_number or ext.number}", self.pacer)
        rt = ExtensionRuntime(ext, ctx, ai, ret)
        await ai.start(ext.bind_ip, ext.port)
        try:
            await ret.start(ext.bind_ip, ext.return_port)
        except BaseException:
            # Whatever stops the return leg (no free port, a cancelled start) must not leave
            # the visitor port bound with nothing that will ever close it.
            ai.stop_listening()
            raise
        ctx.return_port = ret.port
        self.runtime.return_addresses[ext.number] = (ext.bind_ip, ret.port)
        log.info(
            "ramal %s (%s): visitors on %s:%d, return leg on %s:%d",
            ext.number, ext.organization, ext.bind_ip, ai.port, ext.bind_ip, ret.port,
        )
        return rt

    async def start(self) -> None:
        self.pacer = pacer_for_loop()
        voice_metrics.track(self)
        async with self._lock:
            self.config = await self.load_config()
            for ext in self.config.enabled():
                await self._try_start(ext)

    async def _try_start(self, ext: ExtensionConfig) -> ExtensionRuntime | None:
        """Start one extension; a bad one (no free port, address not on this host, bad
        provider settings) is reported in status and never stops the others."""
        try:
            rt = await self._start_extension(ext)
        except (OSError, ConfigError, ValueError, TypeError) as exc:
            self.failed[ext.number] = f"{type(exc).__name__}: {exc}"
            log.error("ramal %s not started: %s", ext.number, self.failed[ext.number])
            return None
        self.failed.pop(ext.number, None)
        self.extensions[ext.number] = rt
        return rt

    async def refresh(self, organization_id: int | None = None) -> dict:
        """Reload config; restart only listeners whose address changed.

        The reload is for every tenant (one process serves them all); the report lists
        only ``organization_id``'s extensions when one is given (the tenant API's view)."""
        async with self._lock:
            new = await self.load_config()
            report: dict[str, list[str]] = {"started": [], "restarted": [], "updated": [], "stopped": [], "unchanged": []}
            owners = {n: rt.config.organization_id for n, rt in self.extensions.items()}
            wanted: dict[str, ExtensionConfig] = {}
            for e in new.enabled():
                # Numbers are installation-unique in the database; a config that still has
                # a number twice (an old snapshot) never hands one tenant's listener to
                # another: the organization already serving it keeps it.
                holder = wanted.get(e.number)
                running = self.extensions.get(e.number)
                if holder is None or (running is not None and e.organization_id == running.config.organization_id):
                    wanted[e.number] = e
                if holder is not None:
                    log.error("ramal %s configured by two organizations; one is ignored", e.number)
            owners.update({n: e.organization_id for n, e in wanted.items()})
            for number in [n for n in self.failed if n not in wanted]:
                del self.failed[number]
            for number in list(self.extensions):
                if number not in wanted:
                    gone = self.extensions.pop(number)
                    gone.ai.stop_listening()  # calls in progress continue
                    gone.ret.stop_listening()
                    report["stopped"].append(number)
            for number, ext in wanted.items():
                cur = self.extensions.get(number)
                if cur is None:
                    if await self._try_start(ext):
                        report["started"].append(number)
                    else:
                        report.setdefault("failed", []).append(number)
                elif cur.config == ext:
                    report["unchanged"].append(number)
                elif cur.config.listener_key() == ext.listener_key() \
                        and cur.config.organization_id == ext.organization_id:
                    try:
                        ctx = self._context(ext)
                    except (ConfigError, ValueError, TypeError) as exc:
                        self.failed[number] = f"{type(exc).__name__}: {exc} (old settings kept)"
                        report.setdefault("failed", []).append(number)
                        continue
                    await self._warm(ctx)
                    ctx.return_port = cur.ret.port
                    cur.config, cur.ctx = ext, ctx  # new calls only
                    report["updated"].append(number)
                elif await self._restart(number, ext):
                    report["restarted"].append(number)
                else:
                    report.setdefault("failed", []).append(number)
            self.config = new
            if organization_id is not None:
                report = {k: [n for n in v if owners.get(n) == organization_id] for k, v in report.items()}
            return report

    async def _restart(self, number: str, ext: ExtensionConfig | None = None) -> ExtensionRuntime | None:
        cur = self.extensions.pop(number)
        ext = ext or cur.config
        cur.ai.stop_listening()
        cur.ret.stop_listening()
        await asyncio.sleep(0)
        rt = await self._try_start(ext)
        if rt is None and ext is not cur.config:
            error = self.failed[number]
            rt = await self._try_start(cur.config)  # the new settings fail: keep serving the old
            if rt is not None:
                self.failed[number] = f"{error} (old settings kept)"
        if rt is not None:
            # Calls in progress stay on the old listeners; keep counting them until they end.
            rt.retired = [r for r in (*cur.retired, cur.ai, cur.ret) if r.sessions]
        return rt

    async def restart(self, number: str, organization_id: int | None = None) -> dict:
        """Restart one extension's listeners; with ``organization_id``, only if it is that
        organization's (another tenant's number is "not running", KeyError)."""
        async with self._lock:
            rt = self.extensions.get(number)
            if rt is None or (organization_id is not None and rt.config.organization_id != organization_id):
                raise KeyError(number)
            rt = await self._restart(number)
            if rt is None:
                raise OSError(self.failed.get(number, "restart failed"))
            return rt.status()

    async def watch(self, probe, interval: float = 2.0, seen=None) -> None:
        """Reload by itself when ``probe()`` (run in a thread: the database's config
        version) changes, so a new or edited extension listens within ``interval`` seconds
        without anyone calling refresh.  Runs until cancelled; a failing probe (database
        down) is retried at the next tick, the listeners keep what they have.  ``seen`` is
        the version read before the config this service started from."""
        while True:
            try:
                version = await asyncio.to_thread(probe)
            except Exception as exc:  # database down: keep serving, try again
                log.debug("voice config version unavailable: %s", exc)
            else:
                # A first successful read while serving a snapshot (database was down at
                # start) is a change too.
                if (seen is not None and version != seen) or (seen is None and self.config.source == "snapshot"):
                    report = await self.refresh()
                    changed = {k: v for k, v in report.items() if v and k != "unchanged"}
                    log.info("voice config version %s -> %s: %s", seen, version, changed or "no listener change")
                seen = version
            await asyncio.sleep(interval)

    async def stop(self) -> None:
        for rt in self.extensions.values():
            for listener in (rt.ai, rt.ret, *rt.retired):
                listener.close_all()
        self.extensions.clear()

    # -- status -------------------------------------------------------------------------
    def status(self) -> dict:
        pacer = self.pacer
        turns = list(self.runtime.turns)
        totals = sorted(t["total_ms"] for t in turns if t["total_ms"])

        def pct(p: float) -> float:
            return totals[min(len(totals) - 1, int(len(totals) * p / 100))] if totals else 0.0

        return {
            "config_source": self.config.source,
            "config_error": self.load_error,
            "failed_extensions": dict(self.failed),
            "uptime_s": round(time.time() - self.started_at, 1),
            "extensions": [rt.status() for rt in self.extensions.values()],
            "active_sessions": sum(
                rt.visitor_sessions() + rt.resident_sessions() for rt in self.extensions.values()
            ),
            "pacer": {
                "frames_sent": pacer.stats.frames_sent if pacer else 0,
                "frames_dropped": pacer.stats.frames_dropped if pacer else 0,
                "lateness_p99_ms": round(pacer.lateness.percentile(99) * 1000, 2) if pacer else 0.0,
                "tick_start_p99_ms": round(pacer.wake.percentile(99) * 1000, 2) if pacer else 0.0,
            },
            "turns": turns[-20:],
            "turn_latency_ms": {"p50": pct(50), "p95": pct(95), "count": len(totals)},
            "visits": [
                {"visit_id": v.visit_id, "ramal": v.extension, "outcome": v.outcome, "unit": v.unit,
                 "visitor": v.visitor_name}
                for v in list(self.runtime.visits)[-20:]
            ],
        }
