"""Phrase cache: common phrases pre-synthesized as ready-to-send AudioSocket frames.

Fixed answers ("Um momento, estou chamando o morador") are synthesized once per extension
and sample rate at start and on refresh, and stored already framed (header + 20 ms of
PCM), so a cached answer costs a dict lookup: the pacer sends its first frame on the next
tick after the decision.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict

from central.voice.audio import split_frames
from central.voice.audiosocket.protocol import frame_bytes

log = logging.getLogger(__name__)

#: Dynamic phrases (briefings with names and unit numbers) kept after first use.
MAX_DYNAMIC = 256


class PhraseCache:
    def __init__(self, tts) -> None:
        self.tts = tts
        self._fixed: dict[tuple[str, int], tuple[bytes, ...]] = {}
        self._dynamic: OrderedDict[tuple[str, int], tuple[bytes, ...]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, text: str, rate: int) -> tuple[bytes, ...] | None:
        key = (text, rate)
        frames = self._fixed.get(key)
        if frames is None:
            frames = self._dynamic.get(key)
            if frames is not None:
                self._dynamic.move_to_end(key)
        if frames is None:
            self.misses += 1
        else:
            self.hits += 1
        return frames

    async def synthesize(self, text: str, rate: int, *, fixed: bool = False) -> tuple[bytes, ...]:
        pcm = await self.tts.synthesize(text, rate)
        frames = tuple(frame_bytes(f, rate) for f in split_frames(pcm, rate))
        if fixed:
            self._fixed[(text, rate)] = frames
        else:
            self._dynamic[(text, rate)] = frames
            while len(self._dynamic) > MAX_DYNAMIC:
                self._dynamic.popitem(last=False)
        return frames

    async def warm(self, texts: list[str], rates: tuple[int, ...] = (8000,)) -> int:
        """Pre-synthesize ``texts``; a failing TTS is logged, not fatal (served live later)."""
        todo = [(t, r) for t in dict.fromkeys(texts) for r in rates if (t, r) not in self._fixed]
        results = await asyncio.gather(
            *(self.synthesize(t, r, fixed=True) for t, r in todo), return_exceptions=True
        )
        failed = [(t, e) for (t, _r), e in zip(todo, results, strict=True) if isinstance(e, BaseException)]
        for text, exc in failed:
            log.warning("phrase cache: cannot synthesize %r: %s", text[:40], exc)
        return len(todo) - len(failed)

    def __len__(self) -> int:
        return len(self._fixed) + len(self._dynamic)
