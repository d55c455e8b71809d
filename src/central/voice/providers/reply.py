"""Reply engines: a deterministic pt-BR rule engine (offline default) and an
OpenAI-compatible chat-completions engine with tools (also covers local servers).

Engines only *understand*; the concierge state machine (``flows/concierge.py``) decides
what happens next, so an LLM can never skip the resident's authorization.
"""

from __future__ import annotations

from central.core import parsers
from central.voice import ptbr
from central.voice.providers import http
from central.voice.providers.base import Interpretation, ProviderError


class RuleEngine:
    name = "rules"

    async def interpret(self, text: str, context: dict) -> Interpretation:
        return self.interpret_now(text)

    @staticmethod
    def interpret_now(text: str) -> Interpretation:
        unit = ptbr.parse_unit(text)
        return Interpretation(
            visitor_name=ptbr.parse_name(text),
            unit=unit.number,
            block=unit.block,
            wants_human=ptbr.wants_human(text),
            answer=ptbr.yes_no(text),
        )


TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "registrar_visita",
            "description": "Registra o visitante e a unidade (apartamento e bloco) que ele quer visitar.",
            "parameters": {
                "type": "object",
                "properties": {
                    "visitante": {"type": "string", "description": "nome do visitante"},
                    "apartamento": {"type": "string", "description": "número do apartamento, só dígitos"},
                    "bloco": {"type": "string", "description": "bloco ou torre, se dito"},
                },
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "transferir_para_portaria",
            "description": "O visitante pediu para falar com um porteiro humano.",
            "parameters": {"type": "object", "properties": {}},
        },
    },
    {
        "type": "function",
        "function": {
            "name": "resposta_do_morador",
            "description": "O morador respondeu se autoriza a entrada do visitante.",
            "parameters": {
                "type": "object",
                "properties": {"autorizado": {"type": "boolean"}},
                "required": ["autorizado"],
            },
        },
    },
]


class OpenAIChatEngine:
    """Chat completions with tools; the persona/instructions come from the extension."""

    def __init__(self, settings: dict) -> None:
        self.base_url = settings.get("base_url", "https://api.openai.com/v1").rstrip("/")
        self.model = settings.get("model", "gpt-4o-mini")
        self.key = http.api_key(settings, "OPENAI_API_KEY", "base_url")
        self.timeout = float(settings.get("timeout", 10))
        self.name = settings.get("name", "openai-chat")

    async def interpret(self, text: str, context: dict) -> Interpretation:
        system = context.get("instructions") or (
            "Você é a portaria virtual de um condomínio. Extraia o nome do visitante e a "
            "unidade, ou a resposta do morador, usando as ferramentas. Responda em português."
        )
        payload = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": f"{system}\nEtapa atual: {context.get('state', '')}"},
                {"role": "user", "content": text},
            ],
            "tools": TOOLS,
            "temperature": 0,
        }
        headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        data = await http.post_json(f"{self.base_url}/chat/completions", payload, headers, self.timeout)
        try:
            message = data["choices"][0]["message"]
        except (KeyError, IndexError, TypeError):
            raise ProviderError(f"unexpected chat response {str(data)[:80]}") from None
        result = Interpretation(reply=message.get("content") or None)
        for call in message.get("tool_calls") or []:
            fn = call.get("function", {})
            try:
                args = parsers.loads(fn.get("arguments") or "{}")
            except ValueError:
                raise ProviderError(f"tool call with invalid JSON arguments: {fn}") from None
            result.tool_calls.append({"name": fn.get("name"), "arguments": args})
            if fn.get("name") == "registrar_visita":
                result.visitor_name = args.get("visitante") or None
                number = ptbr.parse_number(str(args.get("apartamento") or ""))
                result.unit = number
                result.block = (str(args["bloco"]).upper() or None) if args.get("bloco") else None
            elif fn.get("name") == "transferir_para_portaria":
                result.wants_human = True
            elif fn.get("name") == "resposta_do_morador":
                result.answer = bool(args.get("autorizado"))
        return result
