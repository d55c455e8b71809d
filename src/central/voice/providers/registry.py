"""Build an extension's provider chains from its settings JSON.

Example::

    {"stt": [{"type": "openai", "base_url": "http://127.0.0.1:8000/v1"}],
     "tts": [{"type": "azure", "region": "brazilsouth"}, {"type": "espeak"}],
     "reply": [{"type": "openai", "model": "gpt-4o-mini"}, {"type": "rules"}],
     "timeout": 5}

Defaults are offline: TTS espeak-ng, reply rules, no STT (DTMF path).  The offline
provider is appended to TTS and reply chains when missing so a network failure still
leaves a voice and a deterministic engine.
"""

from __future__ import annotations

from dataclasses import dataclass

from central.voice.providers.base import ReplyChain, STTChain, TTSChain
from central.voice.providers.reply import OpenAIChatEngine, RuleEngine
from central.voice.providers.stt import AzureSTT, OpenAISTT, ScriptedSTT
from central.voice.providers.tts import AzureTTS, EspeakTTS, OpenAITTS

STT_TYPES = {"openai": OpenAISTT, "azure": AzureSTT}
TTS_TYPES = {"openai": OpenAITTS, "azure": AzureTTS, "espeak": EspeakTTS}
REPLY_TYPES = {"openai": OpenAIChatEngine, "rules": lambda _s: RuleEngine()}


class ConfigError(ValueError):
    pass


@dataclass
class Providers:
    stt: STTChain
    tts: TTSChain
    reply: ReplyChain


def _build(kind: str, types: dict, items: list[dict]) -> list:
    out = []
    for item in items:
        factory = types.get(item.get("type", ""))
        if factory is None:
            raise ConfigError(f"unknown {kind} provider type {item.get('type')!r}")
        out.append(factory(item))
    return out


def build_providers(settings: dict | None, *, stt_override=None) -> Providers:
    settings = settings or {}
    timeout = float(settings.get("timeout", 5))
    stt = _build("stt", STT_TYPES, settings.get("stt", []))
    if stt_override is not None:
        stt = [stt_override]
    elif settings.get("scripted_stt") is not None:  # demos/benches only
        stt = [ScriptedSTT(default=str(settings["scripted_stt"]))]
    tts = _build("tts", TTS_TYPES, settings.get("tts", []))
    if not any(isinstance(p, EspeakTTS) for p in tts):
        tts.append(EspeakTTS())
    reply = _build("reply", REPLY_TYPES, settings.get("reply", []))
    if not any(isinstance(p, RuleEngine) for p in reply):
        reply.append(RuleEngine())
    return Providers(
        STTChain("stt", stt, timeout),
        TTSChain("tts", tts, float(settings.get("tts_timeout", max(timeout, 8)))),
        ReplyChain("reply", reply, timeout),
    )
