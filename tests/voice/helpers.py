"""Shared test helpers for the voice tests (configs, a fake resident phone)."""

from __future__ import annotations

import asyncio

from central.voice.config import ExtensionConfig, ResidentConfig, UnitConfig, VoiceConfig

# One phrase cache per test session: espeak-ng output is deterministic, so tests need
# not pay for synthesizing the same phrases again (each service still warms through it).
SHARED_CACHES: dict = {}
FAST_TTS = {"tts": [{"type": "espeak", "speed": 800}]}

UNITS = (
    UnitConfig("302", "B", (ResidentConfig("Ana Souza", "PJSIP/1101"),)),
    UnitConfig("101", "A", (ResidentConfig("Bruno Lima", "PJSIP/1201"),)),
    UnitConfig("101", "B", (ResidentConfig("Carla Dias", "PJSIP/1202"),)),
    UnitConfig("404", "A", ()),
)


def extension(**kw) -> ExtensionConfig:
    base = dict(
        number="1003", return_number="1004", bind_ip="127.0.0.1", port=0, return_port=0,
        organization="Condomínio Jardim", greeting="Olá, portaria virtual do Condomínio Jardim.",
        providers=FAST_TTS, concierge_extension="1000", units=UNITS,
    )
    base.update(kw)
    return ExtensionConfig(**base)


def config(*exts: ExtensionConfig) -> VoiceConfig:
    return VoiceConfig(tuple(exts) or (extension(),), source="database")


class FakeResidentPhone:
    """The originator the lead wires to AMI, played here by a real AudioSocket client:
    it connects to the return port with the visit id as UUID (as the dialplan's
    ``AudioSocket(${AS_UUID},...)`` would) and answers by DTMF or speech."""

    def __init__(self, answer: str | None = "1", fail: bool = False) -> None:
        self.answer = answer
        self.fail = fail
        self.originated: list[dict] = []
        self.transfers: list[dict] = []
        self.legs: list = []
        self.tasks: list[asyncio.Task] = []

    async def originate_resident(self, *, visit_id, resident, extension, return_host, return_port):
        self.originated.append({"visit_id": visit_id, "resident": resident, "return_port": return_port})
        if self.fail:
            from central.voice.calls import OriginateFailed

            raise OriginateFailed("originate rejected (reason None): Extension does not exist.")
        if self.answer is None:
            return  # rings forever: the ring timer decides
        self.tasks.append(asyncio.get_running_loop().create_task(self._leg(visit_id, return_host, return_port)))

    async def _leg(self, visit_id, return_host, return_port):
        from tests.voice.asclient import ASClient

        leg = await ASClient().connect(return_host, return_port, visit_id)
        self.legs.append(leg)
        await leg.wait_voice(timeout=10)
        await leg.dtmf(self.answer)
        await leg.wait_closed(timeout=15)

    async def transfer(self, *, call_uuid, to_extension, extension):
        self.transfers.append({"call_uuid": call_uuid, "to": to_extension})


async def in_thread(fn, *args, **kwargs):
    """``asyncio.to_thread`` for ORM calls: the worker thread gives its connection back
    (with the PostgreSQL pool a thread that keeps one holds a pool slot for good)."""
    from central.core.db import release_connection

    def run():
        try:
            return fn(*args, **kwargs)
        finally:
            release_connection()

    return await asyncio.to_thread(run)
