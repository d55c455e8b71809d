"""``central up``'s embedded parts in demo mode (simulator + voice, as ``run_embedded``
starts them): the demo condominium gets an AI extension, the simulator's demo visitors
call it, and the visits end with the outcomes real visits have, never "Falha do sistema"
unless something really failed (a congested line, Reason 8).

Before: the demo simulator had no ``portaria-retorno`` context and no AudioSocket leg, so
any demo visit was logged ``failed`` ("Extension does not exist."); and the demo had no
AI extension nor visitors, so the visits page stayed empty.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from central.voice import embedded as voice_embedded
from tests.voice.helpers import in_thread
from tests.voice.test_visit_outcomes_e2e import free_port

pytestmark = pytest.mark.django_db(transaction=True)

DECIDED = {"authorized", "denied", "no_answer", "abandoned"}


def _rows():
    from central.voice.models import VisitLog

    return [(v.outcome, [a["event"] for a in v.audit], " ".join(a["detail"] for a in v.audit),
             v.extension_number, v.organization.slug) for v in VisitLog.objects.select_related("organization")]


async def test_demo_visits_reach_the_resident_and_end_with_a_real_outcome(monkeypatch, tmp_path):
    from central.core.demo import ensure_demo
    from central.simulator import embedded as sim_embedded

    await in_thread(ensure_demo)
    api_port = free_port()
    monkeypatch.setattr(voice_embedded, "VOICE_API_PORT", api_port)
    monkeypatch.setattr(voice_embedded, "DEMO_PORTS", (free_port(), free_port()))
    monkeypatch.setenv("CENTRAL_VOICE_API_URL", f"http://127.0.0.1:{api_port}")
    monkeypatch.setenv("CENTRAL_VOICE_TOKEN", "demo-test-token")
    monkeypatch.setenv("CENTRAL_DATA_DIR", str(tmp_path))  # the voice config snapshot
    monkeypatch.setenv("CENTRAL_DEMO_CALLS", "0")
    monkeypatch.setenv("CENTRAL_DEMO_VISITS", "60")
    monkeypatch.delenv("CENTRAL_AMI_URL", raising=False)
    context: dict = {"simulator": True}
    tasks = [asyncio.ensure_future(t) for t in await sim_embedded.start(context)]
    sim = context["simulator"]
    tasks += [asyncio.ensure_future(t) for t in await voice_embedded.start(context)]
    try:
        # Until one visit got as far as the resident's AudioSocket leg (the resident
        # answers 55 % of demo calls) and every visit so far has ended.
        deadline = time.monotonic() + 120
        while True:
            rows = await in_thread(_rows)
            if any("resident_phone_answered" in events for _o, events, *_ in rows) and sim.legs:
                break
            assert time.monotonic() < deadline, rows
            await asyncio.sleep(0.2)
    finally:
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        await sim.stop()
    # The visitors were pointed at the demo extension's listener, with its units.
    assert sim.config.visitors.target.startswith("127.0.0.1:")
    assert set(sim.config.visitors.units) == {u for u, *_ in voice_embedded.DEMO_UNITS}
    for outcome, _events, details, ramal, org in rows:
        assert (ramal, org) == (voice_embedded.DEMO_EXTENSION[0], voice_embedded.DEMO_ORG)
        assert "Extension does not exist" not in details
        # A failure only when the line really failed: congestion (Reason 8, cause 34).
        assert outcome in DECIDED or (outcome == "failed" and "congestion" in details), (outcome, details)
