"""Provider interfaces and the fallback chain.

A provider is anything with ``name`` and one async method.  Chains try providers in
order with a per-call timeout; the pipeline catches :class:`ProviderError` from a whole
chain and plays the cached apology instead of leaving the caller in silence.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


class ProviderError(Exception):
    """A provider (or a whole chain) failed: bad response, HTTP error, timeout."""


class STTProvider(Protocol):
    name: str

    async def transcribe(self, pcm: bytes, rate: int) -> str: ...


class TTSProvider(Protocol):
    name: str

    async def synthesize(self, text: str, rate: int) -> bytes:
        """Return signed 16-bit mono PCM at ``rate``."""
        ...


@dataclass
class Interpretation:
    """What the reply engine understood from one caller utterance."""

    visitor_name: str | None = None
    unit: str | None = None
    block: str | None = None
    wants_human: bool = False
    answer: bool | None = None  # resident: True authorizes, False denies
    reply: str | None = None  # free text the engine wants said (LLM engines)
    tool_calls: list[dict] = field(default_factory=list)


class ReplyEngine(Protocol):
    name: str

    async def interpret(self, text: str, context: dict) -> Interpretation: ...


@dataclass
class ProviderStats:
    calls: int = 0
    errors: int = 0
    fallbacks: int = 0
    last_error: str = ""


class Chain:
    """Try ``providers`` in order; each gets ``timeout`` seconds."""

    def __init__(self, kind: str, providers: list, timeout: float = 5.0) -> None:
        self.kind = kind
        self.providers = list(providers)
        self.timeout = timeout
        self.stats = {p.name: ProviderStats() for p in self.providers}

    @property
    def name(self) -> str:
        return "+".join(p.name for p in self.providers) or "none"

    async def call(self, method: str, *args) -> object:
        errors = []
        for index, provider in enumerate(self.providers):
            stats = self.stats.setdefault(provider.name, ProviderStats())
            stats.calls += 1
            if index:
                stats.fallbacks += 1
            started = time.monotonic()
            try:
                fn: Callable[..., Awaitable[object]] = getattr(provider, method)
                return await asyncio.wait_for(fn(*args), self.timeout)
            except TimeoutError:
                err = f"{provider.name}: timeout after {time.monotonic() - started:.1f}s"
            except ProviderError as exc:
                err = f"{provider.name}: {exc}"
            except Exception as exc:  # a provider bug must not end the call
                err = f"{provider.name}: {type(exc).__name__}: {exc}"
            stats.errors += 1
            stats.last_error = err
            errors.append(err)
            log.warning("%s provider failed, trying next: %s", self.kind, err)
        raise ProviderError(f"all {self.kind} providers failed: " + ("; ".join(errors) or "none configured"))


class STTChain(Chain):
    async def transcribe(self, pcm: bytes, rate: int) -> str:
        return await self.call("transcribe", pcm, rate)  # type: ignore[return-value]


class TTSChain(Chain):
    async def synthesize(self, text: str, rate: int) -> bytes:
        return await self.call("synthesize", text, rate)  # type: ignore[return-value]


class ReplyChain(Chain):
    async def interpret(self, text: str, context: dict) -> Interpretation:
        return await self.call("interpret", text, context)  # type: ignore[return-value]
