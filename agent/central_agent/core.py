"""Sans-I/O cores of the agent: reconnect backoff, settle tracking, index sync, upload cursor.

Nothing here touches the network, the disk or the clock: callers pass ``now`` and random
numbers in, and act on what comes out. The asyncio adapters (``runtime``, ``uploader``,
``watcher``) stay thin, and every rule of the protocol is tested here without sockets.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from . import protocol as p

Key = tuple[str, str]  # (folder name, wire path)


# --- Reconnect backoff ---------------------------------------------------------------------


@dataclass
class Backoff:
    """Exponential backoff with "equal jitter": the n-th delay is uniform in
    [d/2, d] with d = min(cap, base * factor**n). Half the delay is guaranteed (so a flapping
    server is not hammered); the random half spreads many agents that lost Central at the
    same moment (a deploy) instead of having them all return in the same second."""

    base: float = 1.0
    factor: float = 2.0
    cap: float = 60.0
    rand: Callable[[], float] = random.random
    attempt: int = 0

    def next_delay(self) -> float:
        ceiling = min(self.cap, self.base * self.factor**self.attempt)
        self.attempt += 1
        return ceiling / 2 + self.rand() * ceiling / 2

    def reset(self) -> None:
        """After a connection that got as far as Welcome: the next drop starts small again."""
        self.attempt = 0


# --- Waiting for a file to stop growing ----------------------------------------------------


@dataclass
class SettleTracker:
    """Files seen by the watcher wait here until their (size, mtime) has not changed for
    ``quiet`` seconds: watchdog's "created" fires when a copy starts, and hashing a half
    copied file would index bytes that never existed."""

    quiet: float = 2.0
    _seen: dict[Key, tuple[tuple[int, int] | None, float]] = field(default_factory=dict)

    def touch(self, key: Key, now: float) -> None:
        """An event for this file: (re)start its quiet period."""
        self._seen[key] = (None, now)

    def observe(self, key: Key, signature: tuple[int, int] | None, now: float) -> bool:
        """Record the file's current (size, mtime_ns) (``None``: gone); True when it is ready.

        Ready means: observed with the same signature as the previous observation, and that
        previous one is at least ``quiet`` seconds old."""
        previous, since = self._seen.get(key, (None, now))
        if signature is None:
            self._seen.pop(key, None)
            return False
        if signature != previous:
            self._seen[key] = (signature, now)
            return False
        if now - since >= self.quiet:
            self._seen.pop(key, None)
            return True
        return False

    def forget(self, key: Key) -> None:
        self._seen.pop(key, None)

    def pending(self) -> list[Key]:
        return list(self._seen)

    def __len__(self) -> int:
        return len(self._seen)


# --- Index synchronisation -----------------------------------------------------------------


def diff(acked: dict[Key, p.Entry], current: dict[Key, p.Entry],
         keys: Iterable[Key] | None = None) -> list[p.Change]:
    """The changes that turn ``acked`` (what Central holds) into ``current``.

    ``keys`` limits the comparison to the keys that may differ (the dirty set). A deletion
    and an addition in the same folder with the same SHA-256 and size become one
    ``renamed`` (the document keeps its identity, its cache and history in Central).
    Deterministic order: renames, then additions/modifications, then deletions, each sorted.
    """
    candidates = set(acked) | set(current) if keys is None else set(keys)
    added: list[Key] = []
    modified: list[Key] = []
    deleted: list[Key] = []
    for key in candidates:
        old, new = acked.get(key), current.get(key)
        if old is None and new is not None:
            added.append(key)
        elif old is not None and new is None:
            deleted.append(key)
        elif old is not None and new is not None and old != new:
            modified.append(key)
    by_content: dict[tuple[str, str, int], list[Key]] = {}
    for key in sorted(deleted):
        entry = acked[key]
        if entry.sha256 is not None:
            by_content.setdefault((key[0], entry.sha256, entry.size), []).append(key)
    renames: list[p.Change] = []
    plain_added: list[Key] = []
    for key in sorted(added):
        entry = current[key]
        matches = by_content.get((key[0], entry.sha256 or "", entry.size)) if entry.sha256 else None
        if matches:
            old_key = matches.pop(0)
            deleted.remove(old_key)
            renames.append(p.Change(op="renamed", folder=key[0], path=key[1], entry=entry,
                                    old_path=old_key[1]))
        else:
            plain_added.append(key)
    changes = renames
    changes += [p.Change(op="added", folder=k[0], path=k[1], entry=current[k]) for k in plain_added]
    changes += [p.Change(op="modified", folder=k[0], path=k[1], entry=current[k])
                for k in sorted(modified)]
    changes += [p.Change(op="deleted", folder=k[0], path=k[1]) for k in sorted(deleted)]
    return changes


def apply_changes(state: dict[Key, p.Entry], changes: Iterable[p.Change]) -> None:
    """Apply changes to a key -> entry map (what Central does, and the agent's acked view)."""
    for change in changes:
        key = (change.folder, change.path)
        if change.op == "deleted":
            state.pop(key, None)
        else:
            if change.op == "renamed":
                state.pop((change.folder, change.old_path or ""), None)
            assert change.entry is not None
            state[key] = change.entry


@dataclass
class Inflight:
    batch: p.IndexBatch


@dataclass
class SyncState:
    """The agent's side of "send only the difference since the last acknowledged state".

    ``current`` is what is on disk (as indexed), ``acked`` what Central acknowledged,
    ``dirty`` the keys where they may differ. One batch is in flight at a time. The store
    persists all of it, so a restart of the agent also resumes from the difference.
    """

    index_id: str
    current: dict[Key, p.Entry] = field(default_factory=dict)
    acked: dict[Key, p.Entry] = field(default_factory=dict)
    acked_seq: int = 0
    inflight: Inflight | None = None
    reset_pending: bool = True  # until Central acknowledged a reset batch of this index
    dirty: set[Key] = field(default_factory=set)
    connected: bool = False

    def set_entry(self, key: Key, entry: p.Entry | None) -> None:
        """The indexer's result for one file (``None``: the file is gone)."""
        if entry is None:
            if self.current.pop(key, None) is not None or key in self.acked:
                self.dirty.add(key)
        elif self.current.get(key) != entry:
            self.current[key] = entry
            self.dirty.add(key)

    def on_welcome(self, welcome: p.Welcome) -> str:
        """Decide how to resume after (re)connecting; returns ``"resume"`` or ``"reset"``."""
        self.connected = True
        known = welcome.index_id == self.index_id and not self.reset_pending
        if known and self.inflight is not None and welcome.last_seq == self.inflight.batch.seq:
            self._ack_inflight()  # Central applied it but the ack was lost with the connection
        self.inflight = None
        if known and welcome.last_seq == self.acked_seq:
            return "resume"
        self.force_reset()
        return "reset"

    def force_reset(self) -> None:
        """Full resynchronisation: Central will drop what it has; send everything."""
        self.acked = {}
        self.acked_seq = 0
        self.inflight = None
        self.reset_pending = True
        self.dirty = set(self.current)

    def on_resync(self) -> None:
        self.force_reset()

    def on_disconnect(self) -> None:
        self.connected = False

    def next_batch(self) -> p.IndexBatch | None:
        """The next batch to send, or ``None`` (nothing to send, or one still in flight)."""
        if not self.connected or self.inflight is not None:
            return None
        changes = diff(self.acked, self.current, self.dirty)
        if not changes:
            self.dirty.clear()
            if self.reset_pending:
                # An empty index still has to tell Central to forget what it held.
                batch = p.IndexBatch(index_id=self.index_id, seq=1, changes=[], reset=True)
                self.inflight = Inflight(batch)
                return batch
            return None
        piece = p.split_changes(changes)[0]
        batch = p.IndexBatch(index_id=self.index_id, seq=self.acked_seq + 1 if not self.reset_pending else 1,
                             changes=piece, reset=self.reset_pending)
        self.inflight = Inflight(batch)
        return batch

    def on_ack(self, ack: p.IndexAck) -> bool:
        """Central stored a batch; True if it was the one in flight."""
        if self.inflight is None or ack.seq != self.inflight.batch.seq or ack.index_id != self.index_id:
            return False
        self._ack_inflight()
        return True

    def _ack_inflight(self) -> None:
        assert self.inflight is not None
        batch = self.inflight.batch
        apply_changes(self.acked, batch.changes)
        self.acked_seq = batch.seq
        self.reset_pending = False
        for change in batch.changes:
            for key in ((change.folder, change.path), (change.folder, change.old_path or "")):
                if self.acked.get(key) == self.current.get(key):
                    self.dirty.discard(key)
        self.inflight = None

    @property
    def pending(self) -> int:
        """How many keys still differ from what Central holds (an upper bound)."""
        return len(self.dirty)


# --- Upload cursor -------------------------------------------------------------------------


@dataclass(frozen=True)
class SendChunk:
    """Stream the file from ``offset`` to its end (``length`` bytes) as framed chunks."""

    offset: int
    length: int


@dataclass(frozen=True)
class Finished:
    state: str  # "complete" or "rejected"
    detail: str | None = None


@dataclass(frozen=True)
class GiveUp:
    code: str  # an UploadErrorCode
    detail: str


@dataclass(frozen=True)
class Retry:
    """Wait ``delay`` seconds, then ask Central for its offset (GET) and go on."""

    delay: float
    attempt: int


UploadAction = SendChunk | Finished | GiveUp | Retry


@dataclass
class UploadCursor:
    """Where a resumable upload stands and what to do next; Central's offset always wins.

    Feed it the outcome of each HTTP exchange (``on_status``/``on_failure``); it answers the
    next action. Each send streams the rest of the file from Central's offset in one request
    (``chunk_size`` is the frame size the adapter uses). Attempts count drops and server
    errors (3 by default, with backoff); a corrupt chunk (422) is resent at once from
    Central's offset and costs an attempt too, so a link that mangles every chunk cannot
    loop forever."""

    size: int
    chunk_size: int = p.CHUNK_SIZE
    attempts: int = p.UPLOAD_ATTEMPTS
    backoff: Backoff = field(default_factory=lambda: Backoff(base=1.0, cap=10.0))
    offset: int = 0
    attempt: int = 1

    def start(self) -> UploadAction:
        return self._send()

    def _send(self) -> UploadAction:
        return SendChunk(self.offset, self.size - self.offset)

    def on_status(self, http_status: int, status: p.UploadStatus | None) -> UploadAction:
        if status is not None and http_status in (p.UPLOAD_OK, p.UPLOAD_OFFSET_MISMATCH, p.UPLOAD_CHUNK_CORRUPT):
            if status.size != self.size:
                return GiveUp("gone", f"Central expects {status.size} bytes, the file has {self.size}")
            self.offset = status.offset
        if http_status in (p.UPLOAD_OK, p.UPLOAD_OFFSET_MISMATCH) and status is not None:
            if status.state in ("complete", "rejected"):
                return Finished(status.state, status.detail)
            if http_status == p.UPLOAD_OK and status.offset == self.size:
                # All bytes in but not yet verified: ask again (Central verifies on the last chunk).
                return self.on_failure("all bytes sent but the transfer is not complete")
            return self._send()
        if http_status == p.UPLOAD_CHUNK_CORRUPT:
            return self._spend("chunk checksum mismatch", immediate=True)
        if http_status in (401, 403):
            return GiveUp("unauthorized", f"HTTP {http_status}")
        if http_status in (404, p.UPLOAD_GONE):
            return GiveUp("gone", f"HTTP {http_status}")
        return self.on_failure(f"HTTP {http_status}")

    def on_failure(self, detail: str) -> UploadAction:
        """A dropped connection, a timeout or a 5xx."""
        return self._spend(detail, immediate=False)

    def _spend(self, detail: str, immediate: bool) -> UploadAction:
        if self.attempt >= self.attempts:
            return GiveUp("attempts_exhausted", detail)
        self.attempt += 1
        if immediate:
            return self._send()
        return Retry(self.backoff.next_delay(), self.attempt)
