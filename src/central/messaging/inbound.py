"""Background processing of the webhook inbox: exactly-once effects from at-least-once input.

Each :class:`~central.messaging.models.WebhookEvent` is *claimed* and applied in one
transaction: ``UPDATE ... SET processed_at = now WHERE id = ? AND processed_at IS NULL``
takes the row (PostgreSQL re-checks the condition after a concurrent claim commits; SQLite
runs write transactions one at a time), then the effects are written; an error rolls both
back and the row is tried again. Duplicate deliveries never got a second row (unique
key), and the message itself is unique by ``wamid`` as a second fence.

Where it runs:

* **embedded default** (no Celery broker): :func:`wake` sets an event for a background
  thread of this process (:class:`Runner`), which also polls every
  :data:`POLL_SECONDS` and starts by picking up every row left unprocessed (a crash
  between the ack and the processing loses nothing);
* **production** (``CELERY_BROKER_URL``): :func:`wake` queues the Celery task
  ``central.messaging.process_webhook_events`` (``tasks.py``), at most one per
  :data:`WAKE_DEBOUNCE` seconds per process; ``central worker`` processes, and the
  periodic pick-up (``schedules.py``) catches anything a lost task left.

Inbound messages are handed to the automated responder after their effects commit
(``dispatched_at`` records it; a crash in between gives it to the responder at start).
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from central.core.db import release_connection

from . import cloudapi, services
from .metrics import EVENTS_PROCESSED, PROCESSING_LAG
from .models import Conversation, Message, WebhookEvent, WhatsAppNumber
from .signals import emit_conversation, emit_message

log = logging.getLogger(__name__)

POLL_SECONDS = 2.0
WAKE_DEBOUNCE = 0.05
BATCH = 500
#: A status for a message not recorded yet is retried this often, then ignored (logged).
STATUS_RETRIES = 8


class _Wait(Exception):
    """The event cannot be applied yet (a status before its message's send is recorded)."""


def _msg_time(raw, default: datetime) -> datetime:
    try:
        ts = int(raw)
    except (TypeError, ValueError):
        return default
    when = datetime.fromtimestamp(ts, tz=UTC)
    # A customer's clock claim cannot move the window into the future.
    return min(when, default)


def pending_ids(limit: int = BATCH) -> list[int]:
    now = timezone.now()
    return list(WebhookEvent.objects.filter(processed_at=None).filter(Q(next_try_at=None) | Q(next_try_at__lte=now))
                .order_by("id").values_list("id", flat=True)[:limit])


def process_pending(limit: int = BATCH) -> int:
    """Apply up to ``limit`` pending events (oldest first); returns how many were applied."""
    done = 0
    for event_id in pending_ids(limit):
        if process_event(event_id):
            done += 1
    redispatch()
    return done


def process_until_idle(max_rounds: int = 1000) -> int:
    total = 0
    for _round in range(max_rounds):
        n = process_pending()
        total += n
        if n == 0:
            break
    return total


def process_event(event_id: int) -> bool:
    """Claim and apply one event; False when another worker had it or it must wait."""
    dispatch: tuple[int, int] | None = None
    kind = "?"
    try:
        with transaction.atomic():
            now = timezone.now()
            if not WebhookEvent.objects.filter(pk=event_id, processed_at=None).update(processed_at=now):
                return False
            event = WebhookEvent.objects.select_related("number").get(pk=event_id)
            kind = event.kind
            if event.kind == WebhookEvent.Kind.MESSAGE:
                dispatch = _apply_message(event)
            else:
                _apply_status(event)
            if dispatch is None and event.kind == WebhookEvent.Kind.MESSAGE:
                WebhookEvent.objects.filter(pk=event_id).update(dispatched_at=now)
        PROCESSING_LAG.observe(max(0.0, (now - event.received_at).total_seconds()))
    except _Wait as exc:
        _postpone(event_id, str(exc))
        EVENTS_PROCESSED.labels(kind, "waiting").inc()
        return False
    except Exception as exc:  # noqa: BLE001 - keep the row, record why, go on with the others
        log.exception("whatsapp event %s failed", event_id)
        _postpone(event_id, f"{type(exc).__name__}: {exc}")
        EVENTS_PROCESSED.labels(kind, "error").inc()
        return False
    if dispatch is not None:
        _dispatch(event_id, *dispatch)
    return True


def _postpone(event_id: int, reason: str) -> None:
    event = WebhookEvent.objects.filter(pk=event_id).first()
    if event is None:
        return
    attempts = event.attempts + 1
    if event.kind == WebhookEvent.Kind.STATUS and attempts >= STATUS_RETRIES:
        WebhookEvent.objects.filter(pk=event_id).update(
            attempts=attempts, last_error=reason[:300], processed_at=timezone.now(), ignored=True)
        log.warning("whatsapp status event %s ignored after %d tries: %s", event.key, attempts, reason)
        return
    delay = min(300.0, 0.5 * (2 ** min(attempts, 10)))
    WebhookEvent.objects.filter(pk=event_id).update(
        attempts=attempts, last_error=reason[:300], next_try_at=timezone.now() + timedelta(seconds=delay))


def _dispatch(event_id: int, conversation_id: int, message_id: int) -> None:
    from .responders import dispatch

    try:
        dispatch(conversation_id, message_id)
    except Exception:
        log.exception("whatsapp responder dispatch failed for event %s", event_id)
    WebhookEvent.objects.filter(pk=event_id).update(dispatched_at=timezone.now())


def redispatch() -> int:
    """Give the responder inbound messages whose dispatch a crash interrupted."""
    n = 0
    for event in WebhookEvent.objects.filter(kind=WebhookEvent.Kind.MESSAGE, dispatched_at=None,
                                             ignored=False).exclude(processed_at=None)[:BATCH]:
        wamid = ((event.payload or {}).get("message") or {}).get("id")
        message = Message.objects.filter(wamid=wamid, direction=Message.Direction.IN).first()
        if message is None:
            WebhookEvent.objects.filter(pk=event.pk).update(dispatched_at=timezone.now())
            continue
        _dispatch(event.pk, message.conversation_id, message.pk)
        n += 1
    return n


# --- effects -------------------------------------------------------------------------------------


def _apply_message(event: WebhookEvent) -> tuple[int, int] | None:
    """Store one inbound message and apply keywords; (conversation, message) to dispatch."""
    payload = event.payload or {}
    msg = payload.get("message") or {}
    wamid = str(msg.get("id") or "")
    wa_id = str(msg.get("from") or "")
    if not wamid or not wa_id:
        EVENTS_PROCESSED.labels("message", "ignored").inc()
        return None
    if Message.objects.filter(wamid=wamid).exists():
        EVENTS_PROCESSED.labels("message", "duplicate").inc()
        return None
    number: WhatsAppNumber = event.number
    profile = ((payload.get("contact") or {}).get("profile") or {}).get("name") or ""
    contact = services.contact_for(number, wa_id, str(profile))
    conv = services.live_conversation(number, contact)
    inbound = cloudapi.read_inbound(msg)
    now = timezone.now()
    when = _msg_time(msg.get("timestamp"), now)
    try:
        with transaction.atomic():
            message = Message.objects.create(
                organization_id=number.organization_id, conversation=conv, direction=Message.Direction.IN,
                kind=inbound.kind, wamid=wamid, status=Message.Status.RECEIVED, body=inbound.body[:cloudapi.MAX_TEXT],
                payload=msg, media=inbound.media, sender=Message.Sender.CUSTOMER, context_wamid=inbound.context_wamid,
                created_at=when)
    except IntegrityError:  # the same wamid stored by a concurrent worker: one effect only
        EVENTS_PROCESSED.labels("message", "duplicate").inc()
        return None
    preview = inbound.body[:120] or inbound.kind
    Conversation.objects.filter(pk=conv.pk).update(unread_count=F("unread_count") + 1, last_message_at=now,
                                                   last_message_preview=preview)
    Conversation.objects.filter(pk=conv.pk).filter(Q(last_inbound_at=None) | Q(last_inbound_at__lt=when)).update(
        last_inbound_at=when)
    conv.refresh_from_db()
    emit_message(message, created=True)
    emit_conversation(conv, ["unread_count", "last_message_at", "last_inbound_at"])
    EVENTS_PROCESSED.labels("message", "applied").inc()
    if inbound.kind == Message.Kind.REACTION:
        return None
    word = services.keyword(inbound.body)
    if word in services.OPT_OUT_KEYWORDS or inbound.reply_id in services.OPT_OUT_REPLY_IDS:
        services.record_opt_out(contact, source=f"keyword:{word or inbound.reply_id}")
        services.send_system_text(conv, _("Pronto: você não receberá mais mensagens nossas por aqui. "
                                          "Para voltar a receber, envie VOLTAR."))
        return None
    if contact.opted_out and word in services.OPT_IN_KEYWORDS:
        services.record_opt_in(contact, source=f"keyword:{word}")
        services.send_system_text(conv, _("Tudo certo: você voltará a receber nossas mensagens."))
        return None
    if word in services.HANDOFF_KEYWORDS and conv.state == Conversation.State.BOT:
        services.hand_off(conv, _("Cliente pediu atendimento humano (%(word)s).") % {"word": word})
        return None
    if conv.state == Conversation.State.BOT:
        return conv.pk, message.pk
    return None


def _apply_status(event: WebhookEvent) -> None:
    st = (event.payload or {}).get("status") or {}
    wamid, status = str(st.get("id") or ""), str(st.get("status") or "")
    message = Message.objects.select_for_update().filter(wamid=wamid, direction=Message.Direction.OUT).first()
    if message is None:
        raise _Wait(f"no outbound message {wamid[:80]} yet")
    now = timezone.now()
    when = _msg_time(st.get("timestamp"), now)
    fields: list[str] = []
    stamp = {"sent": "sent_at", "delivered": "delivered_at", "read": "read_at", "failed": "failed_at"}.get(status)
    if stamp and getattr(message, stamp) is None:
        setattr(message, stamp, when)
        fields.append(stamp)
    if status == "read" and message.delivered_at is None:  # read implies delivered
        message.delivered_at = when
        fields.append("delivered_at")
    if cloudapi.status_advances(message.status, status):
        message.status = status
        fields.append("status")
        if status == "failed":
            errors = st.get("errors") or []
            err = errors[0] if errors and isinstance(errors[0], dict) else {}
            message.error_code = err.get("code") if isinstance(err.get("code"), int) else None
            details = (err.get("error_data") or {}).get("details") if isinstance(err.get("error_data"), dict) else ""
            message.error_title = str(err.get("title") or err.get("message") or details or status)[:300]
            fields += ["error_code", "error_title"]
    if fields:
        message.save(update_fields=fields)
        emit_message(message, created=False)
        EVENTS_PROCESSED.labels("status", "applied").inc()
    else:
        EVENTS_PROCESSED.labels("status", "duplicate").inc()


# --- where it runs ---------------------------------------------------------------------------------


class Runner:
    """The in-process worker of the embedded default (a daemon thread).

    When the process serves an asyncio loop (``central up``, ``central web``), each round
    runs in that loop's executor (``sync_to_async``): the live pushes the round makes
    (``core.live.publish`` through ``async_to_sync``) then go through that loop instead of
    asgiref starting a new event loop and thread for every push (profiled: 2,600 threads
    started for 1,050 events), and reach the consumers of that loop.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.idle = threading.Event()
        self.loop = None

    def start(self, loop=None) -> None:
        if loop is not None:
            self.loop = loop
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="whatsapp-inbox", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._event.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wake(self) -> None:
        self.idle.clear()
        self._event.set()

    def _round(self) -> int:
        try:
            return process_pending()
        finally:
            release_connection()

    def _run_round(self) -> int:
        loop = self.loop
        if loop is not None and loop.is_running():
            import asyncio

            from asgiref.sync import sync_to_async

            future = asyncio.run_coroutine_threadsafe(sync_to_async(self._round, thread_sensitive=False)(), loop)
            return future.result()
        return self._round()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._event.clear()
            try:
                while self._run_round() and not self._stop.is_set():
                    pass
            except Exception:
                log.exception("whatsapp inbox runner: round failed")
            finally:
                release_connection()
            if not self._event.is_set():
                self.idle.set()
            self._event.wait(POLL_SECONDS)


_runner: Runner | None = None
_runner_lock = threading.Lock()
_last_task = 0.0


def uses_celery() -> bool:
    return bool(getattr(settings, "CELERY_BROKER_URL", "")) and not getattr(settings, "CELERY_TASK_ALWAYS_EAGER", True)


def runner() -> Runner:
    global _runner
    with _runner_lock:
        if _runner is None:
            _runner = Runner()
        return _runner


def wake() -> None:
    """New events were stored: have them processed (Celery task, or this process' runner)."""
    global _last_task
    if uses_celery():
        now = time.monotonic()
        if now - _last_task >= WAKE_DEBOUNCE:
            _last_task = now
            # Central's Celery app (Redis broker) must be the current one: without this
            # import a web process queued on Celery's default app (amqp://localhost), every
            # delay() failed and nothing was applied until the periodic pick-up
            # (bench/whatsapp_webhook.py --production: 0 of 941 applied in 60 s).
            import central.celery  # noqa: F401

            from .tasks import process_webhook_events

            try:
                process_webhook_events.delay()
            except Exception:  # broker down: the periodic pick-up gets them
                log.warning("could not queue the whatsapp processing task", exc_info=True)
        return
    r = runner()
    r.start(_serving_loop())
    r.wake()


def _serving_loop():
    """The asyncio loop this request's thread was started from (asgiref keeps it), if any."""
    from asgiref.sync import SyncToAsync

    return getattr(SyncToAsync.threadlocal, "main_event_loop", None)


def pickup() -> None:
    """The periodic job: apply whatever is pending (no arguments, safe to run twice at once)."""
    try:
        process_until_idle()
    finally:
        release_connection()
