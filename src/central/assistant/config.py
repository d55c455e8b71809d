"""Which engine answers a clinic, from the environment (no secret in the database).

``CENTRAL_ASSISTANT_LLM`` is a JSON object keyed by the clinic's slug::

    {"clinica-bem-estar": {"base_url": "https://llm.example.com/v1", "model": "gpt-4o-mini",
                           "api_key_env": "CENTRAL_TENANT_SECRET_BEM_ESTAR_LLM", "timeout": 8}}

``base_url`` is an OpenAI-compatible API (``POST {base_url}/chat/completions``), checked
by ``core.outbound``'s rule right before each call (public addresses only unless the
operator opened a network with ``CENTRAL_OUTBOUND_ALLOW``); ``api_key_env`` names an
environment variable under the tenant prefix (``CENTRAL_TENANT_SECRET_``), read through
``core.outbound.read_secret``. A clinic without an entry (the default) gets the offline
engine. ``CENTRAL_ASSISTANT=off`` turns the assistant off for every clinic (conversations
then wait for a human, as for any other organization).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from central.core import jsonguard

log = logging.getLogger(__name__)

ENV_LLM = "CENTRAL_ASSISTANT_LLM"
ENV_SWITCH = "CENTRAL_ASSISTANT"
DEFAULT_TIMEOUT = 8.0


@dataclass(frozen=True)
class LLMConfig:
    base_url: str
    model: str
    api_key_env: str = ""
    timeout: float = DEFAULT_TIMEOUT


def assistant_enabled(org) -> bool:
    return os.environ.get(ENV_SWITCH, "on").strip().lower() not in ("off", "0", "false", "no")


def llm_config(org, environ=None) -> LLMConfig | None:
    env = os.environ if environ is None else environ
    raw = env.get(ENV_LLM, "").strip()
    if not raw:
        return None
    try:
        entry = jsonguard.loads(raw).get(org.slug)
    except (ValueError, AttributeError):
        log.error("%s is not a JSON object; every clinic uses the offline assistant", ENV_LLM)
        return None
    if not isinstance(entry, dict) or not entry.get("base_url") or not entry.get("model"):
        return None
    try:
        timeout = float(entry.get("timeout") or DEFAULT_TIMEOUT)
    except (TypeError, ValueError):
        timeout = DEFAULT_TIMEOUT
    return LLMConfig(str(entry["base_url"]).rstrip("/"), str(entry["model"]), str(entry.get("api_key_env") or ""),
                     max(0.5, min(timeout, 30.0)))


def engine_for(org, session):
    """The LLM engine when the clinic has one and this conversation did not fall back."""
    from .offline import OfflineEngine

    cfg = llm_config(org)
    if cfg is None or session.engine == "offline" and session.fallbacks:
        return OfflineEngine()
    from .llm import LLMEngine

    session.engine = "llm"
    return LLMEngine(cfg)
