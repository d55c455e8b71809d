"""The LLM engine: an OpenAI-compatible chat completions API with tool calls.

The model talks; the rails act. Each tool call (``find_slots``, ``hold_slot``, ``book``,
``reschedule``, ``cancel``, ``clinic_info``, ``handoff``, ``opt_out``) is executed by
:class:`~central.assistant.rails.Rails`, which validates it (the model only ever sees
opaque slot ids; ``book`` / ``reschedule`` / ``cancel`` only send a summary with the
*Confirmar* button, they never change the agenda). The model's free text is checked for
prices and times the agenda did not give (:meth:`Rails.unbacked_values`); such a text
is not sent, and the offline flow answers the message instead.

Any failure (HTTP error, timeout, non-JSON, a malformed tool call, more rounds than
:data:`MAX_ROUNDS`) raises :class:`~central.assistant.engine.EngineError`; the responder
then switches the conversation to the offline flow and answers the same message with it.

Outbound rules: the base URL is checked by ``core.outbound`` right before each request
and the connection pinned to the checked address (the voice providers' client,
``central.voice.providers.http``); the API key comes from the environment variable the
clinic's configuration names (``CENTRAL_TENANT_SECRET_*`` only); no redirects, no proxy.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from datetime import date, datetime, time, timedelta

from django.utils.translation import gettext as _

from central.core import jsonguard

from . import flow
from .config import LLMConfig
from .dateparse import PERIODS
from .engine import EngineError, Inbound, Reply, Turn
from .rails import RailRefused, Rails

log = logging.getLogger(__name__)

MAX_ROUNDS = 4
#: A reply larger than this is refused unread (the server is tenant-configured: memory stays bounded).
MAX_REPLY_BYTES = 1 << 20
HISTORY = 16

TOOLS = [
    {"type": "function", "function": {
        "name": "find_slots", "description": "Free slots for a service (and optionally a professional) on a day.",
        "parameters": {"type": "object", "properties": {
            "service_id": {"type": "integer"}, "professional_id": {"type": "integer"},
            "date": {"type": "string", "description": "YYYY-MM-DD in the clinic's time zone"},
            "period": {"type": "string", "enum": ["manha", "tarde", "noite"]}},
            "required": ["service_id"]}}},
    {"type": "function", "function": {
        "name": "hold_slot", "description": "Hold a slot (by its opaque id) and show the patient a summary.",
        "parameters": {"type": "object", "properties": {"slot_id": {"type": "string"}}, "required": ["slot_id"]}}},
    {"type": "function", "function": {
        "name": "book", "description": "Ask the patient to confirm a slot: sends the summary with the Confirmar "
                                       "button. The booking happens only when the patient presses it.",
        "parameters": {"type": "object", "properties": {"slot_id": {"type": "string"}}, "required": ["slot_id"]}}},
    {"type": "function", "function": {
        "name": "reschedule", "description": "Propose moving an appointment to a slot (summary + Confirmar).",
        "parameters": {"type": "object", "properties": {"appointment_id": {"type": "integer"},
                                                        "slot_id": {"type": "string"}},
                       "required": ["appointment_id", "slot_id"]}}},
    {"type": "function", "function": {
        "name": "cancel", "description": "Propose cancelling an appointment (summary + Confirmar).",
        "parameters": {"type": "object", "properties": {"appointment_id": {"type": "integer"}},
                       "required": ["appointment_id"]}}},
    {"type": "function", "function": {
        "name": "clinic_info", "description": "Services (with prices when set), professionals, addresses, "
                                              "the patient's upcoming appointments.",
        "parameters": {"type": "object", "properties": {}}}},
    {"type": "function", "function": {
        "name": "handoff", "description": "Hand the conversation to the clinic's staff.",
        "parameters": {"type": "object", "properties": {"reason": {"type": "string"}}}}},
    {"type": "function", "function": {
        "name": "opt_out", "description": "The patient does not want messages any more.",
        "parameters": {"type": "object", "properties": {}}}},
]

SYSTEM = (
    "Você é o assistente de agendamento de uma clínica no WhatsApp. Responda em português do Brasil, "
    "curto. Use somente as ferramentas para horários, valores e agendamentos; nunca invente preço, "
    "horário ou endereço. Para agendar, chame find_slots e depois book com o slot_id recebido: o paciente "
    "confirma tocando no botão. Não dê orientação médica; para qualquer assunto clínico chame handoff."
)


class LLMEngine:
    name = "llm"

    def __init__(self, config: LLMConfig) -> None:
        self.config = config

    # --- the HTTP call --------------------------------------------------------------------

    def _complete(self, messages: list[dict]) -> dict:
        from central.core.outbound import read_secret
        from central.voice.providers.base import ProviderError
        from central.voice.providers.http import check_url, opener_for

        url = self.config.base_url + "/chat/completions"
        try:
            address = check_url(url)
        except ProviderError as exc:
            raise EngineError(str(exc)) from None
        headers = {"Content-Type": "application/json"}
        key = read_secret(self.config.api_key_env) if self.config.api_key_env else None
        if key:
            headers["Authorization"] = f"Bearer {key}"
        body = json.dumps({"model": self.config.model, "messages": messages, "tools": TOOLS,
                           "tool_choice": "auto", "temperature": 0}).encode()
        req = urllib.request.Request(url, data=body, method="POST", headers=headers)
        try:
            with opener_for(address).open(req, timeout=self.config.timeout) as resp:
                raw = resp.read(MAX_REPLY_BYTES + 1)
            if len(raw) > MAX_REPLY_BYTES:
                raise EngineError(f"LLM reply over {MAX_REPLY_BYTES} bytes")
            data = jsonguard.loads(raw)
        except urllib.error.HTTPError as exc:
            raise EngineError(f"HTTP {exc.code} from the LLM") from None
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            raise EngineError(f"LLM unreachable or too slow: {exc}") from None
        except ValueError:
            raise EngineError("LLM answered with non-JSON") from None
        try:
            return data["choices"][0]["message"]
        except (KeyError, IndexError, TypeError):
            raise EngineError("LLM answer without choices[0].message") from None

    # --- a turn ---------------------------------------------------------------------------

    def turn(self, session: dict, inbound: Inbound, rails: Rails) -> Turn:
        facts = rails.facts()
        history = list(session.get("llm") or [])
        user_text = inbound.text or inbound.reply_id
        if inbound.reply_id.startswith("slot:"):
            user_text = f"{inbound.text} (slot_id {inbound.reply_id[5:]})"
        history.append({"role": "user", "content": user_text})
        context = {"agora": facts.now.isoformat(timespec="minutes"), "paciente": facts.patient_name,
                   "clinica": rails.org.name}
        messages = [{"role": "system", "content": SYSTEM + "\n" + json.dumps(context, ensure_ascii=False)},
                    *history[-HISTORY:]]
        turn = Turn()
        for _round in range(MAX_ROUNDS):
            answer = self._complete(messages)
            calls = answer.get("tool_calls") or []
            messages.append({"role": "assistant", "content": answer.get("content") or "",
                             **({"tool_calls": calls} if calls else {})})
            if not calls:
                text = (answer.get("content") or "").strip()
                if text:
                    bad = rails.unbacked_values(text)
                    if bad:
                        # The model said a price or time no service gave: never sent.
                        log.warning("assistant LLM text with unbacked values %s dropped", bad)
                        raise EngineError(f"LLM invented values {bad}")
                    turn.replies.append(Reply(text))
                history = [m for m in messages[1:] if m["role"] in ("user", "assistant") and not m.get("tool_calls")]
                session["llm"] = history[-HISTORY:]
                return turn
            for call in calls:
                result = self._tool(call, rails, facts, turn)
                messages.append({"role": "tool", "tool_call_id": str(call.get("id", "")),
                                 "content": json.dumps(result, ensure_ascii=False, default=str)})
            if turn.replies and rails.handoff_reason:
                break
        session["llm"] = [m for m in messages[1:] if m["role"] in ("user", "assistant")
                          and not m.get("tool_calls")][-HISTORY:]
        if not turn.replies:
            raise EngineError("LLM used every round without answering")
        return turn

    def _tool(self, call: dict, rails: Rails, facts: flow.Facts, turn: Turn) -> dict:
        fn = call.get("function") or {}
        name = fn.get("name")
        try:
            args = jsonguard.loads(fn.get("arguments") or "{}")
            if not isinstance(args, dict):
                raise ValueError
        except ValueError:
            return {"error": "arguments are not a JSON object"}
        try:
            if name == "find_slots":
                start = end = None
                if args.get("date"):
                    tz = facts.now.tzinfo
                    day = date.fromisoformat(str(args["date"])[:10])
                    lo, hi = PERIODS.get(str(args.get("period") or ""), (time(0), None))
                    start = datetime.combine(day, lo, tz)
                    end = datetime.combine(day, hi, tz) if hi else datetime.combine(day + timedelta(days=1), time(0), tz)
                slots = rails.find_slots(int(args["service_id"]), args.get("professional_id"), start, end, limit=8)
                return {"slots": [{"slot_id": s.key, "inicio": flow.fmt_when(s.start), "profissional": s.professional}
                                  for s in slots]}
            if name in ("hold_slot", "book"):
                turn.replies.append(rails.hold(str(args.get("slot_id", ""))))
                return {"ok": True, "note": "summary sent; the patient must press Confirmar"}
            if name == "reschedule":
                turn.replies.append(rails.propose_reschedule(args.get("appointment_id"), str(args.get("slot_id", ""))))
                return {"ok": True, "note": "summary sent; the patient must press Confirmar"}
            if name == "cancel":
                turn.replies.append(rails.propose_cancel(args.get("appointment_id")))
                return {"ok": True, "note": "question sent; the patient must press Confirmar"}
            if name == "clinic_info":
                info = rails.info
                return {"services": [{"id": s["id"], "name": s["name"], "price": s["price"],
                                      "duration_minutes": s["duration_minutes"], "professionals": s["professionals"]}
                                     for s in info["services"]],
                        "professionals": info["professionals"],
                        "locations": [{"name": loc["name"], "address": loc["address"]} for loc in info["locations"]],
                        "appointments": [{"id": a.id, "inicio": flow.fmt_when(a.start), "servico": a.service,
                                          "profissional": a.professional, "status": a.status}
                                         for a in facts.upcoming]}
            if name == "handoff":
                rails.handoff(str(args.get("reason") or _("Pedido do assistente.")))
                turn.replies.append(Reply(_("Certo, vou chamar alguém da recepção. Aguarde um momento.")))
                return {"ok": True}
            if name == "opt_out":
                rails.opt_out()
                return {"ok": True}
        except RailRefused as exc:
            return {"error": str(exc)}
        except (KeyError, TypeError, ValueError) as exc:
            return {"error": f"invalid arguments: {exc}"}
        return {"error": f"unknown tool {name!r}"}
