"""The live log console's WebSocket (``/ws/logs/``): installation admins only.

Log lines cross tenants (one process serves them all), so only platform operators
(``central.core.operators.is_operator``) may open it; anyone else is closed with 4403
before a line is read. The page sends its filter (``{"type": "filter", "level": ...}``);
the socket answers with the recent matching lines, then new ones in batches
(``{"type": "logs", "lines": [...], "dropped": n}``). Lines come from Redis in production
and from the in-process hub in the embedded default (``central.core.logstream``).
"""

from __future__ import annotations

import asyncio
import logging

from django.conf import settings

from central.core.logstream import HUB, STREAM, LogFilter, decode, redis_backlog
from central.core.operators import is_operator
from central.core.wsjson import GuardedJsonConsumer

log = logging.getLogger(__name__)

#: Lines sent when a page opens or changes its filter.
BACKLOG = 300
#: Most lines in one message (a storm arrives as a few large batches, not thousands of frames).
BATCH = 200


class LogConsumer(GuardedJsonConsumer):
    pump: asyncio.Task | None = None
    closed = False

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        if not is_operator(user):
            await self.close(code=4403)
            return
        self.filter = LogFilter()
        await self.accept()
        self._restart()

    async def disconnect(self, code: int) -> None:
        self.closed = True
        if self.pump is not None:
            # Not awaited: a blocking XREAD being cancelled may take its block time to let go.
            self.pump.cancel()

    async def receive_json(self, content, **kwargs) -> None:
        if not isinstance(content, dict):
            return
        if content.get("type") == "filter":
            self.filter = LogFilter.from_dict(content)
            self._restart()
        elif content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    def _restart(self) -> None:
        if self.pump is not None:
            self.pump.cancel()
        self.pump = asyncio.ensure_future(self._pump(self.filter))

    async def _pump(self, flt: LogFilter) -> None:
        try:
            if settings.REDIS_URL:
                await self._from_redis(flt)
            else:
                await self._from_hub(flt)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("log console stream failed", exc_info=True)

    def _current(self) -> bool:
        """True while the running pump is this socket's current one.

        A pump replaced by a new filter (or a closed socket) is cancelled, but a blocking
        XREAD does not always give the cancellation back (under load one went on reading,
        sent every line a second time and kept the test's event loop from closing); each
        pump checks this after every read and ends itself instead of relying on it.
        """
        return not self.closed and self.pump is asyncio.current_task()

    async def _send(self, lines: list[dict], backlog: bool = False, dropped: int = 0) -> None:
        if not self._current():
            raise asyncio.CancelledError  # a stale pump: nothing more from it
        await self.send_json({"type": "logs", "lines": lines, "backlog": backlog, "dropped": dropped})

    async def _from_hub(self, flt: LogFilter) -> None:
        sub = HUB.subscribe(asyncio.get_running_loop())
        try:
            await self._send(HUB.backlog(flt, BACKLOG), backlog=True)
            reported = 0
            while True:
                batch = [await sub.queue.get()]
                while len(batch) < BATCH and not sub.queue.empty():
                    batch.append(sub.queue.get_nowait())
                lines = [e for e in batch if flt.matches(e)]
                if lines or sub.dropped != reported:
                    await self._send(lines, dropped=sub.dropped - reported)
                    reported = sub.dropped
        finally:
            HUB.unsubscribe(sub)

    async def _from_redis(self, flt: LogFilter) -> None:
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(settings.REDIS_URL, socket_timeout=15)
        try:
            backlog, last_id = await _backlog(client, flt)
            await self._send(backlog, backlog=True)
            while self._current():
                rows = await client.xread({STREAM: last_id}, block=5000, count=BATCH)
                lines = []
                for _stream, entries in rows or []:
                    for entry_id, fields in entries:
                        last_id = entry_id
                        entry = decode(fields)
                        if entry is not None and flt.matches(entry):
                            lines.append(entry)
                if lines:
                    await self._send(lines)
        finally:
            await client.aclose()


async def _backlog(client, flt: LogFilter) -> tuple[list[dict], str]:
    class _Sync:  # redis_backlog's reads, awaited
        def __init__(self, rows):
            self.rows = rows

        def xrevrange(self, *_args, **_kwargs):
            return self.rows

    rows = await client.xrevrange(STREAM, count=max(BACKLOG * 20, 1000))
    return redis_backlog(_Sync(rows), flt, BACKLOG)
