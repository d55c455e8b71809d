"""A WhatsApp Cloud API simulator: the Graph API endpoints Central uses, over real HTTP, and
the customers' phones, which send signed webhooks back.

What the PBX simulator is for telephony: ``central up`` starts it when no WhatsApp
credentials are configured, the tests drive the product through it, and the test phone
page of the dashboard chats as a customer through its Python API (:class:`Simulator`
methods ``customer_text``, ``customer_button``, ``customer_list_reply``,
``customer_quick_reply``, ``customer_image``, ``sent_to``).

Graph API side (Meta's Cloud API reference; shapes of ``tests/fixtures/whatsapp/``):

* ``POST /<version>/<phone_number_id>/messages`` (``Authorization: Bearer <token>``):
  text, interactive buttons / list, template, and ``{"status": "read"}`` receipts. Answers
  ``{"messaging_product", "contacts": [{"input", "wa_id"}], "messages": [{"id": "wamid..."}]}``
  and then the status webhooks ``sent`` → ``delivered`` → ``read`` (configurable delays,
  duplicates, out of order). Errors as the API gives them (``{"error": {"message", "type",
  "code", "error_data": {"messaging_product", "details"}, "fbtrace_id"}}``): **190** bad token
  (401); **100** invalid parameter (400: missing fields, more than 3 buttons, a button title
  over 20 characters, more than 10 rows, text over 4096); **130429** more than
  ``number_rate`` messages in a second (400); **131056** pair rate: more than ``pair_burst``
  messages to one user, refilled one per ``pair_interval`` seconds (400); **132001** unknown
  template / language; **132000** wrong number of parameters. Outside the customer's 24 h
  window a non-template message is accepted (200) and then fails with a ``failed`` status
  webhook carrying **131047** "Re-engagement message", as the real API does.
* ``GET /<version>/<media_id>``: ``{"url", "mime_type", "sha256", "file_size", "id"}``; the
  URL is on the simulator and needs the same bearer token.
* ``GET /<version>/<waba_id>/message_templates``: ``{"data": [...], "paging": {...}}``.

Customer side: each customer action becomes a webhook delivery signed with the number's app
secret (``X-Hub-Signature-256``), POSTed to Central's webhook URL and retried with backoff
until it answers 200 (Meta retries for days; the simulator for ``webhook_retry_seconds``).

Control over HTTP for tests in other processes: ``/_sim/...`` with ``X-Sim-Token``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import itertools
import json
import logging
import random
import re
import secrets
import socket
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx

from central.core.parsers import loads

from . import cloudapi

log = logging.getLogger(__name__)

#: Messaging's own template (the supervisor's message to a contact the dialer missed).
DEFAULT_TEMPLATES = [
    {"name": "retorno_contato", "language": "pt_BR", "category": "UTILITY", "status": "APPROVED",
     "body": "Olá {{1}}, tentamos falar com você. Podemos conversar por aqui?", "buttons": []},
]


def default_templates() -> list[dict]:
    """The templates every simulated number starts with: messaging's own, plus those other
    apps send (``central.<app>.whatsapp_templates.TEMPLATES``, e.g. the agenda's reminder),
    so the simulator approves exactly what the apps send, with the same parameters."""
    import pkgutil
    from importlib import import_module
    from importlib.util import find_spec

    import central

    found = [dict(t) for t in DEFAULT_TEMPLATES]
    for app in sorted(m.name for m in pkgutil.iter_modules(central.__path__) if m.ispkg):
        name = f"central.{app}.whatsapp_templates"
        if find_spec(name) is not None:
            found += [dict(t) for t in import_module(name).TEMPLATES]
    return found


@dataclass
class SimConfig:
    """How the simulated platform and phones behave (all changeable while it runs)."""

    delay_sent: float = 0.05
    delay_delivered: float = 0.2
    delay_read: float = 1.0
    auto_read: bool = True
    duplicate_rate: float = 0.0  # probability that a webhook is delivered twice
    out_of_order: bool = False  # statuses delivered read, delivered, sent
    number_rate: int = 80
    pair_burst: int = 45
    pair_interval: float = 6.0
    webhook_retry_seconds: float = 120.0
    seed: int | None = None


@dataclass
class SimNumber:
    phone_number_id: str
    display_number: str
    waba_id: str
    access_token: str
    app_secret: str
    verified_name: str = "Clínica"
    templates: list[dict] = field(default_factory=default_templates)


@dataclass
class Sent:
    """One message the business sent, as the customer's phone sees it."""

    wamid: str
    phone_number_id: str
    to: str
    type: str
    payload: dict
    at: float
    status: str = "accepted"
    error: dict | None = None

    def as_dict(self) -> dict:
        return asdict(self)


class ApiFailure(Exception):
    def __init__(self, code: int, title: str, details: str = "", http_status: int = 400) -> None:
        super().__init__(title)
        self.error = cloudapi.ApiError(code=code, title=title, message=f"(#{code}) {title}", details=details,
                                       http_status=http_status)


class Simulator:
    def __init__(self, webhook_url: str, numbers: list[SimNumber], config: SimConfig | None = None, *,
                 control_token: str | None = None) -> None:
        self.webhook_url = webhook_url
        self.numbers = {n.phone_number_id: n for n in numbers}
        self.config = config or SimConfig()
        self.control_token = control_token or secrets.token_urlsafe(24)
        self.sent: list[Sent] = []
        self.deliveries = 0  # webhook POSTs answered 200
        self.delivery_failures = 0
        self.rejected: dict[int, int] = {}  # API errors answered, by code
        self.last_inbound: dict[tuple[str, str], float] = {}
        self.media: dict[str, tuple[bytes, str]] = {}
        self._number_sends: dict[str, deque] = {}
        self._pair: dict[tuple[str, str], list[float]] = {}  # [tokens, updated]
        self._seq = itertools.count(1)
        self._rng = random.Random(self.config.seed)
        self._tasks: set[asyncio.Task] = set()
        self._client: httpx.AsyncClient | None = None
        self._server = None
        self._serve_task: asyncio.Task | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.url = ""
        self.changed: asyncio.Condition | None = None  # created on start (bound to its loop)

    # --- lifecycle -----------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        import uvicorn

        self.loop = asyncio.get_running_loop()
        self.changed = asyncio.Condition()
        self._client = httpx.AsyncClient(trust_env=False, timeout=10.0)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(256)
        sock.setblocking(False)
        self.url = f"http://{host}:{sock.getsockname()[1]}"
        config = uvicorn.Config(self.asgi, interface="asgi3", log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._server.install_signal_handlers = lambda: None  # the host process owns signals
        self._serve_task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            await asyncio.sleep(0.01)
        return self.url

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._server is not None:
            self._server.should_exit = True
        if self._serve_task is not None:
            with contextlib.suppress(Exception):
                await self._serve_task
        if self._client is not None:
            await self._client.aclose()

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def call(self, coro_fn, *args, timeout: float = 30.0, **kwargs):
        """Run a coroutine method from another thread (a Django view, a test)."""
        return asyncio.run_coroutine_threadsafe(coro_fn(*args, **kwargs), self.loop).result(timeout)

    # --- customers (what the test phone page and the tests use) ----------------------------------------

    def _number(self, pnid: str | None) -> SimNumber:
        if pnid is None:
            return next(iter(self.numbers.values()))
        return self.numbers[pnid]

    def new_wamid(self) -> str:
        raw = f"SIM{next(self._seq):010d}{secrets.token_hex(6)}".encode()
        return "wamid." + base64.b64encode(raw).decode()

    def _inbound(self, number: SimNumber, wa_id: str, name: str, message: dict) -> dict:
        return {"object": "whatsapp_business_account", "entry": [{"id": number.waba_id, "changes": [{
            "field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": number.display_number.lstrip("+"),
                             "phone_number_id": number.phone_number_id},
                "contacts": [{"profile": {"name": name or wa_id}, "wa_id": wa_id}],
                "messages": [message]}}]}]}

    async def _customer(self, wa_id: str, name: str, body: dict, pnid: str | None, context: str = "") -> str:
        number = self._number(pnid)
        wamid = self.new_wamid()
        now = time.time()
        message = {"from": wa_id, "id": wamid, "timestamp": str(int(now)), **body}
        if context:
            message["context"] = {"from": number.display_number.lstrip("+"), "id": context}
        self.last_inbound[(number.phone_number_id, wa_id)] = now
        await self._deliver(number, self._inbound(number, wa_id, name, message))
        return wamid

    async def customer_text(self, wa_id: str, text: str, *, name: str = "", pnid: str | None = None) -> str:
        return await self._customer(wa_id, name, {"type": "text", "text": {"body": text}}, pnid)

    async def customer_button(self, wa_id: str, button_id: str, title: str, *, context: str = "",
                              name: str = "", pnid: str | None = None) -> str:
        body = {"type": "interactive", "interactive": {"type": "button_reply",
                                                       "button_reply": {"id": button_id, "title": title}}}
        return await self._customer(wa_id, name, body, pnid, context)

    async def customer_list_reply(self, wa_id: str, row_id: str, title: str, description: str = "", *,
                                  context: str = "", name: str = "", pnid: str | None = None) -> str:
        reply = {"id": row_id, "title": title}
        if description:
            reply["description"] = description
        body = {"type": "interactive", "interactive": {"type": "list_reply", "list_reply": reply}}
        return await self._customer(wa_id, name, body, pnid, context)

    async def customer_quick_reply(self, wa_id: str, payload: str, text: str, *, context: str = "",
                                   name: str = "", pnid: str | None = None) -> str:
        return await self._customer(wa_id, name, {"type": "button", "button": {"payload": payload, "text": text}},
                                    pnid, context)

    async def customer_image(self, wa_id: str, data: bytes, mime_type: str = "image/jpeg", caption: str = "", *,
                             name: str = "", pnid: str | None = None) -> str:
        media_id = str(10**15 + next(self._seq))
        self.media[media_id] = (data, mime_type)
        sha = base64.b64encode(hashlib.sha256(data).digest()).decode()
        image = {"mime_type": mime_type, "sha256": sha, "id": media_id}
        if caption:
            image["caption"] = caption
        return await self._customer(wa_id, name, {"type": "image", "image": image}, pnid)

    def sent_to(self, wa_id: str, pnid: str | None = None) -> list[dict]:
        """What the business sent to this customer (oldest first), with each status."""
        return [s.as_dict() for s in self.sent if s.to == wa_id and (pnid is None or s.phone_number_id == pnid)]

    def set_window_age(self, wa_id: str, hours: float, pnid: str | None = None) -> None:
        """Pretend the customer last wrote ``hours`` ago (the 24 h window as the API sees it)."""
        number = self._number(pnid)
        self.last_inbound[(number.phone_number_id, wa_id)] = time.time() - hours * 3600

    async def wait_sent(self, count: int, timeout: float = 30.0) -> None:
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(lambda: len(self.sent) >= count), timeout)

    # --- webhooks to Central ----------------------------------------------------------------------------

    async def _deliver(self, number: SimNumber, delivery: dict, delay: float = 0.0) -> None:
        body = json.dumps(delivery, ensure_ascii=False, separators=(",", ":")).encode()
        copies = 2 if self._rng.random() < self.config.duplicate_rate else 1
        for i in range(copies):
            if i == 0 and delay == 0:
                await self._post(number, body)
            else:
                self._spawn(self._post_later(number, body, delay + 0.05 * i))

    async def _post_later(self, number: SimNumber, body: bytes, delay: float) -> None:
        await asyncio.sleep(delay)
        await self._post(number, body)

    async def _post(self, number: SimNumber, body: bytes) -> None:
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": cloudapi.sign(number.app_secret, body),
                   "User-Agent": "facebookexternalua"}
        deadline = time.monotonic() + self.config.webhook_retry_seconds
        backoff = 0.2
        while True:
            try:
                response = await self._client.post(self.webhook_url, content=body, headers=headers)
                if response.status_code == 200:
                    self.deliveries += 1
                    return
                log.warning("simulator webhook answered %s", response.status_code)
                if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
                    self.delivery_failures += 1
                    return  # Meta would retry; a 4xx from Central is final for a test
            except httpx.HTTPError as exc:
                log.info("simulator webhook delivery failed: %s", exc)
            if time.monotonic() + backoff > deadline:
                self.delivery_failures += 1
                return
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)

    def _status(self, number: SimNumber, sent: Sent, status: str, errors: list | None = None) -> dict:
        st: dict[str, Any] = {"id": sent.wamid, "status": status, "timestamp": str(int(time.time())),
                              "recipient_id": sent.to}
        if status == "sent":
            st["conversation"] = {"id": hashlib.md5(sent.to.encode()).hexdigest(),  # noqa: S324 - an id
                                  "expiration_timestamp": str(int(time.time()) + 86400),
                                  "origin": {"type": "service" if sent.type != "template" else "utility"}}
        if status in ("sent", "delivered"):
            st["pricing"] = {"billable": sent.type == "template", "pricing_model": "PMP",
                             "category": "utility" if sent.type == "template" else "service"}
        if errors:
            st["errors"] = errors
        return {"object": "whatsapp_business_account", "entry": [{"id": number.waba_id, "changes": [{
            "field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": number.display_number.lstrip("+"),
                             "phone_number_id": number.phone_number_id},
                "statuses": [st]}}]}]}

    async def _statuses(self, number: SimNumber, sent: Sent, failure: dict | None) -> None:
        cfg = self.config
        if failure is not None:
            await asyncio.sleep(cfg.delay_sent)
            await self._set_status(sent, "failed", failure)
            await self._deliver(number, self._status(number, sent, "failed", [failure]))
            return
        plan = [("sent", cfg.delay_sent), ("delivered", cfg.delay_delivered)]
        if cfg.auto_read:
            plan.append(("read", cfg.delay_read))
        if cfg.out_of_order:
            # Deliver the later statuses first (what Meta's docs warn may happen).
            order = list(reversed(plan))
            start = min(d for _s, d in plan)
            plan = [(s, start + 0.02 * i) for i, (s, _d) in enumerate(order)]
        elapsed = 0.0
        for status, at in sorted(plan, key=lambda p: p[1]):
            await asyncio.sleep(max(0.0, at - elapsed))
            elapsed = at
            await self._set_status(sent, status)
            await self._deliver(number, self._status(number, sent, status))

    async def _set_status(self, sent: Sent, status: str, error: dict | None = None) -> None:
        rank = {"accepted": 0, "sent": 1, "delivered": 2, "read": 3, "failed": 4}
        if rank.get(status, 0) > rank.get(sent.status, 0):
            sent.status = status
            sent.error = error
        async with self.changed:
            self.changed.notify_all()

    # --- Graph API (ASGI) ----------------------------------------------------------------------------------

    async def asgi(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        path = scope["path"]
        query = parse_qs(scope.get("query_string", b"").decode())
        try:
            if path.startswith("/_sim/"):
                status, payload = await self._control(scope["method"], path, headers, body, query)
            else:
                status, payload = await self._graph(scope["method"], path, headers, body)
        except ApiFailure as exc:
            self.rejected[exc.error.code] = self.rejected.get(exc.error.code, 0) + 1
            status, payload = exc.error.http_status, exc.error.as_response()
        if isinstance(payload, tuple):  # media bytes and their type
            content, ctype = payload
        else:
            content, ctype = json.dumps(payload, ensure_ascii=False).encode(), "application/json"
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", ctype.encode()), (b"content-length", str(len(content)).encode())]})
        await send({"type": "http.response.body", "body": content})

    def _auth(self, headers: dict, number: SimNumber | None = None) -> SimNumber:
        token = headers.get("authorization", "").removeprefix("Bearer ").strip()
        for n in ([number] if number else self.numbers.values()):
            if token and secrets.compare_digest(token, n.access_token):
                return n
        raise ApiFailure(190, "Invalid OAuth access token - Cannot parse access token", http_status=401)

    async def _graph(self, method: str, path: str, headers: dict, body: bytes):
        parts = [p for p in path.split("/") if p]
        if parts and parts[0] == "media" and len(parts) == 2 and method == "GET":
            self._auth(headers)
            if parts[1] not in self.media:
                raise ApiFailure(100, "Invalid parameter", "unknown media", 404)
            return 200, self.media[parts[1]]
        if len(parts) < 2 or not parts[0].startswith("v"):
            raise ApiFailure(100, "Unknown path components", path, 400)
        if len(parts) == 3 and parts[2] == "messages" and method == "POST":
            number = self.numbers.get(parts[1])
            if number is None:
                self._auth(headers)
                raise ApiFailure(100, "Invalid parameter", f"Unsupported post request. Object with ID '{parts[1]}' "
                                 "does not exist", 400)
            self._auth(headers, number)
            try:
                payload = loads(body or b"{}")
            except ValueError:
                raise ApiFailure(100, "Invalid parameter", "body is not JSON") from None
            return 200, await self._messages(number, payload)
        if len(parts) == 3 and parts[2] == "message_templates" and method == "GET":
            number = next((n for n in self.numbers.values() if n.waba_id == parts[1]), None)
            if number is None:
                raise ApiFailure(100, "Invalid parameter", "unknown WhatsApp Business Account", 400)
            self._auth(headers, number)
            return 200, {"data": [self._template_json(t) for t in number.templates],
                         "paging": {"cursors": {"before": "MAZDZD", "after": "MjQZD"}}}
        if len(parts) == 2 and method == "GET":
            self._auth(headers)
            if parts[1] not in self.media:
                raise ApiFailure(100, "Invalid parameter", f"Object with ID '{parts[1]}' does not exist", 400)
            data, mime = self.media[parts[1]]
            return 200, {"messaging_product": "whatsapp", "url": f"{self.url}/media/{parts[1]}",
                         "mime_type": mime, "sha256": hashlib.sha256(data).hexdigest(), "file_size": len(data),
                         "id": parts[1]}
        raise ApiFailure(100, "Unsupported request", f"{method} {path}", 400)

    @staticmethod
    def _template_json(t: dict) -> dict:
        components = [{"type": "BODY", "text": t["body"]}]
        if t.get("buttons"):
            components.append({"type": "BUTTONS", "buttons": t["buttons"]})
        return {"name": t["name"], "language": t["language"], "status": t.get("status", "APPROVED"),
                "category": t.get("category", "UTILITY"), "components": components,
                "id": str(abs(hash((t["name"], t["language"]))) % 10**15)}

    def _check_rates(self, number: SimNumber, to: str) -> None:
        now = time.monotonic()
        window = self._number_sends.setdefault(number.phone_number_id, deque())
        while window and now - window[0] >= 1.0:
            window.popleft()
        if len(window) >= self.config.number_rate:
            raise ApiFailure(130429, "Rate limit hit",
                             "Cloud API message throughput has been reached.", 400)
        key = (number.phone_number_id, to)
        bucket = self._pair.get(key)
        if bucket is None:
            bucket = self._pair[key] = [float(self.config.pair_burst), now]
        bucket[0] = min(float(self.config.pair_burst), bucket[0] + (now - bucket[1]) / self.config.pair_interval)
        bucket[1] = now
        if bucket[0] < 1:
            raise ApiFailure(131056, "(Business Account, Consumer Account) pair rate limit hit",
                             "Too many messages sent from this phone number to the same phone number "
                             "in a short period of time.", 400)
        bucket[0] -= 1
        window.append(now)

    def _validate(self, number: SimNumber, payload: dict) -> str:
        def bad(details: str):
            return ApiFailure(100, "Invalid parameter", details, 400)

        if payload.get("messaging_product") != "whatsapp":
            raise bad("messaging_product is required")
        mtype = payload.get("type", "text")
        if mtype == "text":
            text = (payload.get("text") or {}).get("body")
            if not isinstance(text, str) or not text:
                raise bad("text.body is required")
            if len(text) > cloudapi.MAX_TEXT:
                raise bad("text.body too long")
        elif mtype == "interactive":
            inter = payload.get("interactive") or {}
            if not (inter.get("body") or {}).get("text"):
                raise bad("interactive.body.text is required")
            action = inter.get("action") or {}
            if inter.get("type") == "button":
                buttons = action.get("buttons") or []
                if not 1 <= len(buttons) <= cloudapi.MAX_BUTTONS:
                    raise bad("buttons: 1 to 3")
                for b in buttons:
                    title = ((b or {}).get("reply") or {}).get("title") or ""
                    if not title or len(title) > cloudapi.MAX_BUTTON_TITLE:
                        raise bad("button title: 1 to 20 characters")
            elif inter.get("type") == "list":
                rows = [r for s in action.get("sections") or [] for r in (s or {}).get("rows") or []]
                if not 1 <= len(rows) <= cloudapi.MAX_LIST_ROWS:
                    raise bad("rows: 1 to 10")
                if not action.get("button"):
                    raise bad("action.button is required")
            else:
                raise bad("interactive.type must be button or list")
        elif mtype == "template":
            tpl = payload.get("template") or {}
            lang = (tpl.get("language") or {}).get("code")
            known = next((t for t in number.templates if t["name"] == tpl.get("name") and t["language"] == lang), None)
            if known is None or known.get("status", "APPROVED") != "APPROVED":
                raise ApiFailure(132001, "Template name does not exist in the translation",
                                 f"template name ({tpl.get('name')}) does not exist in {lang}", 404)
            params = [p for c in tpl.get("components") or [] if c.get("type") == "body"
                      for p in c.get("parameters") or []]
            expected = len(set(re.findall(r"\{\{(\d+)\}\}", known["body"])))
            if len(params) != expected:
                raise ApiFailure(132000, "Number of parameters does not match the expected number of params",
                                 f"body: number of localizable_params ({len(params)}) does not match the expected "
                                 f"number of params ({expected})", 400)
        else:
            raise bad(f"type {mtype} is not supported by the simulator")
        return mtype

    async def _messages(self, number: SimNumber, payload: dict) -> dict:
        if payload.get("status") == "read":
            if not payload.get("message_id"):
                raise ApiFailure(100, "Invalid parameter", "message_id is required")
            return {"success": True}
        to = str(payload.get("to") or "")
        if not to.isdigit():
            raise ApiFailure(100, "Invalid parameter", "to must be a phone number / wa_id")
        mtype = self._validate(number, payload)
        self._check_rates(number, to)
        wamid = self.new_wamid()
        sent = Sent(wamid, number.phone_number_id, to, mtype, payload, time.time())
        self.sent.append(sent)
        async with self.changed:
            self.changed.notify_all()
        failure = None
        last = self.last_inbound.get((number.phone_number_id, to))
        if mtype != "template" and (last is None or time.time() - last > 24 * 3600):
            failure = {"code": cloudapi.ERR_REENGAGEMENT, "title": "Re-engagement message",
                       "message": "Re-engagement message",
                       "error_data": {"details": "Message failed to send because more than 24 hours have passed "
                                                 "since the customer last replied to this number."}}
        self._spawn(self._statuses(number, sent, failure))
        answer = {"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to}],
                  "messages": [{"id": wamid}]}
        if mtype == "template":
            answer["messages"][0]["message_status"] = "accepted"
        return answer

    # --- control API for tests in other processes ---------------------------------------------------------

    async def _control(self, method: str, path: str, headers: dict, body: bytes, query: dict):
        if not secrets.compare_digest(headers.get("x-sim-token", ""), self.control_token):
            return 403, {"error": "X-Sim-Token"}
        data = loads(body) if body else {}
        if path == "/_sim/customer" and method == "POST":
            kind = data.get("type", "text")
            common = {"name": data.get("name", ""), "pnid": data.get("phone_number_id")}
            if kind == "text":
                wamid = await self.customer_text(data["wa_id"], data["text"], **common)
            elif kind == "button":
                wamid = await self.customer_button(data["wa_id"], data["id"], data["title"],
                                                   context=data.get("context", ""), **common)
            elif kind == "list":
                wamid = await self.customer_list_reply(data["wa_id"], data["id"], data["title"],
                                                       data.get("description", ""), context=data.get("context", ""),
                                                       **common)
            elif kind == "image":
                wamid = await self.customer_image(data["wa_id"], base64.b64decode(data["data"]),
                                                  data.get("mime_type", "image/jpeg"), data.get("caption", ""),
                                                  **common)
            else:
                return 400, {"error": f"unknown type {kind}"}
            return 200, {"wamid": wamid}
        if path == "/_sim/sent" and method == "GET":
            wa_id = (query.get("wa_id") or [""])[0]
            return 200, {"sent": self.sent_to(wa_id) if wa_id else [s.as_dict() for s in self.sent]}
        if path == "/_sim/config" and method == "POST":
            for key, value in data.items():
                if hasattr(self.config, key):
                    setattr(self.config, key, value)
            return 200, asdict(self.config)
        if path == "/_sim/window" and method == "POST":
            self.set_window_age(data["wa_id"], float(data["hours"]), data.get("phone_number_id"))
            return 200, {"ok": True}
        if path == "/_sim/stats" and method == "GET":
            return 200, {"sent": len(self.sent), "deliveries": self.deliveries,
                         "delivery_failures": self.delivery_failures,
                         "rejected": {str(k): v for k, v in self.rejected.items()}}
        return 404, {"error": "unknown control path"}


# --- the running simulator of this process (test phone page) -----------------------------------------------

_current: Simulator | None = None


def current() -> Simulator | None:
    """The simulator ``central up`` started in this process, if any."""
    return _current


def set_current(sim: Simulator | None) -> None:
    global _current
    _current = sim


class SimulatorThread:
    """A simulator on its own event loop in a thread (tests and benchmarks that are sync)."""

    def __init__(self, webhook_url: str, numbers: list[SimNumber], config: SimConfig | None = None) -> None:
        self.sim = Simulator(webhook_url, numbers, config)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="whatsapp-simulator", daemon=True)

    def __enter__(self) -> Simulator:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.sim.start(), self._loop).result(10)
        return self.sim

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self.sim.stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
