"""Outbound pacing for one business number, sans-I/O: what may be sent now, and when next.

The Cloud API limits (error codes in parentheses):

* **per business number**: 80 messages per second by default (130429). Kept as a sliding
  window: at most ``number_rate`` sends in any ``window`` seconds, exactly, bursts included.
* **per recipient** ("pair rate", 131056): about one message every 6 s to the same user,
  with short bursts allowed. Kept as a token bucket per recipient: ``recipient_burst``
  messages at once, then one per ``recipient_interval`` seconds. Meta's documentation
  allows bursts of up to 45 messages in 6 s before the pair limit bites; the default burst
  of 3 lets the assistant send its two or three messages in a row without a pause and stays
  far inside it.

Messages to one recipient keep their order: each recipient has its own FIFO and at most
one message in flight (the next one becomes eligible when the caller reports the answer
with :meth:`Pacer.succeeded`, :meth:`Pacer.retry` or :meth:`Pacer.finished`); concurrent
requests to one customer could arrive in any order. A recipient that must wait does not
hold up the others (the next send is the earliest eligible head of any recipient).
When the API still answers with a rate error, :meth:`Pacer.pause_number` /
:meth:`Pacer.pause_recipient` back off exponentially, and :meth:`Pacer.retry` puts the item
back at the front of its recipient's queue.

Pure: the caller passes ``now`` (seconds, any monotonic origin) to every method, so the
tests drive hours of traffic on a fake clock in microseconds, and the asyncio adapter
(``sender.py``) only sleeps for the wait this returns. Never a busy loop: when nothing is
eligible, :meth:`next_ready` returns the exact time until something is.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass, field

NUMBER_RATE = 80
#: One second plus a guard: requests paced exactly at the limit can arrive closer together
#: than they left (a slower claim, a connection being set up), and the platform counts arrivals.
WINDOW = 1.05
RECIPIENT_INTERVAL = 6.0
RECIPIENT_BURST = 3
BACKOFF_BASE = 1.0
BACKOFF_MAX = 60.0


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


@dataclass(slots=True)
class _Recipient:
    items: deque = field(default_factory=deque)  # (item, not_before)
    paused_until: float = 0.0
    failures: int = 0
    in_flight: bool = False  # one message per recipient until its answer: order kept


class Pacer:
    def __init__(self, *, number_rate: int = NUMBER_RATE, window: float = WINDOW,
                 recipient_interval: float = RECIPIENT_INTERVAL, recipient_burst: int = RECIPIENT_BURST) -> None:
        self.number_rate = number_rate
        self.window = window
        self.recipient_interval = recipient_interval
        self.recipient_burst = recipient_burst
        self._sent: deque[float] = deque()  # times of the last ``number_rate`` sends
        self._buckets: dict[Hashable, _Bucket] = {}
        self._recipients: dict[Hashable, _Recipient] = {}
        self._heap: list[tuple[float, int, Hashable]] = []  # (eligible at, seq, recipient)
        self._seq = itertools.count()
        self._number_paused_until = 0.0
        self._number_failures = 0
        self._queued = 0

    def __len__(self) -> int:
        return self._queued

    # --- queueing --------------------------------------------------------------------------------

    def submit(self, item, recipient: Hashable, now: float, *, not_before: float = 0.0) -> None:
        """Queue ``item`` for ``recipient`` (after ``not_before``, e.g. a retry's backoff)."""
        rec = self._recipients.get(recipient)
        if rec is None:
            rec = self._recipients[recipient] = _Recipient()
        rec.items.append((item, not_before))
        self._queued += 1
        if len(rec.items) == 1 and not rec.in_flight:
            self._push(recipient, now)

    def retry(self, item, recipient: Hashable, now: float, delay: float) -> None:
        """Put a sent item back at the front of its recipient's queue, after ``delay``."""
        rec = self._recipients.get(recipient)
        if rec is None:
            rec = self._recipients[recipient] = _Recipient()
        rec.items.appendleft((item, now + delay))
        rec.in_flight = False
        self._queued += 1
        self._push(recipient, now)

    def _eligible_at(self, recipient: Hashable, now: float) -> float:
        rec = self._recipients[recipient]
        _item, not_before = rec.items[0]
        bucket = self._bucket(recipient, now)
        token_at = 0.0 if bucket.tokens >= 1 else now + (1 - bucket.tokens) * self.recipient_interval
        return max(not_before, rec.paused_until, token_at)

    def _push(self, recipient: Hashable, now: float) -> None:
        heapq.heappush(self._heap, (self._eligible_at(recipient, now), next(self._seq), recipient))

    def _bucket(self, recipient: Hashable, now: float) -> _Bucket:
        bucket = self._buckets.get(recipient)
        if bucket is None:
            bucket = self._buckets[recipient] = _Bucket(float(self.recipient_burst), now)
        elif now > bucket.updated:
            bucket.tokens = min(float(self.recipient_burst),
                                bucket.tokens + (now - bucket.updated) / self.recipient_interval)
            bucket.updated = now
        return bucket

    # --- taking -----------------------------------------------------------------------------------

    def _number_free_at(self, now: float) -> float:
        while self._sent and now - self._sent[0] >= self.window:
            self._sent.popleft()
        at = self._number_paused_until
        if len(self._sent) >= self.number_rate:
            at = max(at, self._sent[0] + self.window)
        return max(at, now)

    def next_ready(self, now: float):
        """``(item, recipient, 0.0)`` to send now, or ``(None, None, wait)`` with the seconds until
        something may be eligible (``inf`` when the queue is empty)."""
        free_at = self._number_free_at(now)
        while self._heap:
            eligible, _seq, recipient = self._heap[0]
            rec = self._recipients.get(recipient)
            if rec is None or not rec.items or rec.in_flight:
                heapq.heappop(self._heap)  # re-filed when its answer comes
                continue
            actual = self._eligible_at(recipient, now)
            if actual > eligible + 1e-12:  # a pause or retry moved it: re-file
                heapq.heapreplace(self._heap, (actual, next(self._seq), recipient))
                continue
            start = max(eligible, free_at)
            if start > now:
                return None, None, start - now
            heapq.heappop(self._heap)
            item, _nb = rec.items.popleft()
            self._queued -= 1
            bucket = self._bucket(recipient, now)
            bucket.tokens -= 1
            self._sent.append(now)
            rec.in_flight = True
            return item, recipient, 0.0
        return None, None, float("inf")

    def _forget_if_idle(self, recipient: Hashable) -> None:
        rec = self._recipients.get(recipient)
        if rec is not None and not rec.items and rec.failures == 0 and not rec.in_flight:
            del self._recipients[recipient]
        # the bucket stays until it is full again (see prune)

    def prune(self, now: float) -> None:
        """Drop the state of recipients whose bucket refilled (bounded memory)."""
        full_after = self.recipient_burst * self.recipient_interval
        for recipient in [r for r, b in self._buckets.items()
                          if now - b.updated >= full_after and r not in self._recipients]:
            del self._buckets[recipient]

    # --- feedback from the API ------------------------------------------------------------------------

    def pause_number(self, now: float) -> float:
        """The API said 130429: the whole number backs off (exponentially); returns the pause."""
        self._number_failures += 1
        pause = min(BACKOFF_MAX, BACKOFF_BASE * 2 ** (self._number_failures - 1))
        self._number_paused_until = max(self._number_paused_until, now + pause)
        return pause

    def pause_recipient(self, recipient: Hashable, now: float) -> float:
        """The API said 131056: this recipient backs off; returns the pause."""
        rec = self._recipients.get(recipient)
        if rec is None:
            rec = self._recipients[recipient] = _Recipient()
        rec.failures += 1
        pause = min(BACKOFF_MAX, self.recipient_interval * 2 ** (rec.failures - 1))
        rec.paused_until = max(rec.paused_until, now + pause)
        bucket = self._bucket(recipient, now)
        bucket.tokens = min(bucket.tokens, 0.0)
        return pause

    def succeeded(self, recipient: Hashable, now: float) -> None:
        """A send went through: the backoff counters start over, the recipient's next
        message may go."""
        self._number_failures = 0
        rec = self._recipients.get(recipient)
        if rec is not None:
            rec.failures = 0
        self.finished(recipient, now)

    def finished(self, recipient: Hashable, now: float) -> None:
        """The in-flight message of ``recipient`` is done (sent, failed for good or dropped)."""
        rec = self._recipients.get(recipient)
        if rec is None:
            return
        rec.in_flight = False
        if rec.items:
            self._push(recipient, now)
        else:
            self._forget_if_idle(recipient)
