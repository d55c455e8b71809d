"""A finished call is freed by reference counting, with no cycle left for the collector.

At 1,000 calls a full collection walks every tracked object while every call's audio
waits (collector.py).  When the objects of each ended call formed cycles (session and
handler, pipeline and processors, tasks and their frames: 71 objects a call, measured
with ``gc.DEBUG_SAVEALL``) they stayed in memory until the next full collection and made
it longer: with calls ending at 17 a second the server grew by 60 KB per call replaced.
"""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest

from central.voice.calls import VoiceRuntime
from central.voice.service import VoiceService
from tests.voice.asclient import ASClient
from tests.voice.helpers import SHARED_CACHES, FakeResidentPhone, config

pytestmark = pytest.mark.backend_free


async def test_a_finished_visit_and_its_resident_leg_are_freed_at_once():
    gc.collect()
    gc.disable()  # whatever survives the visit must be freed by reference counting alone
    try:
        phone = FakeResidentPhone()
        svc = VoiceService(loader=lambda: config(), runtime=VoiceRuntime(phone), caches=SHARED_CACHES)
        await svc.start()
        seen: weakref.WeakSet = weakref.WeakSet()
        kinds: set[str] = set()

        def note() -> None:  # a function of its own: no local outlives the look
            for rt in svc.extensions.values():
                for listener in (rt.ai, rt.ret):
                    for session in list(listener.sessions):
                        seen.add(session)
                        if session.handler is not None:
                            seen.add(session.handler)
                            kinds.add(session.handler.kind)

        async def watch() -> None:  # every session and handler the visit creates
            while True:
                note()
                await asyncio.sleep(0.005)

        watcher = asyncio.get_running_loop().create_task(watch())
        try:
            visitor = await ASClient().connect("127.0.0.1", svc.extensions["1003"].ai.port)
            await visitor.wait_voice(timeout=3)
            await visitor.dtmf("302#")
            await visitor.wait_closed(timeout=20)
            await asyncio.gather(*phone.tasks)
            assert svc.runtime.visits[-1].outcome == "authorized"
            for _ in range(100):  # the closed calls' cancelled tasks finish
                await asyncio.sleep(0.01)
                if not any(rt.ai.sessions or rt.ret.sessions for rt in svc.extensions.values()):
                    break
            await asyncio.sleep(0.05)
        finally:
            watcher.cancel()
            await svc.stop()
        assert kinds == {"visitor", "resident"}
        left = [type(o).__name__ for o in seen]
        assert not left, f"still alive without a full collection: {left}"
    finally:
        gc.enable()
