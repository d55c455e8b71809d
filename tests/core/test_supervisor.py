"""The supervisor of ``central up``'s components (issue 16, self-healing): rules and asyncio
adapter, with real tasks on a real loop (no Django, no database)."""

from __future__ import annotations

import asyncio

import pytest

from central.core.supervisor import (
    CRASHES,
    FAILED,
    RESTARTING,
    RUNNING,
    Backoff,
    Component,
    ComponentState,
    Supervisor,
)

pytestmark = pytest.mark.backend_free


def test_backoff_doubles_up_to_the_cap_and_a_stable_run_starts_afresh():
    policy = Backoff(base=1.0, cap=8.0, max_failures=6, stable_after=60.0)
    assert [policy.delay(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    state = ComponentState("pbx")
    state.running(0.0)
    assert state.crashed("boom", 5.0, policy) == 1.0
    state.running(6.0)
    assert state.crashed("boom", 7.0, policy) == 2.0  # 1 s of running is no proof of health
    state.running(10.0)
    assert state.crashed("boom", 100.0, policy) == 1.0  # ran 90 s: a new series
    assert state.state == RESTARTING and state.last_error == "boom"


def test_a_component_that_keeps_crashing_is_failed_with_its_last_error():
    policy = Backoff(max_failures=3)
    state = ComponentState("voice")
    for i in range(2):
        assert state.crashed(f"error {i}", float(i), policy) is not None
    assert state.crashed("last one", 3.0, policy) is None
    assert state.state == FAILED and state.last_error == "last one" and state.crashes == 3


async def _until(predicate, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)


def test_a_crash_restarts_only_that_component_and_the_others_keep_running():
    async def scenario() -> None:
        ticks = {"steady": 0}
        starts = {"flaky": 0}
        crash_now = asyncio.Event()

        async def steady_task() -> None:
            while True:
                ticks["steady"] += 1
                await asyncio.sleep(0.005)

        async def flaky_task() -> None:
            await crash_now.wait()
            raise RuntimeError("link lost its mind")

        async def steady(context):
            return [steady_task()]

        async def flaky(context):
            starts["flaky"] += 1
            context["flaky_starts"] = starts["flaky"]
            crash_now.clear()
            return [flaky_task()]

        before = CRASHES.labels("flaky")._value.get()
        sup = Supervisor([Component("steady", steady), Component("flaky", flaky)], {},
                         policy=Backoff(base=0.01, cap=0.05))
        runner = asyncio.create_task(sup.run())
        await _until(lambda: sup.states["flaky"].state == RUNNING)
        crash_now.set()
        await _until(lambda: starts["flaky"] == 2 and sup.states["flaky"].state == RUNNING)
        ticks_after = ticks["steady"]
        await _until(lambda: ticks["steady"] > ticks_after)  # never stopped
        assert sup.states["steady"].restarts == 0 and sup.states["steady"].state == RUNNING
        flaky_state = sup.status()["flaky"]
        assert flaky_state["restarts"] == 1 and flaky_state["crashes"] == 1
        assert flaky_state["last_error"] == "RuntimeError: link lost its mind"
        assert CRASHES.labels("flaky")._value.get() == before + 1
        sup.stop()
        await runner

    asyncio.run(scenario())


def test_failed_after_repeated_crashes_then_an_operator_restart_revives_it():
    async def scenario() -> None:
        healthy = {"yes": False}

        async def task() -> None:
            if not healthy["yes"]:
                raise OSError("port in use")
            await asyncio.Event().wait()

        async def start(context):
            return [task()]

        sup = Supervisor([Component("voice", start)], {}, policy=Backoff(base=0.001, cap=0.002, max_failures=3))
        runner = asyncio.create_task(sup.run())
        await _until(lambda: sup.states["voice"].state == FAILED)
        assert sup.states["voice"].crashes == 3 and "port in use" in sup.states["voice"].last_error
        healthy["yes"] = True
        sup.restart("voice")
        await _until(lambda: sup.states["voice"].state == RUNNING)
        sup.stop()
        await runner

    asyncio.run(scenario())


def test_a_start_that_raises_is_retried_and_a_restart_request_rebuilds_the_tasks():
    async def scenario() -> None:
        calls = {"n": 0}
        cancelled = []

        async def task(n: int) -> None:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.append(n)
                raise

        async def start(context):
            calls["n"] += 1
            if calls["n"] == 1:
                raise ConnectionRefusedError("database not there yet")
            return [task(calls["n"])]

        sup = Supervisor([Component("dialer", start)], {}, policy=Backoff(base=0.001))
        runner = asyncio.create_task(sup.run())
        await _until(lambda: sup.states["dialer"].state == RUNNING)
        assert calls["n"] == 2
        sup.restart("dialer")
        await _until(lambda: calls["n"] == 3 and sup.states["dialer"].state == RUNNING)
        assert cancelled == [2]  # the old task was cancelled before the new one started
        sup.restart("dialer", crash=True)
        await _until(lambda: calls["n"] == 4 and sup.states["dialer"].state == RUNNING)
        assert "ComponentKilled" in sup.states["dialer"].last_error
        sup.stop()
        await runner
        assert cancelled == [2, 3, 4]

    asyncio.run(scenario())


def test_the_web_ending_stops_the_process():
    async def scenario() -> None:
        async def web(context):
            async def serve() -> None:
                await asyncio.sleep(0.01)  # as uvicorn returns after SIGTERM

            return [serve()]

        async def other(context):
            return [asyncio.Event().wait()]

        sup = Supervisor([Component("other", other), Component("web", web, stops_process=True)], {})
        async with asyncio.timeout(5):
            await sup.run()
        assert sup.stopping.is_set()

    asyncio.run(scenario())
