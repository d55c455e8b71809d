"""The outbound sender: queued messages to the Cloud API within the rate limits.

The asyncio adapter around :class:`central.messaging.pacer.Pacer` (one per business
number). It runs in exactly one process: ``central up`` (embedded default) or, in
production, ``central whatsapp`` (one per installation, like ``central beat``; the pacing
is exact because one process sees every send).

For each message, in order:

1. **claim** it in the database (``queued`` → ``sending``, a conditional update) and check,
   right before the HTTP call, everything that may have changed while it waited: a bot
   message whose conversation left ``bot`` (``services.bot_may_speak``), an opt-out, the
   24 h window (a message that waited past it fails locally with 131047's reason: no HTTP
   call). Such messages end ``canceled`` / ``failed`` without leaving the process;
2. **send** (``graph.send_message``, pinned to the checked address);
3. **record**: ``sent`` with its wamid; a rate error (130429 the number, 131056 the
   recipient) pauses the pacer and puts the message back at the front of its recipient's
   queue; other transient errors (5xx, network, 131000, 131016) retry with exponential
   backoff; permanent errors, or :data:`MAX_ATTEMPTS` tries, end ``failed`` with the API's
   code and title (shown to the user through ``error_reason``).

A message left ``sending`` by a crash may or may not have reached Meta (the API has no
idempotency key): at start it is marked ``failed`` with that reason instead of being sent a
second time, and the agent decides.

:func:`wake` (called by ``services`` after a message is queued) and :func:`request_read`
are thread-safe no-ops until a sender runs in this process; otherwise the sender polls the
queue every :data:`POLL_SECONDS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable
from datetime import timedelta

import httpx
from asgiref.sync import sync_to_async
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy

from central.core.db import release_connection

from . import cloudapi, graph
from .metrics import OUTBOUND
from .pacer import Pacer

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5
MAX_ATTEMPTS = 8
RETRY_BASE = 1.0
RETRY_MAX = 300.0
LOAD_BATCH = 1000

_wakers: list[Callable[[int], None]] = []
_readers: list[Callable[[int, str], None]] = []


def wake(number_id: int) -> None:
    for fn in list(_wakers):
        fn(number_id)


def request_read(number_id: int, wamid: str) -> None:
    for fn in list(_readers):
        fn(number_id, wamid)


#: pt-BR reasons for the errors an agent meets most (the API's English title otherwise).
ERROR_REASONS = {
    cloudapi.ERR_REENGAGEMENT: gettext_lazy("Fora da janela de 24 horas: envie um modelo aprovado."),
    cloudapi.ERR_RECIPIENT_NOT_WA: gettext_lazy("Não entregue: o número não usa WhatsApp ou não pode receber."),
    cloudapi.ERR_INVALID_PARAMETER: gettext_lazy("Parâmetro inválido na mensagem."),
    cloudapi.ERR_TEMPLATE_NOT_FOUND: gettext_lazy("Modelo inexistente ou não aprovado neste idioma."),
    cloudapi.ERR_TEMPLATE_PARAMS: gettext_lazy("Parâmetros do modelo não conferem."),
    cloudapi.ERR_ACCESS_TOKEN: gettext_lazy("Token de acesso do número inválido ou expirado."),
    cloudapi.ERR_THROUGHPUT: gettext_lazy("Limite de envio do número excedido."),
    cloudapi.ERR_PAIR_RATE: gettext_lazy("Muitas mensagens seguidas para este cliente."),
    cloudapi.ERR_SPAM_RATE: gettext_lazy("Envio bloqueado pelo WhatsApp por excesso de mensagens não respondidas."),
}
#: Local codes (not Meta's) for failures decided here.
ERR_INTERRUPTED = -1
ERR_NETWORK = -2
ERROR_REASONS[ERR_INTERRUPTED] = gettext_lazy("Envio interrompido: não se sabe se a mensagem chegou ao WhatsApp.")
ERROR_REASONS[ERR_NETWORK] = gettext_lazy("Sem conexão com a API do WhatsApp.")


def error_reason(code: int | None, title: str) -> str:
    """What the user reads for a failed message (active language)."""
    reason = ERROR_REASONS.get(code) if code is not None else None
    return str(reason) if reason is not None else title


# --- database steps (run in a worker thread) --------------------------------------------------------------


def recover_interrupted() -> int:
    """Messages a crash left in ``sending``: failed with that reason (never sent twice)."""
    from .models import Message

    n = Message.objects.filter(status=Message.Status.SENDING).update(
        status=Message.Status.FAILED, error_code=ERR_INTERRUPTED, failed_at=timezone.now(),
        error_title="interrupted while sending")
    if n:
        log.warning("whatsapp sender: %d message(s) interrupted while sending marked failed", n)
    return n


def load_queued(exclude: set[int], limit: int = LOAD_BATCH) -> list[tuple[int, int, str, float]]:
    """``(message id, number id, wa_id, seconds until due)`` of queued messages, oldest first."""
    from .models import Message

    now = timezone.now()
    rows = (Message.objects.filter(status=Message.Status.QUEUED, direction=Message.Direction.OUT)
            .exclude(kind=Message.Kind.NOTE).order_by("created_at", "id")
            .values_list("id", "conversation__number_id", "conversation__contact__wa_id", "next_attempt_at")[:limit])
    out = []
    for mid, number_id, wa_id, due in rows:
        if mid in exclude:
            continue
        wait = max(0.0, (due - now).total_seconds()) if due else 0.0
        out.append((mid, number_id, wa_id, wait))
    return out


def claim(message_id: int):
    """``(NumberInfo, payload)`` to send, or None (taken elsewhere, canceled or failed here)."""
    from . import services
    from .models import Conversation, Message
    from .numbers import info_for
    from .signals import emit_conversation, emit_message

    with transaction.atomic():
        if not Message.objects.filter(pk=message_id, status=Message.Status.QUEUED).update(
                status=Message.Status.SENDING, attempts=F("attempts") + 1):
            return None
        msg = Message.objects.get(pk=message_id)
        conv = Conversation.objects.select_for_update().select_related("contact", "number").get(
            pk=msg.conversation_id)
        verdict = None
        if msg.sender == Message.Sender.BOT and not services.bot_may_speak(conv) or conv.contact.opted_out and msg.sender != Message.Sender.SYSTEM:
            verdict = "canceled"
        elif msg.kind != Message.Kind.TEMPLATE and not conv.window_open():
            msg.status, msg.error_code = Message.Status.FAILED, cloudapi.ERR_REENGAGEMENT
            msg.error_title, msg.failed_at = "Re-engagement message (window closed while queued)", timezone.now()
            msg.save(update_fields=["status", "error_code", "error_title", "failed_at"])
            emit_message(msg, created=False)
            OUTBOUND.labels("failed").inc()
            return None
        if verdict == "canceled":
            msg.status = Message.Status.CANCELED
            msg.save(update_fields=["status"])
            emit_message(msg, created=False)
            emit_conversation(conv, [])
            OUTBOUND.labels("canceled").inc()
            return None
        return info_for(conv.number), msg.payload


def record_sent(message_id: int, wamid: str | None) -> None:
    from .models import Message
    from .signals import emit_message

    now = timezone.now()
    Message.objects.filter(pk=message_id).update(status=Message.Status.SENT, wamid=wamid, sent_at=now,
                                                 next_attempt_at=None)
    msg = Message.objects.get(pk=message_id)
    emit_message(msg, created=False)
    OUTBOUND.labels("sent").inc()


def record_retry(message_id: int, delay: float, error: cloudapi.ApiError | None) -> bool:
    """Back to ``queued`` for another try; False (and failed) after :data:`MAX_ATTEMPTS`."""
    from .models import Message

    msg = Message.objects.get(pk=message_id)
    if msg.attempts >= MAX_ATTEMPTS:
        record_failed(message_id, error or cloudapi.ApiError(ERR_NETWORK, "network error"))
        return False
    Message.objects.filter(pk=message_id, status=Message.Status.SENDING).update(
        status=Message.Status.QUEUED, next_attempt_at=timezone.now() + timedelta(seconds=delay),
        error_code=error.code if error else ERR_NETWORK, error_title=(error.title if error else "network error")[:300])
    OUTBOUND.labels("retry").inc()
    return True


def record_failed(message_id: int, error: cloudapi.ApiError) -> None:
    from .models import Message
    from .signals import emit_message

    Message.objects.filter(pk=message_id).update(
        status=Message.Status.FAILED, error_code=error.code, error_title=(error.title or error.details)[:300],
        failed_at=timezone.now(), next_attempt_at=None)
    emit_message(Message.objects.get(pk=message_id), created=False)
    OUTBOUND.labels("failed").inc()


def _db(fn):
    """Run an ORM step in a worker thread and give the connection back."""
    def run(*args):
        try:
            return fn(*args)
        finally:
            release_connection()

    return sync_to_async(run, thread_sensitive=False)


# --- the loop ---------------------------------------------------------------------------------------------


def pacer_from_env(environ=None) -> Pacer:
    """A pacer with the operator's limits: ``CENTRAL_WHATSAPP_NUMBER_RATE`` (messages per second
    per number, 80; Meta raises it to 1,000 for some numbers), ``CENTRAL_WHATSAPP_RECIPIENT_INTERVAL``
    (seconds per message to one customer, 6) and ``CENTRAL_WHATSAPP_RECIPIENT_BURST`` (3)."""
    import os

    env = os.environ if environ is None else environ
    return Pacer(number_rate=int(env.get("CENTRAL_WHATSAPP_NUMBER_RATE") or 80),
                 recipient_interval=float(env.get("CENTRAL_WHATSAPP_RECIPIENT_INTERVAL") or 6.0),
                 recipient_burst=int(env.get("CENTRAL_WHATSAPP_RECIPIENT_BURST") or 3))


class Sender:
    def __init__(self, *, client: httpx.AsyncClient | None = None, poll: float = POLL_SECONDS,
                 pacer_factory: Callable[[], Pacer] = pacer_from_env) -> None:
        self._client = client
        self._own_client = client is None
        self.poll = poll
        self.pacer_factory = pacer_factory
        self.pacers: dict[int, Pacer] = {}
        self.inflight: set[int] = set()
        self._tasks: set[asyncio.Task] = set()
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.sent = 0

    # thread-safe entry points registered in _wakers/_readers
    def _on_wake(self, _number_id: int) -> None:
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def _on_read(self, number_id: int, wamid: str) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._spawn, self._read(number_id, wamid))

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        if self._client is None:
            self._client = httpx.AsyncClient(trust_env=False, limits=httpx.Limits(max_connections=100))
        await _db(recover_interrupted)()
        _wakers.append(self._on_wake)
        _readers.append(self._on_read)
        try:
            while True:
                await self._fill()
                wait = self._dispatch_ready()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=max(0.001, min(wait, self.poll)))
                self._wake.clear()
        finally:
            _wakers.remove(self._on_wake)
            _readers.remove(self._on_read)
            for task in list(self._tasks):
                task.cancel()
            if self._own_client and self._client is not None:
                await self._client.aclose()

    def _pacer(self, number_id: int) -> Pacer:
        pacer = self.pacers.get(number_id)
        if pacer is None:
            pacer = self.pacers[number_id] = self.pacer_factory()
        return pacer

    async def _fill(self) -> None:
        rows = await _db(load_queued)(set(self.inflight))
        now = self._loop.time()
        for mid, number_id, wa_id, wait in rows:
            self.inflight.add(mid)
            self._pacer(number_id).submit(mid, wa_id, now, not_before=now + wait)

    def _dispatch_ready(self) -> float:
        now = self._loop.time()
        wait = math.inf
        for number_id, pacer in self.pacers.items():
            while True:
                mid, recipient, until = pacer.next_ready(now)
                if mid is None:
                    wait = min(wait, until)
                    break
                self._spawn(self._send(number_id, mid, recipient))
            pacer.prune(now)
        return wait

    async def _send(self, number_id: int, message_id: int, recipient: str) -> None:
        pacer = self._pacer(number_id)
        outcome = "finished"  # what the pacer hears: succeeded / retried / finished
        try:
            prepared = await _db(claim)(message_id)
            if prepared is None:
                return
            info, payload = prepared
            try:
                result = await graph.send_message(self._client, info, payload)
            except httpx.HTTPError as exc:
                result = graph.Result(0, None, cloudapi.ApiError(ERR_NETWORK, f"network error: {type(exc).__name__}",
                                                                 http_status=599))
            except Exception as exc:  # refused destination, no token...: permanent
                result = graph.Result(0, None, cloudapi.ApiError(0, str(exc)[:300]))
            now = self._loop.time()
            if result.ok:
                outcome = "succeeded"
                await _db(record_sent)(message_id, graph.wamid_of(result))
                self.sent += 1
                return
            error = result.error
            if error.code == cloudapi.ERR_THROUGHPUT:
                delay = pacer.pause_number(now)
            elif error.code == cloudapi.ERR_PAIR_RATE:
                delay = pacer.pause_recipient(recipient, now)
            elif error.transient:
                attempts = await _db(_attempts)(message_id)
                delay = min(RETRY_MAX, RETRY_BASE * 2 ** max(0, attempts - 1))
            else:
                await _db(record_failed)(message_id, error)
                return
            if await _db(record_retry)(message_id, delay, error):
                # Back at the front of its recipient's queue: later messages wait behind it.
                pacer.retry(message_id, recipient, self._loop.time(), delay)
                outcome = "retried"
        except Exception:
            log.exception("whatsapp sender: message %s", message_id)
        finally:
            if outcome == "succeeded":
                pacer.succeeded(recipient, self._loop.time())
            elif outcome == "finished":
                pacer.finished(recipient, self._loop.time())
            if outcome != "retried":
                self.inflight.discard(message_id)
            if self._wake is not None:
                self._wake.set()

    async def _read(self, number_id: int, wamid: str) -> None:
        from .models import WhatsAppNumber
        from .numbers import info_for

        try:
            number = await _db(WhatsAppNumber.objects.get)(pk=number_id)
            await graph.mark_read(self._client, info_for(number), wamid)
        except Exception:  # a lost read receipt only leaves grey ticks on the customer's phone
            log.info("whatsapp read receipt for %s not sent", wamid, exc_info=True)


def _attempts(message_id: int) -> int:
    return _message_model().objects.filter(pk=message_id).values_list("attempts", flat=True).first() or 0


def _message_model():
    from .models import Message

    return Message


async def run_sender(poll: float = POLL_SECONDS) -> None:
    await Sender(poll=poll).run()
