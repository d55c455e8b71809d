"""Supervised components of ``central up``: a crash restarts one component, not the process.

``central up`` runs web, simulator, PBX link, dialer, voice, ... as tasks of one asyncio
loop. Before, one task raising took the whole loop down (``run_together`` cancelled the
rest), and a task that died quietly stayed dead. Here each component is a *start
function* (``async def start(context) -> list[Awaitable]``, the contract of every
``central.<app>.embedded`` module) that the supervisor can call again:

* a component whose task raises (or is cancelled by anyone but the supervisor) is
  *crashed*: its other tasks are cancelled, the traceback is logged, the crash counted in
  ``central_component_crashes_total``, the component shown as ``restarting`` and started
  again after an exponential backoff (:class:`Backoff`);
* one that crashes :data:`MAX_FAILURES` times without ever running :data:`STABLE_AFTER`
  seconds in between is marked ``failed`` with its last error and left alone until an
  operator restarts it (``central restart <component>``);
* the other components keep running throughout.

A start function may be called again for a restart, with the same ``context`` dict: it
must rebuild what its tasks need (the simulator reuses its port and secret so the PBX
link and dialer reconnect to the same address). The rules (:class:`Backoff`,
:class:`ComponentState`) are plain code; :class:`Supervisor` is the asyncio adapter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from prometheus_client import Counter, Gauge

log = logging.getLogger("central.supervisor")

StartFn = Callable[[dict], Awaitable[list[Awaitable]]]

#: Component states as ``central status`` and the dashboard show them.
STARTING, RUNNING, RESTARTING, FAILED, IDLE, STOPPED = "starting", "running", "restarting", "failed", "idle", "stopped"
STATES = (STARTING, RUNNING, RESTARTING, FAILED, IDLE, STOPPED)

#: Crashes in a row (none separated by a stable run) after which a component is failed.
MAX_FAILURES = 6
#: A run this long (seconds) counts as healthy: the next crash starts the backoff afresh.
STABLE_AFTER = 60.0

CRASHES = Counter("central_component_crashes_total", "Crashes of a supervised component of central up",
                  ["component"])
COMPONENT_UP = Gauge("central_component_running", "1 while a supervised component of central up runs",
                     ["component"])


@dataclass
class Backoff:
    """Delay before the n-th restart in a row: ``base * 2**(n-1)``, capped at ``cap``."""

    base: float = 1.0
    cap: float = 30.0
    max_failures: int = MAX_FAILURES
    stable_after: float = STABLE_AFTER

    def delay(self, failures: int) -> float:
        return min(self.cap, self.base * (2 ** max(0, failures - 1)))


@dataclass
class ComponentState:
    """What the operator sees of one component; :meth:`crashed` applies the policy."""

    name: str
    state: str = STARTING
    restarts: int = 0
    crashes: int = 0
    failures: int = 0  # crashes in a row without a stable run in between
    last_error: str = ""
    last_error_at: float | None = None
    since: float = field(default_factory=time.time)
    started_at: float | None = None
    retry_at: float | None = None
    #: Called after every change of state (the supervisor's :attr:`Supervisor.changed`).
    on_change: Callable[[], None] | None = field(default=None, repr=False, compare=False)

    def set(self, state: str, now: float | None = None) -> None:
        if state != self.state:
            self.state = state
            self.since = time.time() if now is None else now
            if self.on_change is not None:
                self.on_change()

    def running(self, now: float) -> None:
        self.started_at = now
        self.retry_at = None
        self.set(RUNNING, now)

    def crashed(self, error: str, now: float, policy: Backoff) -> float | None:
        """Record a crash; the delay before the restart, or None once it is failed."""
        if self.started_at is not None and now - self.started_at >= policy.stable_after:
            self.failures = 0
        self.crashes += 1
        self.failures += 1
        self.last_error = error
        self.last_error_at = now
        self.started_at = None
        if self.failures >= policy.max_failures:
            self.retry_at = None
            self.set(FAILED, now)
            return None
        delay = policy.delay(self.failures)
        self.retry_at = now + delay
        self.set(RESTARTING, now)
        return delay

    def as_dict(self) -> dict:
        return {"state": self.state, "since": self.since, "restarts": self.restarts, "crashes": self.crashes,
                "last_error": self.last_error, "last_error_at": self.last_error_at, "retry_at": self.retry_at}


class ComponentKilled(Exception):  # noqa: N818 - what the log says: the component was killed
    """Raised into a component by ``central restart <name> --crash`` (a drill of the self-healing)."""


@dataclass
class Component:
    name: str
    start: StartFn
    #: When its tasks all return normally, the whole process stops (the web server does
    #: on SIGTERM / Ctrl-C).
    stops_process: bool = False


class Supervisor:
    """Starts components in order (each start may read what earlier ones put in
    ``context``) and keeps each running on its own."""

    def __init__(self, components: list[Component], context: dict, policy: Backoff | None = None) -> None:
        self.components = {c.name: c for c in components}
        self.order = [c.name for c in components]
        self.context = context
        self.policy = policy or Backoff()
        #: Set whenever a component changes state: ``central up``'s heartbeat writes its row
        #: then instead of at its next beat, so ``central status`` and the system page show a
        #: crash and the restart when they happen, not up to a heartbeat interval (5 s) later.
        self.changed = asyncio.Event()
        self.states = {c.name: ComponentState(c.name, on_change=self.changed.set) for c in components}
        self.tasks: dict[str, list[asyncio.Future]] = {c.name: [] for c in components}
        self._wake: dict[str, asyncio.Event] = {}
        self._requests: dict[str, str] = {}
        self._runners: dict[str, asyncio.Task] = {}
        self.stopping = asyncio.Event()
        self.on_stop: list[Callable[[], None]] = []

    # ---------------------------------------------------------------- operator requests
    def restart(self, name: str, *, crash: bool = False) -> None:
        """Restart ``name`` now (also a failed one); with ``crash`` kill it as a crash would."""
        if name not in self.components:
            raise KeyError(name)
        self._requests[name] = "crash" if crash else "restart"
        self._wake[name].set()

    def stop(self) -> None:
        if not self.stopping.is_set():
            log.info("stopping central up")
            for hook in self.on_stop:
                with contextlib.suppress(Exception):
                    hook()
            self.stopping.set()

    def status(self) -> dict:
        return {name: self.states[name].as_dict() for name in self.order}

    # ---------------------------------------------------------------- running
    async def run(self) -> None:
        """Start every component in order, then run until :meth:`stop`."""
        try:
            for name in self.order:
                self._wake[name] = asyncio.Event()
                first = asyncio.get_running_loop().create_future()
                self._runners[name] = asyncio.create_task(self._keep(name, first), name=f"supervise-{name}")
                await first  # the next component's start may need what this one put in context
            await self.stopping.wait()
        finally:
            self.stopping.set()
            for name in reversed(self.order):
                runner = self._runners.get(name)
                if runner is not None:
                    runner.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await runner

    async def _start(self, name: str) -> list[asyncio.Future]:
        awaitables = await self.components[name].start(self.context)
        return [asyncio.ensure_future(a) for a in (awaitables or [])]

    async def _keep(self, name: str, first: asyncio.Future) -> None:
        state = self.states[name]
        try:
            while not self.stopping.is_set():
                error: BaseException | str | None = None
                try:
                    tasks = await self._start(name)
                except Exception as exc:
                    tasks, error = [], self._crash(name, exc, "failed to start")
                if not first.done():
                    first.set_result(None)
                if error is not None:
                    await self._after_crash(name, error)
                    continue
                self.tasks[name] = tasks
                if not tasks:
                    state.set(IDLE)  # nothing to run (e.g. no PBX configured)
                    await self._wait_request(name)
                    continue
                state.running(time.time())
                COMPONENT_UP.labels(name).set(1)
                try:
                    outcome = await self._watch(name, tasks)
                finally:
                    COMPONENT_UP.labels(name).set(0)
                    self.tasks[name] = []
                if outcome == "restart":
                    state.restarts += 1
                    state.failures = 0
                    state.set(RESTARTING)
                    log.info("component %s restarting on request", name, extra={"component": name})
                elif outcome == "done":
                    state.set(STOPPED)
                    if self.components[name].stops_process:
                        self.stop()
                        return
                    await self._wait_request(name)
                else:
                    await self._after_crash(name, outcome)
        finally:
            if not first.done():
                first.set_result(None)

    async def _watch(self, name: str, tasks: list[asyncio.Future]) -> str | BaseException:
        """Until a task crashes (its exception), all end ("done") or a request comes."""
        wake = self._wake[name]
        pending = set(tasks)
        try:
            while pending:
                waiter = asyncio.ensure_future(wake.wait())
                try:
                    done, _ = await asyncio.wait(pending | {waiter}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    waiter.cancel()
                for task in done - {waiter}:
                    pending.discard(task)
                    if task.cancelled():
                        # Nobody but the supervisor may cancel a component's task.
                        return ComponentKilled("a task of the component was cancelled")
                    if task.exception() is not None:
                        return task.exception()
                if waiter in done:
                    wake.clear()
                    if self._requests.pop(name, "restart") == "crash":
                        return ComponentKilled("killed by the operator (central restart --crash)")
                    return "restart"
            return "done"
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _crash(self, name: str, exc: BaseException, what: str = "crashed") -> str:
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip()
        log.error("component %s %s: %s", name, what, exc, extra={"component": name, "traceback": text})
        CRASHES.labels(name).inc()
        return f"{type(exc).__name__}: {exc}"

    async def _after_crash(self, name: str, outcome: BaseException | str) -> None:
        state = self.states[name]
        error = outcome if isinstance(outcome, str) else self._crash(name, outcome)
        delay = state.crashed(error, time.time(), self.policy)
        if delay is None:
            log.error("component %s failed: %s crashes in a row, last error: %s (central restart %s "
                      "starts it again)", name, state.failures, error, name, extra={"component": name})
            await self._wait_request(name)
            return
        log.warning("component %s restarting in %.1f s (crash %s in a row)", name, delay, state.failures,
                    extra={"component": name})
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await self._wait_request(name)
                return  # an operator's restart: counted there
        state.restarts += 1
        state.set(RESTARTING)

    async def _wait_request(self, name: str) -> None:
        """Until an operator asks for this component (restart) or the process stops."""
        wake = self._wake[name]
        await wake.wait()
        wake.clear()
        self._requests.pop(name, None)
        state = self.states[name]
        if state.state == FAILED:
            state.failures = 0  # the operator asks for a fresh series of attempts
        state.restarts += 1
        state.set(RESTARTING)
