"""The parts together, over real sockets: the dialer engine, the PBX link and the simulator.

Issue 14's failures sat between parts each tested alone (the dialer set one channel
variable, the link read another; a reconcile ignored the link's call records). Tests built
on this rig run a real :class:`~central.telephony.link.PBXLink` and one or more real
:class:`~central.dialer.engine.Engine` processes' worth of objects against one simulator
on a manual clock, writing to the test database, and read the results back through the
API.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from asgiref.sync import sync_to_async

from central.dialer.engine import Engine, EngineOptions, _close_connection
from central.simulator import Simulator, SimulatorConfig
from central.simulator.world import WorldConfig
from central.telephony.ami.client import AMIClient
from central.telephony.link import LinkTarget, PBXLink
from central.telephony.store import ServerRef
from tests.dialer.engine_support import BASE_EPOCH
from tests.telephony.pbxkit import FAST_CLIENT, SECRET, USER, close_thread_connections


@dataclass
class LinkedRig:
    sim: Simulator
    link: PBXLink | None
    link_task: asyncio.Task | None
    server: object
    engines: list[Engine] = field(default_factory=list)
    clients: list[AMIClient] = field(default_factory=list)

    def now(self) -> float:
        return BASE_EPOCH + self.sim.clock.now()

    async def engine(self, name: str, *, lease_ttl: float = 15.0, renew_every: float = 5.0) -> Engine:
        client = AMIClient(self.sim.host, self.sim.port, USER, SECRET, name=name, **FAST_CLIENT)
        await client.start()
        engine = Engine(client, name=name, clock=self.now,
                        options=EngineOptions(lease_ttl=lease_ttl, renew_every=renew_every,
                                              server=self.server.name, server_id=self.server.pk,
                                              default_organization_ids=(self.server.organization_id,)))
        await engine.start()
        self.engines.append(engine)
        self.clients.append(client)
        return engine

    async def ami(self, name: str = "test-actions") -> AMIClient:
        """Another AMI connection, for actions a test sends itself (Hangup, Originate)."""
        client = AMIClient(self.sim.host, self.sim.port, USER, SECRET, name=name, **FAST_CLIENT)
        await client.start()
        self.clients.append(client)
        return client

    async def run(self, seconds: int, *engines: Engine) -> None:
        """Alternate one tick of each engine given and one simulated second."""
        for _ in range(seconds):
            for engine in engines:
                await engine.step()
            await self.sim.advance(1.0)

    async def flushed(self) -> None:
        if self.link is not None:
            await asyncio.sleep(0)
            await self.link.flush()

    async def stop_link(self) -> None:
        if self.link_task is not None:
            self.link_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.link_task
        self.link = self.link_task = None

    @staticmethod
    async def kill(engine: Engine) -> None:
        """What SIGKILL leaves behind, in process: the engine stops between two ticks with
        nothing flushed, no lease released, its AMI connection simply gone."""
        if engine._remove_listener is not None:
            engine._remove_listener()
            engine._remove_listener = None
        for task in list(engine._tasks):
            task.cancel()
        engine.runners.clear()
        await engine.client.close()
        # The OS closes a killed process's sockets: its database session ends too.
        await asyncio.get_running_loop().run_in_executor(engine._executor, _close_connection)
        engine._executor.shutdown(wait=False, cancel_futures=True)

    async def close(self) -> None:
        for engine in self.engines:
            with contextlib.suppress(Exception):
                await engine.close(release=False)
        for client in self.clients:
            with contextlib.suppress(Exception):
                await client.close()
        await self.stop_link()
        await self.sim.stop()
        await close_thread_connections()


def _server(org, host: str, port: int):
    from central.telephony.models import AsteriskServer

    return AsteriskServer.objects.create(organization=org, name="pbx-e2e", host=host, port=port,
                                         username=USER, secret_env="CENTRAL_TEST_UNUSED")


async def start_linked(org, world: WorldConfig, *, link: bool = True, **sim_options) -> LinkedRig:
    """Simulator (manual clock) + PBX link for ``org``; add engines with ``rig.engine()``."""
    sim = await Simulator(SimulatorConfig(clock="manual", world=world, seed=7, **sim_options)).start()
    sim.clock._epoch0 = BASE_EPOCH
    server = await sync_to_async(_server)(org, sim.host, sim.port)
    pbx = task = None
    if link:
        target = LinkTarget(ServerRef(server.pk, org.pk, server.name), sim.host, sim.port, USER, SECRET)
        pbx = PBXLink(target, clock=sim.clock.epoch, flush_interval=0.05, publish=False, client_options=FAST_CLIENT)
        task = asyncio.create_task(pbx.run())
        await asyncio.wait_for(pbx.resynced.wait(), 5)
    return LinkedRig(sim, pbx, task, server)
