"""The live log stream: every process's JSON log lines, for the console page and
``central logs -f``.

Each process installs :class:`LiveLogHandler` (settings ``LOGGING``). A line becomes a dict
(the fields of ``central.core.logging.JsonFormatter`` plus ``process``, ``component``,
``host``, ``pid`` and ``tenant``) and goes

* in production (``REDIS_URL`` set), to the Redis stream :data:`STREAM` (``XADD`` with an
  approximate ``MAXLEN``) from a shipper thread, so web processes on any machine read
  every process's lines;
* in the embedded default (``central up``, no Redis), to the in-process :data:`HUB`.

Every buffer is bounded, so a log storm costs dropped lines (counted), never memory: the
handler's queue to the shipper, the Redis stream, the hub's ring buffer, each
subscriber's queue (drops its oldest lines and says how many), and the page's table.

Filtering (:class:`LogFilter`) is plain code shared by the WebSocket consumer and the CLI.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import os
import queue
import socket
import sys
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from . import jsonguard

#: Redis stream holding the recent lines of every process.
STREAM = "central:logs"
#: Lines kept in the Redis stream (approximate trim: Redis cuts whole nodes).
STREAM_MAXLEN = 20_000
#: Lines waiting in one process for the shipper thread before new ones are dropped.
SHIP_QUEUE = 10_000
#: Lines a subscriber (a console page, ``central logs -f``) may fall behind.
SUBSCRIBER_QUEUE = 1_000
#: Levels in order, for "this level and above".
LEVELS = ("debug", "info", "warning", "error", "critical")

_own = threading.local()


def process_kind() -> str:
    """What this process is (``up``, ``web``, ``worker``...): set when it starts its
    heartbeat; until then the ``central`` sub-command it was started with."""
    if _PROCESS["kind"]:
        return _PROCESS["kind"]
    argv = sys.argv
    if len(argv) > 1 and os.path.basename(argv[0]).startswith("central"):
        return argv[1]
    return os.path.basename(argv[0]) or "python"


_PROCESS = {"kind": "", "host": socket.gethostname()}


def set_process_kind(kind: str) -> None:
    _PROCESS["kind"] = kind


def component_of(record: logging.LogRecord) -> str:
    """The part of Central a line comes from: the ``component`` extra (the supervisor's
    lines), else ``central.<app>`` of the logger, else the library (django, uvicorn...)."""
    explicit = getattr(record, "component", None)
    if explicit:
        return str(explicit)
    parts = record.name.split(".")
    if parts[0] == "central" and len(parts) > 1:
        return parts[1]
    return parts[0]


def entry_for(record: logging.LogRecord, formatted: str) -> dict:
    try:
        entry = jsonguard.loads(formatted)
    except ValueError:
        entry = {"msg": formatted}
    entry.pop("request", None)  # the repr of Django's request object says nothing useful here
    entry.setdefault("level", record.levelname.lower())
    entry["process"] = process_kind()
    entry["component"] = component_of(record)
    entry["host"] = _PROCESS["host"]
    entry["pid"] = os.getpid()
    tenant = getattr(record, "tenant", None)
    if tenant:
        entry["tenant"] = str(tenant)
    return entry


# --------------------------------------------------------------------------- filtering
@dataclass
class LogFilter:
    level: str = ""
    process: str = ""
    component: str = ""
    tenant: str = ""
    request_id: str = ""
    text: str = ""

    @classmethod
    def from_dict(cls, data: dict) -> LogFilter:
        def clean(key: str) -> str:
            value = data.get(key)
            return str(value).strip()[:200] if isinstance(value, str | int) else ""

        level = clean("level").lower()
        return cls(level=level if level in LEVELS else "", process=clean("process"),
                   component=clean("component"), tenant=clean("tenant"),
                   request_id=clean("request_id"), text=clean("text").lower())

    def matches(self, entry: dict) -> bool:
        level = entry.get("level")
        if self.level and level in LEVELS and LEVELS.index(level) < LEVELS.index(self.level):
            return False
        if self.process and entry.get("process") != self.process:
            return False
        if self.component and entry.get("component") != self.component:
            return False
        if self.tenant and entry.get("tenant") != self.tenant:
            return False
        if self.request_id and entry.get("request_id") != self.request_id:
            return False
        if self.text:
            haystack = f"{entry.get('msg', '')} {entry.get('logger', '')} {entry.get('exc', '')}".lower()
            if self.text not in haystack:
                return False
        return True


# --------------------------------------------------------------------------- in-process hub
class Subscriber:
    """One reader's bounded queue: when it falls behind, its oldest lines go first."""

    def __init__(self, loop: asyncio.AbstractEventLoop, maxsize: int = SUBSCRIBER_QUEUE) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[dict] = asyncio.Queue(maxsize=maxsize)
        self.dropped = 0

    def offer(self, entry: dict) -> None:
        """Runs on the subscriber's loop."""
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(entry)


class Hub:
    """Recent lines of this process and the subscribers reading them live."""

    def __init__(self, size: int = 2000) -> None:
        self.recent: deque[dict] = deque(maxlen=size)
        self.subscribers: set[Subscriber] = set()
        self.lock = threading.Lock()

    def resize(self, size: int) -> None:
        with self.lock:
            self.recent = deque(self.recent, maxlen=size)

    def publish(self, entry: dict) -> None:
        with self.lock:
            self.recent.append(entry)
            subscribers = list(self.subscribers)
        for sub in subscribers:
            try:
                sub.loop.call_soon_threadsafe(sub.offer, entry)
            except RuntimeError:  # its loop is closed
                self.unsubscribe(sub)

    def subscribe(self, loop: asyncio.AbstractEventLoop) -> Subscriber:
        sub = Subscriber(loop)
        with self.lock:
            self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        with self.lock:
            self.subscribers.discard(sub)

    def backlog(self, flt: LogFilter, limit: int) -> list[dict]:
        with self.lock:
            lines = list(self.recent)
        return [e for e in lines if flt.matches(e)][-limit:]


HUB = Hub()


# --------------------------------------------------------------------------- Redis shipping
class _Shipper:
    """A daemon thread moving lines from a bounded queue to the Redis stream."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.pid = os.getpid()
        self.queue: queue.Queue[dict] = queue.Queue(maxsize=SHIP_QUEUE)
        self.dropped = 0
        self.thread = threading.Thread(target=self._run, name="log-shipper", daemon=True)
        self.thread.start()
        # A short-lived command (central maintenance, a worker child) sends its last lines.
        atexit.register(self.flush, 2.0)

    def flush(self, timeout: float) -> bool:
        """Wait until every queued line was sent (or dropped); False on timeout."""
        with self.queue.all_tasks_done:
            return self.queue.all_tasks_done.wait_for(lambda: self.queue.unfinished_tasks == 0, timeout)

    def offer(self, entry: dict) -> None:
        try:
            self.queue.put_nowait(entry)
        except queue.Full:
            self.dropped += 1

    def _run(self) -> None:
        import redis

        _own.active = True  # lines about shipping problems must not be shipped (a loop)
        client = redis.Redis.from_url(self.url, socket_timeout=5, socket_connect_timeout=5)
        while True:
            batch = [self.queue.get()]
            while len(batch) < 500:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            try:
                pipe = client.pipeline(transaction=False)
                for entry in batch:
                    pipe.xadd(STREAM, {"e": json.dumps(entry, default=str)}, maxlen=STREAM_MAXLEN,
                              approximate=True)
                pipe.execute()
            except Exception:
                self.dropped += len(batch)  # Redis away: the lines stay in the process's stderr
            finally:
                for _ in batch:
                    self.queue.task_done()


_shipper: _Shipper | None = None
_shipper_lock = threading.Lock()


def _ship(entry: dict) -> None:
    global _shipper
    from django.conf import settings

    url = getattr(settings, "REDIS_URL", "")
    if not url:
        HUB.publish(entry)
        return
    # A forked child (Celery's prefork pool) inherits the object but not its thread.
    if _shipper is None or _shipper.pid != os.getpid():
        with _shipper_lock:
            if _shipper is None or _shipper.pid != os.getpid():
                _shipper = _Shipper(url)
    _shipper.offer(entry)


class LiveLogHandler(logging.Handler):
    """Sends each line to the live stream; never raises, never blocks on the network."""

    def __init__(self, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        from .logging import JsonFormatter

        self.setFormatter(JsonFormatter())
        self._sized = False

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(_own, "active", False):
            return
        _own.active = True
        try:
            if not self._sized:
                from django.conf import settings

                HUB.resize(getattr(settings, "LOG_CONSOLE_BUFFER", 2000))
                self._sized = True
            _ship(entry_for(record, self.format(record)))
        except Exception:  # logging must never break the code that logs
            pass
        finally:
            _own.active = False


# --------------------------------------------------------------------------- reading
def redis_backlog(client, flt: LogFilter, limit: int) -> tuple[list[dict], str]:
    """The last ``limit`` matching lines of the stream and the id to follow from."""
    found: list[dict] = []
    last_id = "0-0"  # an empty stream: follow from its start ("$" would miss a line added meanwhile)
    rows = client.xrevrange(STREAM, count=min(STREAM_MAXLEN, max(limit * 20, 1000)))
    if rows:
        last_id = rows[0][0].decode() if isinstance(rows[0][0], bytes) else rows[0][0]
    for _id, fields in rows:
        entry = decode(fields)
        if entry is not None and flt.matches(entry):
            found.append(entry)
            if len(found) >= limit:
                break
    return list(reversed(found)), last_id


def decode(fields: dict) -> dict | None:
    raw = fields.get(b"e") or fields.get("e")
    try:
        return jsonguard.loads(raw)
    except (TypeError, ValueError):
        return None


def format_line(entry: dict) -> str:
    """One line for a terminal: time, level, process/component, message."""
    extra = []
    for key in ("tenant", "request_id"):
        if entry.get(key):
            extra.append(f"{key}={entry[key]}")
    text = (f"{entry.get('ts', '')} {entry.get('level', '').upper():<8} "
            f"{entry.get('process', '')}/{entry.get('component', '')} {entry.get('msg', '')}"
            + (f"  [{' '.join(extra)}]" if extra else ""))
    if entry.get("exc"):
        text += "\n" + entry["exc"]
    elif entry.get("traceback"):
        text += "\n" + entry["traceback"]
    return text


def filter_lines(lines: Iterable[str], flt: LogFilter) -> Iterable[dict]:
    """JSON log lines (a log file) that match; lines that are not JSON are skipped."""
    for line in lines:
        try:
            entry = jsonguard.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            # A file line has no component field: the logger's name says it (as for live lines).
            probe = {**entry, "component": entry.get("component") or component_of(
                logging.LogRecord(entry.get("logger", ""), 0, "", 0, "", (), None))}
            if flt.matches(probe):
                yield entry
