"""The running agent: asyncio adapters around the sans-I/O cores.

One event loop owns the sync state; hashing and PDF parsing run in worker threads, the
watchdog observer in its own thread, and both hand results back to the loop
(``call_soon_threadsafe``), so the state is only ever touched from the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import platform
import socket
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import websockets
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from . import __version__
from . import protocol as p
from .config import Config, Folder
from .core import Backoff, Key, SettleTracker
from .indexer import (
    NETWORK_FILESYSTEMS,
    Found,
    Skipped,
    filesystem_type,
    folder_readable,
    index_file,
    local_path,
    matches,
    stat_signature,
    walk,
    wire_path,
)
from .store import Store
from .uploader import ProgressThrottle, upload

log = logging.getLogger("central_agent")
logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per chunk is noise
SCAN_CHUNK = 200  # files indexed per hand-over from the scan thread to the loop


class AgentStopped(Exception):
    """The agent must stop and not retry (token revoked, version refused...)."""


def os_description() -> str:
    return f"{platform.system()} {platform.release()} ({platform.machine()})".strip()


def local_ips() -> list[str]:
    """This machine's addresses (no packet is sent): interfaces on Linux, the host name's
    addresses elsewhere (Windows lists every interface that way)."""
    ips: set[str] = set()
    if sys.platform.startswith("linux"):
        import fcntl
        import struct

        for _, name in socket.if_nameindex():
            with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                packed = fcntl.ioctl(s.fileno(), 0x8915, struct.pack("256s", name.encode()[:15]))  # SIOCGIFADDR
                ips.add(socket.inet_ntoa(packed[20:24]))
    with contextlib.suppress(OSError):
        for info in socket.getaddrinfo(socket.gethostname(), None):
            ips.add(str(info[4][0]))
    public = sorted(ip for ip in ips if not ip.startswith(("127.", "::1")))
    return public or sorted(ips)


class Agent:
    def __init__(self, cfg: Config, *, stop_event: asyncio.Event | None = None) -> None:
        self.cfg = cfg
        self.store = Store(cfg.db_file)
        self.state = self.store.load()
        self.folders: dict[str, Folder] = {f.name: f for f in cfg.folders}
        self.settle = SettleTracker(quiet=cfg.settle)
        self.skipped: dict[str, Counter] = {f.name: Counter() for f in cfg.folders}
        self.watch_mode: dict[str, str] = {}
        self.started = time.time()
        self.started_mono = time.monotonic()
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="index")
        self.kick = asyncio.Event()
        self.stop_event = stop_event or asyncio.Event()
        self.ws = None
        self.outbox: list[p.Message] = []  # upload_error/upload_stale kept across a drop
        self.uploads: dict[str, asyncio.Task] = {}
        self.upload_orders: dict[str, p.UploadRequest] = {}
        self.ack_event = asyncio.Event()  # set on every index_ack
        self.observers: list = []
        self.status: dict = {"state": "starting"}
        self.welcome: p.Welcome | None = None
        self.last_error: str | None = None
        self.scans_done = 0
        self.scan_done = asyncio.Event()
        self.http: httpx.AsyncClient | None = None

    # --- status file ----------------------------------------------------------------------

    def folder_stats(self) -> list[p.FolderStats]:
        files: Counter = Counter()
        size: Counter = Counter()
        errors: Counter = Counter()
        for (folder, _), entry in self.state.current.items():
            files[folder] += 1
            size[folder] += entry.size
            if entry.error:
                errors[folder] += 1
        return [
            p.FolderStats(folder=f.name, path=f.path, files=files[f.name], bytes=size[f.name],
                          errors=errors[f.name], skipped=dict(self.skipped[f.name]),
                          readable=folder_readable(f.path),
                          watch="polling" if self.watch_mode.get(f.name) == "polling" else "native")
            for f in self.cfg.folders
        ]

    def write_status(self, state: str, **extra) -> None:
        self.status = {
            "state": state,
            "pid": os.getpid(),
            "version": __version__,
            "server": self.cfg.server,
            "agent_id": self.welcome.agent_id if self.welcome else None,
            "name": self.welcome.name if self.welcome else None,
            "started_at": self.started,
            "updated_at": time.time(),
            "files": len(self.state.current),
            "pending_changes": self.state.pending,
            "acked_seq": self.state.acked_seq,
            "active_uploads": len(self.uploads),
            "last_error": self.last_error,
            "folders": [s.to_dict() for s in self.folder_stats()],
            **extra,
        }
        tmp = self.cfg.status_file.with_suffix(".tmp")
        tmp.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(self.status, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(tmp, self.cfg.status_file)

    # --- index ----------------------------------------------------------------------------

    def _apply(self, folder: str, results: list) -> None:
        """Scan/index results from a worker thread, applied in the loop."""
        keys: list[Key] = []
        for rel, entry, signature in results:
            key = (folder, rel)
            if entry is not None:
                self.store.signatures[key] = signature
            self.state.set_entry(key, entry)
            keys.append(key)
        if keys:
            self.store.save_entries(self.state, keys)
            self.kick.set()

    def _scan_folder(self, folder: Folder, loop: asyncio.AbstractEventLoop,
                     known: dict[Key, tuple[int, int]]) -> tuple[set[str], Counter]:
        """Walk one folder in a worker thread; unchanged files (same size+mtime as the cache,
        ``known``: a snapshot taken in the loop) are not read again."""
        seen: set[str] = set()
        skipped: Counter = Counter()
        batch: list = []
        for item in walk(folder.path, list(self.cfg.include)):
            if self.stop_event.is_set():
                break
            if isinstance(item, Skipped):
                skipped[item.reason] += 1
                log.warning("skipped", extra={"folder": folder.name, "path": item.rel,
                                              "reason": item.reason, "detail": item.detail})
                continue
            assert isinstance(item, Found)
            seen.add(item.rel)
            if known.get((folder.name, item.rel)) == (item.size, item.mtime_ns):
                continue
            entry, signature, skip = index_file(item.abs)
            if skip is not None:
                skipped[skip.reason] += 1
                log.warning("skipped", extra={"folder": folder.name, "path": item.rel,
                                              "reason": skip.reason, "detail": skip.detail})
                continue
            if entry is None:
                loop.call_soon_threadsafe(self.settle.touch, (folder.name, item.rel), time.monotonic())
                continue
            batch.append((item.rel, entry, signature))
            if len(batch) >= SCAN_CHUNK:
                loop.call_soon_threadsafe(self._apply, folder.name, batch)
                batch = []
        if batch:
            loop.call_soon_threadsafe(self._apply, folder.name, batch)
        return seen, skipped

    async def full_scan(self) -> None:
        loop = asyncio.get_running_loop()
        for folder in self.cfg.folders:
            if not folder_readable(folder.path):
                self.last_error = f"folder not readable: {folder.path}"
                log.error("folder not readable", extra={"folder": folder.name, "path": folder.path})
            seen, skipped = await loop.run_in_executor(self.pool, self._scan_folder, folder, loop,
                                                       dict(self.store.signatures))
            await asyncio.sleep(0)  # let the queued _apply calls run first
            self.skipped[folder.name] = skipped
            gone = [key for key in self.state.current if key[0] == folder.name and key[1] not in seen
                    and stat_signature(local_path(folder.path, key[1])) is None]
            for key in gone:
                self.state.set_entry(key, None)
            if gone:
                self.store.save_entries(self.state, gone)
        self.scans_done += 1
        self.scan_done.set()
        self.kick.set()
        log.info("scan done", extra={"files": len(self.state.current), "pending": self.state.pending})

    async def _periodic_rescan(self) -> None:
        if self.cfg.rescan <= 0:
            return
        while True:
            await asyncio.sleep(self.cfg.rescan)
            await self.full_scan()

    # --- watcher --------------------------------------------------------------------------

    def _on_event(self, folder: str, kind: str, src: str, dest: str | None, is_dir: bool) -> None:
        """A watchdog event (in the loop). Files go through the settle tracker; deletions and
        moves apply at once (a move keeps the entry: no re-hash when size+mtime match)."""
        root = self.folders[folder].path
        now = time.monotonic()
        include = list(self.cfg.include)
        try:
            rel = wire_path(root, src)
            p.check_path(rel)
        except (ValueError, p.ProtocolError):
            return
        if is_dir:
            if kind in ("deleted", "moved"):
                prefix = rel + "/"
                new_prefix = None
                if kind == "moved" and dest:
                    with contextlib.suppress(ValueError, p.ProtocolError):
                        new_prefix = p.check_path(wire_path(root, dest)) + "/"
                for key in [k for k in self.state.current if k[0] == folder and k[1].startswith(prefix)]:
                    new_key = (folder, new_prefix + key[1][len(prefix):]) if new_prefix else None
                    self._move(key, new_key)
            if kind in ("created", "moved"):
                self._touch_tree(folder, dest if kind == "moved" and dest else src)
            return
        key = (folder, rel)
        if kind == "deleted":
            self.settle.forget(key)
            self._move(key, None)
        elif kind == "moved":
            new_key = None
            if dest:
                with contextlib.suppress(ValueError, p.ProtocolError):
                    new_rel = p.check_path(wire_path(root, dest))
                    if matches(new_rel, include):
                        new_key = (folder, new_rel)
            self.settle.forget(key)
            self._move(key, new_key)
            if new_key:
                self.settle.touch(new_key, now)
        elif kind in ("created", "modified", "closed") and matches(rel, include):
            self.settle.touch(key, now)

    def _move(self, key: Key, new_key: Key | None) -> None:
        entry = self.state.current.get(key)
        signature = self.store.signatures.get(key)
        self.state.set_entry(key, None)
        keys = [key]
        if new_key is not None and entry is not None and signature is not None:
            self.store.signatures[new_key] = signature
            self.state.set_entry(new_key, entry)
            keys.append(new_key)
        self.store.save_entries(self.state, keys)
        self.kick.set()

    def _touch_tree(self, folder: str, directory: str) -> None:
        root = self.folders[folder].path
        now = time.monotonic()
        for item in walk(directory, list(self.cfg.include)):
            if isinstance(item, Found):
                with contextlib.suppress(ValueError, p.ProtocolError):
                    self.settle.touch((folder, p.check_path(wire_path(root, item.abs))), now)

    async def _settle_loop(self) -> None:
        """Index files whose size and mtime stayed still for ``settle`` seconds."""
        tick = max(0.05, min(self.cfg.settle / 2, 0.5))
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            for key in self.settle.pending():
                path = local_path(self.folders[key[0]].path, key[1])
                signature = stat_signature(path)
                if signature is None:
                    self.settle.forget(key)
                    if key in self.state.current:
                        self._move(key, None)
                    continue
                if not self.settle.observe(key, signature, now):
                    continue
                if self.store.signatures.get(key) == signature and key in self.state.current:
                    continue
                entry, new_signature, skip = await loop.run_in_executor(self.pool, index_file, path)
                if skip is not None:
                    self.skipped[key[0]][skip.reason] += 1
                    log.warning("skipped", extra={"folder": key[0], "path": key[1],
                                                  "reason": skip.reason, "detail": skip.detail})
                    continue
                if entry is None:
                    self.settle.touch(key, time.monotonic())  # still changing
                    continue
                self._apply(key[0], [(key[1], entry, new_signature)])

    def start_watchers(self, loop: asyncio.AbstractEventLoop) -> None:
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer
        from watchdog.observers.polling import PollingObserver

        agent = self

        class Handler(FileSystemEventHandler):
            def __init__(self, folder: str) -> None:
                self.folder = folder

            def on_any_event(self, event) -> None:
                if event.event_type in ("opened", "closed_no_write"):
                    return
                src = os.fsdecode(event.src_path)
                dest = os.fsdecode(event.dest_path) if getattr(event, "dest_path", "") else None
                loop.call_soon_threadsafe(agent._on_event, self.folder, event.event_type, src, dest,
                                          event.is_directory)

        for folder in self.cfg.folders:
            mode = self.cfg.watch
            if mode == "auto" and filesystem_type(folder.path) in NETWORK_FILESYSTEMS:
                mode = "polling"
            observer = None
            if mode in ("auto", "native"):
                try:
                    observer = Observer()
                    observer.schedule(Handler(folder.name), folder.path, recursive=True)
                    observer.start()
                    mode = "native"
                except OSError as exc:
                    log.warning("native watcher failed, polling instead",
                                extra={"folder": folder.name, "error": str(exc)})
                    observer = None
                    mode = "polling"
            if observer is None:
                observer = PollingObserver(timeout=self.cfg.poll_interval)
                try:
                    observer.schedule(Handler(folder.name), folder.path, recursive=True)
                    observer.start()
                except OSError as exc:
                    self.last_error = f"cannot watch {folder.path}: {exc}"
                    log.error("cannot watch folder", extra={"folder": folder.name, "error": str(exc)})
                    continue
            self.watch_mode[folder.name] = mode
            self.observers.append(observer)
            log.info("watching", extra={"folder": folder.name, "path": folder.path, "mode": mode})

    def stop_watchers(self) -> None:
        for observer in self.observers:
            observer.stop()
        for observer in self.observers:
            observer.join(timeout=5)
        self.observers = []

    # --- connection -----------------------------------------------------------------------

    async def send(self, message: p.Message) -> bool:
        ws = self.ws
        if ws is None:
            return False
        try:
            await ws.send(p.encode(message))
            return True
        except ConnectionClosed:
            return False

    def hello(self) -> p.Hello:
        return p.Hello(protocol=p.PROTOCOL_VERSION, version=__version__, os=os_description(),
                       hostname=socket.gethostname(), ips=local_ips(), folders=self.folder_stats(),
                       heartbeat=self.cfg.heartbeat, started_at=self.started)

    async def connection_loop(self) -> None:
        """Connect, serve, and reconnect with backoff until stopped (or told to stop)."""
        backoff = Backoff(cap=self.cfg.backoff_cap)
        headers = {p.AUTH_HEADER: p.auth_header_value(self.cfg.token)}
        while not self.stop_event.is_set():
            code = None
            try:
                self.write_status("connecting")
                async with connect(self.cfg.ws_url(), additional_headers=headers,
                                   origin=self.cfg.server.rstrip("/"), max_size=p.MAX_MESSAGE_BYTES,
                                   open_timeout=10, ping_interval=20, ping_timeout=20,
                                   user_agent_header=f"central-agent/{__version__}") as ws:
                    self.ws = ws
                    try:
                        await self._session(ws, backoff)
                    finally:
                        self.ws = None
                        self.state.on_disconnect()
                    code = ws.close_code
            except InvalidStatus as exc:
                # Central accepts, then closes with CLOSE_TOKEN_INVALID for a bad token; a bare
                # 403 comes from a proxy or a server still starting: retry. 401 is explicit.
                status = exc.response.status_code
                if status == 401:
                    raise AgentStopped(p.close_reason(p.CLOSE_TOKEN_INVALID)) from exc
                self.last_error = f"handshake refused: HTTP {status}"
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd else None
                self.last_error = p.close_reason(code)
            except (OSError, TimeoutError, InvalidHandshake, p.ProtocolError) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
            if p.close_is_fatal(code):
                raise AgentStopped(p.close_reason(code))
            if code is not None and self.last_error is None:
                self.last_error = p.close_reason(code)
            if self.stop_event.is_set():
                break
            delay = backoff.next_delay()
            log.warning("disconnected, reconnecting", extra={"error": self.last_error, "code": code,
                                                             "delay": round(delay, 2)})
            self.write_status("disconnected", reconnect_in=delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop_event.wait(), delay)

    async def _session(self, ws, backoff: Backoff) -> None:
        await ws.send(p.encode(self.hello()))
        raw = await asyncio.wait_for(ws.recv(), p.HELLO_TIMEOUT)
        welcome = p.decode(raw, p.CENTRAL_MESSAGES)
        if not isinstance(welcome, p.Welcome):
            raise p.ProtocolError(f"expected welcome, got {welcome.TYPE}")
        self.welcome = welcome
        mode = self.state.on_welcome(welcome)
        if mode == "reset":
            self.store.save_all_acked(self.state)
        else:
            self.store.save_sync(self.state, list(self.state.acked))
        backoff.reset()
        self.last_error = None
        log.info("connected", extra={"agent_id": welcome.agent_id, "mode": mode,
                                     "last_seq": welcome.last_seq, "pending": self.state.pending})
        self.write_status("connected", mode=mode)
        outbox, self.outbox = self.outbox, []
        for message in outbox:
            await ws.send(p.encode(message))
        self.kick.set()
        tasks = [asyncio.create_task(coro) for coro in
                 (self._sender(ws), self._heartbeat(ws), self._receiver(ws))]
        tasks.append(asyncio.create_task(self.stop_event.wait()))
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task.exception() is not None:
                    raise task.exception()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if self.stop_event.is_set():
                await ws.close(p.CLOSE_GOING_AWAY, "agent stopping")

    async def _sender(self, ws) -> None:
        while True:
            self.kick.clear()
            batch = self.state.next_batch()
            if batch is None:
                await self.kick.wait()
                continue
            self.store.save_sync(self.state)
            await ws.send(p.encode(batch))
            log.info("batch sent", extra={"seq": batch.seq, "changes": len(batch.changes),
                                          "reset": batch.reset})

    async def _heartbeat(self, ws) -> None:
        while True:
            await asyncio.sleep(self.cfg.heartbeat)
            beat = p.Heartbeat(uptime=time.monotonic() - self.started_mono, folders=self.folder_stats(),
                               pending_changes=self.state.pending, active_uploads=len(self.uploads),
                               last_error=self.last_error)
            await ws.send(p.encode(beat))
            self.write_status("connected")

    async def _receiver(self, ws) -> None:
        async for raw in ws:
            try:
                message = p.decode(raw, p.CENTRAL_MESSAGES)
            except p.ProtocolError as exc:
                log.error("bad message from Central", extra={"error": str(exc)})
                await ws.close(p.CLOSE_PROTOCOL_ERROR, "bad message")
                return
            if isinstance(message, p.IndexAck):
                batch = self.state.inflight.batch if self.state.inflight else None
                if self.state.on_ack(message) and batch is not None:
                    keys = {(c.folder, c.path) for c in batch.changes}
                    keys |= {(c.folder, c.old_path) for c in batch.changes if c.old_path}
                    self.store.save_sync(self.state, list(keys))
                    self.kick.set()
                    self.ack_event.set()
            elif isinstance(message, p.Resync):
                log.warning("Central asked for a full resync", extra={"reason": message.reason})
                self.state.on_resync()
                self.store.save_all_acked(self.state)
                self.kick.set()
            elif isinstance(message, p.UploadRequest):
                self._start_upload(message)
            elif isinstance(message, p.UploadCancel):
                task = self.uploads.get(message.transfer_id)
                if task:
                    task.cancel()
            elif isinstance(message, p.Error):
                log.warning("error from Central", extra={"code": message.code, "detail": message.detail})

    # --- uploads --------------------------------------------------------------------------

    def _start_upload(self, request: p.UploadRequest) -> None:
        """One task per transfer. The same order again while it runs is a duplicate; a new
        order for the same transfer (Central re-requests after upload_stale, with the new
        checksum) runs once the current task is done."""
        tid = request.transfer_id
        running = self.uploads.get(tid)
        if running is not None and self.upload_orders.get(tid) == request:
            return

        async def serve() -> None:
            if running is not None:
                await asyncio.wait([running])
            await self._serve_upload(request)

        task = asyncio.create_task(serve())
        self.uploads[tid] = task
        self.upload_orders[tid] = request

        def done(_task: asyncio.Task, tid: str = tid) -> None:
            if self.uploads.get(tid) is _task:
                self.uploads.pop(tid, None)
                self.upload_orders.pop(tid, None)

        task.add_done_callback(done)

    async def _wait_acked(self, key: Key, timeout: float = 15.0) -> None:
        """Until Central acknowledged the current state of ``key`` (or ``timeout``): an
        upload_stale then reaches a Central that already holds the new digest and size."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while self.state.acked.get(key) != self.state.current.get(key):
                    self.kick.set()
                    await self.ack_event.wait()
                    self.ack_event.clear()

    async def _notify(self, message: p.Message) -> None:
        """upload_error / upload_stale: kept for the next connection if this one is down."""
        if not await self.send(message):
            self.outbox.append(message)

    async def _serve_upload(self, request: p.UploadRequest) -> None:
        tid = request.transfer_id
        key = (request.folder, request.path)
        folder = self.folders.get(request.folder)
        log.info("upload requested", extra={"transfer_id": tid, "folder": request.folder,
                                            "path": request.path})
        if folder is None or key not in self.state.current:
            await self._notify(p.UploadError(transfer_id=tid, code="not_found",
                                             detail="not in this agent's index"))
            return
        path = local_path(folder.path, request.path)
        stale = await self._stale_reason(key, path, request)
        if stale is None:
            signature = self.store.signatures[key]
            throttle = ProgressThrottle()

            async def progress(offset: int, size: int, attempt: int) -> None:
                if throttle.due(offset, size):
                    await self.send(p.UploadProgress(transfer_id=tid, offset=offset, size=size,
                                                     attempt=attempt))

            assert self.http is not None
            result = await upload(self.http, self.cfg.server, self.cfg.token, tid, path,
                                  request.size, signature, progress)
            log.info("upload finished", extra={"transfer_id": tid, "state": result.state,
                                               "detail": result.detail, "sent": result.sent_bytes,
                                               "resumed_from": result.resumed_from})
            if result.state == "error":
                await self._notify(p.UploadError(transfer_id=tid, code=result.code or "unreadable",
                                                 detail=result.detail))
                return
            if result.state != "stale":
                return
            stale = await self._stale_reason(key, path, request, force=True) or "modified"
        await self._wait_acked(key)
        entry = self.state.current.get(key)
        log.warning("upload refused: file changed since indexing",
                    extra={"transfer_id": tid, "path": request.path, "reason": stale})
        await self._notify(p.UploadStale(transfer_id=tid, folder=request.folder, path=request.path,
                                         reason=stale, sha256=entry.sha256 if entry else None))

    async def _stale_reason(self, key: Key, path: str, request: p.UploadRequest,
                            force: bool = False) -> str | None:
        """Re-index the file if its size/mtime moved; the reason it cannot be sent, if any."""
        signature = stat_signature(path)
        if signature is None:
            self._move(key, None)
            return "deleted"
        if force or signature != self.store.signatures.get(key):
            loop = asyncio.get_running_loop()
            entry, new_signature, _skip = await loop.run_in_executor(self.pool, index_file, path)
            if entry is None:
                self.settle.touch(key, time.monotonic())
                return "modified"
            self._apply(key[0], [(key[1], entry, new_signature)])
        entry = self.state.current.get(key)
        if entry is None or entry.sha256 != request.sha256 or entry.size != request.size:
            return "modified"
        return None

    # --- main -----------------------------------------------------------------------------

    async def run(self) -> None:
        """Scan, watch, connect; returns when ``stop_event`` is set, raises AgentStopped."""
        loop = asyncio.get_running_loop()
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=10.0),
                                      verify=self.cfg.verify_tls,
                                      headers={"User-Agent": f"central-agent/{__version__}"})
        log.info("starting", extra={"version": __version__, "server": self.cfg.server,
                                    "folders": [f.path for f in self.cfg.folders]})
        self.start_watchers(loop)
        background = [asyncio.create_task(self._settle_loop()),
                      asyncio.create_task(self.full_scan()),
                      asyncio.create_task(self._periodic_rescan())]
        try:
            await self.connection_loop()
        except AgentStopped as exc:
            self.last_error = str(exc)
            self.write_status("stopped", stopped_reason=str(exc))
            log.error("agent stopped", extra={"reason": str(exc)})
            raise
        finally:
            self.stop_event.set()
            for task in background + list(self.uploads.values()):
                task.cancel()
            await asyncio.gather(*background, *self.uploads.values(), return_exceptions=True)
            self.stop_watchers()
            await self.http.aclose()
            self.pool.shutdown(wait=True, cancel_futures=True)
            if self.status.get("state") != "stopped":
                self.write_status("stopped", stopped_reason="shut down")
            self.store.close()


__all__ = ["Agent", "AgentStopped", "local_ips", "os_description", "websockets"]
