"""The WhatsApp webhook (``GET``/``POST /webhooks/whatsapp``) served in front of Django.

Why not only the Django view: profiled under bench/whatsapp_webhook.py, most of a
delivery's CPU went to Django's request machinery (the whole middleware stack: sessions,
CSRF, auth, locale, CSP, messages...; the request object; the URL resolver) and to
asgiref's ``sync_to_async`` hop for the synchronous view, not to the check and the insert.
A delivery needs none of that: it carries no cookie, no session, no CSRF token, and its
answer is decided by :func:`webhook.check_delivery` alone. So this wrapper answers it
with the *same* functions as the view (:mod:`.webhook`: one implementation of the checks,
answers and metrics) and keeps what the stack gave that matters here:

* the body limit: a body without ``Content-Length`` or over ``limit_for(path)`` goes to
  Django (``core.bodylimit.BodyLimitASGI`` answers its 413 / 400, exactly as before);
* the request id (``X-Request-ID`` kept when sane, else made; echoed; set for the logs of
  the check) and the HTTP metrics under the view's route label;
* a durable insert before the 200: the deliveries are handed to one writer thread
  (:class:`DeliveryWriter`) which checks each, inserts the rows of every delivery waiting
  in one ``INSERT … ON CONFLICT DO NOTHING`` (autocommit: committed when it returns), and
  only then settles their answers on the event loop. One thread hop per *batch* instead of
  asgiref's per-request thread-sensitive executor; under load batches grow and the cost
  per delivery falls. A batch the database refuses is retried delivery by delivery, so one
  bad delivery cannot make its neighbours fail; a refused one is a 503 (Meta retries).

Nothing here answers 500: an unexpected error in the check is logged and answered 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import re
import threading
import time
import uuid
from urllib.parse import parse_qs

from django.db import DatabaseError, connection

from central.core.bodylimit import limit_for
from central.core.logging import reset_request_id, set_request_id
from central.core.metrics import HTTP_ERRORS, HTTP_LATENCY, HTTP_REQUESTS

from . import webhook
from .webhook import Answer

log = logging.getLogger(__name__)

#: The URL of the Django view (central/urls.py) this serves first; also its metrics route label.
WEBHOOK_PATH = "/webhooks/whatsapp"
MAX_BATCH = 256
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")  # core.middleware.RequestIdMiddleware's rule


class _Item:
    __slots__ = ("loop", "future", "request_id", "header", "body")

    def __init__(self, loop, future, request_id, header, body) -> None:
        self.loop, self.future, self.request_id, self.header, self.body = loop, future, request_id, header, body


def _settle(pairs: list[tuple[asyncio.Future, Answer]]) -> None:
    for future, answer in pairs:
        if not future.done():
            future.set_result(answer)


def answer_batch(items: list[_Item]) -> list[Answer]:
    """Check every delivery, insert the rows of the accepted ones, return their answers.

    Runs in the writer thread (synchronous Django database access)."""
    answers: list[Answer | None] = [None] * len(items)
    pending: list[tuple[int, list]] = []
    for i, item in enumerate(items):
        token = set_request_id(item.request_id)
        try:
            result = webhook.check_delivery(item.header, item.body)
        except Exception:  # never a 500; Meta retries a 503
            log.exception("whatsapp webhook: check failed")
            result = webhook.UNAVAILABLE
        finally:
            reset_request_id(token)
        if isinstance(result, Answer):
            answers[i] = result
        else:
            pending.append((i, result))
    if pending:
        everything = [row for _, rows in pending for row in rows]
        if _store(everything, items[pending[0][0]].request_id, final=len(pending) == 1):
            results = [(i, True) for i, _ in pending]
        else:  # one by one: a delivery the database refuses must not fail its neighbours
            results = [(i, _store(rows, items[i].request_id, final=True)) for i, rows in pending] \
                if len(pending) > 1 else [(pending[0][0], False)]
        for i, ok in results:
            answers[i] = webhook.stored(ok)
        if any(ok for _, ok in results):
            try:
                webhook.wake_processing()
            except Exception:  # the periodic pick-up gets them
                log.exception("whatsapp webhook: could not wake the processing")
    return [a if a is not None else webhook.UNAVAILABLE for a in answers]


def _store(rows: list, request_id: str, *, final: bool) -> bool:
    try:
        webhook.store(rows)
        return True
    except DatabaseError:
        if final:
            token = set_request_id(request_id)
            try:
                log.exception("whatsapp webhook: durable insert failed")
            finally:
                reset_request_id(token)
        connection.close_if_unusable_or_obsolete()
        return False


class DeliveryWriter:
    """One thread that answers the queued deliveries in batches (see the module docstring)."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, request_id: str, header: str | None, body: bytes) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._ensure_thread()
        self._queue.put(_Item(loop, future, request_id, header, body))
        return future

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="whatsapp-webhook-writer", daemon=True)
                self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """End the thread once the queued deliveries are answered; its connection is closed."""
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._queue.put(None)
            thread.join(timeout)

    def _run(self) -> None:
        try:
            self._serve()
        finally:
            connection.close()

    def _serve(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stopping = False
            while len(batch) < MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            try:
                answers = answer_batch(batch)
            except Exception:
                log.exception("whatsapp webhook: batch failed")
                answers = [webhook.UNAVAILABLE] * len(batch)
            by_loop: dict = {}
            for item, answer in zip(batch, answers, strict=True):
                by_loop.setdefault(item.loop, []).append((item.future, answer))
            for loop, pairs in by_loop.items():
                with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits for these
                    loop.call_soon_threadsafe(_settle, pairs)
            if stopping:
                return


_writer = DeliveryWriter()


async def _read_body(receive, length: int) -> bytes | None:
    """The body (at most ``length`` bytes, already checked against the limit), or None when
    the client went away."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > length:
            return None  # more than announced: the server closes such a connection anyway
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


class WhatsAppWebhookASGI:
    """Answers GET/POST on :data:`WEBHOOK_PATH`; everything else (and oversized or chunked
    bodies, other methods) goes to ``app`` (Django behind ``BodyLimitASGI``)."""

    def __init__(self, app, writer: DeliveryWriter | None = None) -> None:
        self.app = app
        self.writer = writer or _writer

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"] != WEBHOOK_PATH or scope["method"] not in ("GET", "POST"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        length: int | None = None
        if scope["method"] == "POST":
            try:
                length = int(headers.get(b"content-length", b""))
            except ValueError:
                length = None
            if length is None or length > limit_for(WEBHOOK_PATH):
                await self.app(scope, receive, send)  # its 413 / 400, or a chunked body
                return
        started = time.perf_counter()
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        if scope["method"] == "GET":
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
            token = set_request_id(request_id)
            try:
                answer = webhook.verification(*(query.get(k, [""])[-1] for k in
                                                 ("hub.mode", "hub.verify_token", "hub.challenge")))
            finally:
                reset_request_id(token)
        else:
            body = await _read_body(receive, length or 0)
            if body is None:
                return  # the client went away before sending the body: nothing stored
            header = headers.get(b"x-hub-signature-256")
            answer = await self.writer.submit(request_id, header.decode("latin-1") if header else None, body)
        out = [(b"content-type", answer.content_type.encode()), (b"x-request-id", request_id.encode()),
               (b"content-length", str(len(answer.body)).encode())]
        out += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers]
        await send({"type": "http.response.start", "status": answer.status, "headers": out})
        await send({"type": "http.response.body", "body": answer.body})
        method = scope["method"]
        HTTP_REQUESTS.labels(method, WEBHOOK_PATH, str(answer.status)).inc()
        HTTP_LATENCY.labels(method, WEBHOOK_PATH).observe(time.perf_counter() - started)
        if answer.status >= 500:
            HTTP_ERRORS.labels(method, WEBHOOK_PATH).inc()
