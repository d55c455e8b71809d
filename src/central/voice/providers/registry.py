"""Build an extension's provider chains from its settings JSON.

Example::

    {"stt": [{"type": "openai", "base_url": "http://127.0.0.1:8000/v1"}],
     "tts": [{"type": "azure", "region": "brazilsouth"}, {"type": "espeak"}],
     "reply": [{"type": "openai", "model": "gpt-4o-mini"}, {"type": "rules"}],
     "timeout": 5}

Defaults are offline: TTS espeak-ng, reply rules, no STT (DTMF path).  The offline
provider is appended to TTS and reply chains when missing so a network failure still
leaves a voice and a deterministic engine.

A tenant admin writes this JSON, so every key a provider reads is declared in
:data:`PROVIDER_SETTINGS` with its kind and an undeclared key is refused: a URL or key
setting cannot be added to a provider without passing the ``central.core.outbound`` rule
(tenant-prefixed key variables, public destinations). ``tests/core/test_outbound.py``
checks each provider reads only what it declares. Tenants cannot choose an executable
(espeak-ng is found on the PATH).
"""

from __future__ import annotations

import re
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


_COMMON = {"type": "text", "name": "text", "timeout": "number"}
_OPENAI = {**_COMMON, "base_url": "url", "model": "text", "api_key_env": "env"}
_AZURE = {**_COMMON, "region": "region", "endpoint": "url", "api_key_env": "env"}

#: (chain, type) -> {setting: kind}. Kinds: text, number, url (outbound destination),
#: env (tenant secret name), region (a DNS label inside the provider's own domain).
PROVIDER_SETTINGS: dict[tuple[str, str], dict[str, str]] = {
    ("stt", "openai"): {**_OPENAI, "language": "text"},
    ("stt", "azure"): {**_AZURE, "language": "text"},
    ("tts", "openai"): {**_OPENAI, "voice": "text"},
    ("tts", "azure"): {**_AZURE, "voice": "text"},
    ("tts", "espeak"): {"type": "text", "name": "text", "voice": "text", "speed": "number"},
    ("reply", "openai"): _OPENAI,
    ("reply", "rules"): {"type": "text", "name": "text"},
}
#: Top-level keys of the settings JSON besides the three chains.
TOP_LEVEL = {"timeout": "number", "tts_timeout": "number", "vad": "vad", "scripted_stt": "text"}
_REGION = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


def validate_settings(settings: dict, *, check_destinations: bool = True) -> None:
    """Refuse undeclared keys and values outside their kind's rule (ConfigError, pt-BR).

    ``check_destinations`` resolves every URL (the API does; the voice process checks
    again on each request in :mod:`central.voice.providers.http`)."""
    from central.core import outbound

    if not isinstance(settings, dict):
        raise ConfigError("providers must be a JSON object")
    for key, value in settings.items():
        if key in ("stt", "tts", "reply"):
            if not isinstance(value, list):
                raise ConfigError(f"{key} must be a list")
            for item in value:
                _validate_item(key, item, check_destinations, outbound)
        elif key not in TOP_LEVEL:
            raise ConfigError(f"unknown setting {key!r}")
        elif TOP_LEVEL[key] == "vad" and not isinstance(value, dict):
            raise ConfigError("vad must be an object")


def _validate_item(chain: str, item, check_destinations: bool, outbound) -> None:
    if not isinstance(item, dict):
        raise ConfigError(f"each {chain} provider must be an object")
    schema = PROVIDER_SETTINGS.get((chain, item.get("type", "")))
    if schema is None:
        raise ConfigError(f"unknown {chain} provider type {item.get('type')!r}")
    for key, value in item.items():
        kind = schema.get(key)
        if kind is None:
            raise ConfigError(f"{chain} provider {item['type']!r}: unknown setting {key!r}")
        if kind == "region" and not _REGION.match(str(value)):
            raise ConfigError(f"{chain} provider {item['type']!r}: invalid region {value!r}")
        try:
            if kind == "env":
                outbound.validate_env_name(str(value))
            elif kind == "url":
                (outbound.validate_url if check_destinations else outbound.url_destination)(str(value))
        except outbound.OutboundRefused as exc:
            raise ConfigError(f"{chain} {item['type']} {key}: {exc}") from None
        if kind == "number":
            try:
                float(value)
            except (TypeError, ValueError):
                raise ConfigError(f"{chain} provider {item['type']!r}: {key} must be a number") from None


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


def build_providers(settings: dict | None, *, stt_override=None, check_destinations: bool = False) -> Providers:
    settings = settings or {}
    validate_settings(settings, check_destinations=check_destinations)
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
