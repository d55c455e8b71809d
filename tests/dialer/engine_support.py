"""Helpers for the dialer engine tests: an in-process simulator on a manual clock, an
engine whose clock is the simulator's, and a spy on the Originates the PBX received."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

from central.dialer.engine import Engine, EngineOptions
from central.simulator import Simulator, SimulatorConfig
from central.simulator.world import WorldConfig
from central.telephony.ami.client import AMIClient

# A Wednesday, 14:00 in São Paulo: inside the default working hours, not a holiday.
BASE_EPOCH = datetime(2026, 11, 25, 17, 0, tzinfo=UTC).timestamp()
ALL_DAY = {d: [["00:00", "23:59"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def make_campaign(org, **kw):
    from central.dialer.models import Campaign

    defaults = dict(name="Teste", status="active", queue="sales", dial_context="discador-out",
                    pacing_mode="progressive", working_hours=ALL_DAY, respect_holidays=False,
                    max_channels=30, max_cps=50, ring_timeout_s=20, abandon_after_s=2.0)
    defaults.update(kw)
    return Campaign.objects.create(organization=org, **defaults)


def make_contacts(campaign, phones, **kw):
    from central.dialer.models import Contact

    return [Contact.objects.create(organization=campaign.organization, campaign=campaign, phone=p, **kw)
            for p in phones]


def phones(n: int, start: int = 0) -> list[str]:
    return [f"+55119{start + i:08d}" for i in range(n)]


class OriginateSpy:
    """Records every Originate the simulated PBX executed (ChannelId, Channel)."""

    def __init__(self, sim: Simulator) -> None:
        self.seen: list[tuple[str, str]] = []
        self._grew = asyncio.Event()
        original = sim.pbx._a_originate

        def spy(msg, aid, session):
            self.seen.append((msg.get("ChannelId") or "", msg.get("Channel") or ""))
            self._grew.set()
            return original(msg, aid, session)

        sim.pbx._a_originate = spy

    async def wait(self, n: int = 1, timeout: float = 10.0) -> None:
        """Until the PBX has executed ``n`` Originates. The engine's step returns once
        the bytes are written; the simulator reads them in its own loop turns, later
        (under load, after the step's database calls have returned)."""
        async with asyncio.timeout(timeout):
            while len(self.seen) < n:
                self._grew.clear()
                await self._grew.wait()

    @property
    def ids(self) -> list[str]:
        return [cid for cid, _ in self.seen]

    def numbers(self) -> list[str]:
        return [ch.split("/", 1)[1].split("@", 1)[0] for _, ch in self.seen]


class Rig:
    def __init__(self, sim: Simulator, client: AMIClient, engine: Engine, spy: OriginateSpy) -> None:
        self.sim, self.client, self.engine, self.spy = sim, client, engine, spy

    @property
    def world(self):
        return self.sim.pbx.world

    async def run(self, seconds: int, check=None) -> None:
        """Alternate one engine tick and one simulated second."""
        for _ in range(seconds):
            await self.engine.step()
            if check is not None:
                check(self)
            await self.sim.advance(1.0)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.engine.close()
        await self.client.close()
        await self.sim.stop()
        await close_test_connections()


async def close_test_connections() -> None:
    """The tests' ``sync_to_async`` thread keeps a connection; give it back (PostgreSQL
    cannot drop the test database while a session is open)."""
    from asgiref.sync import sync_to_async
    from django.db import connections

    await sync_to_async(connections.close_all)()


async def start_rig(world: WorldConfig | None = None, *, wrapup_s: float = 0.0, name: str = "dialer-test",
                    campaign_ids=None, **sim_options) -> Rig:
    cfg = SimulatorConfig(clock="manual", world=world or WorldConfig(agents=3), seed=7, **sim_options)
    sim = await Simulator(cfg).start()
    sim.clock._epoch0 = BASE_EPOCH
    spy = OriginateSpy(sim)
    client = AMIClient(sim.host, sim.port, "central", "central-demo", name="test", ping_interval=None,
                       backoff_initial=0.05, backoff_max=0.2)
    await client.start()
    # This simulator is every test organization's default PBX (campaigns with no server).
    orgs = await sync_to_async(_organization_ids)()
    engine = Engine(client, name=name, clock=lambda: BASE_EPOCH + sim.clock.now(),
                    options=EngineOptions(wrapup_s=wrapup_s, campaign_ids=campaign_ids,
                                          default_organization_ids=orgs))
    await engine.start()
    return Rig(sim, client, engine, spy)


def _organization_ids() -> tuple[int, ...]:
    from central.core.models import Organization

    return tuple(Organization.objects.values_list("id", flat=True))


def sync_to_async(fn):
    """The ORM from an async test: run ``fn`` in the sync thread."""
    from asgiref.sync import sync_to_async as wrap

    return wrap(fn)
