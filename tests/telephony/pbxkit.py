"""Test support for the PBX link: a real simulator on a real socket, a server row, a link.

No mocks: the link talks AMI over TCP to ``central.simulator`` and writes through the
Django ORM to the test database (tests using this need ``django_db(transaction=True)``
because the link writes from a worker thread).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from asgiref.sync import sync_to_async

from central.simulator import Simulator, SimulatorConfig
from central.simulator.config import DEMO_USERS
from central.telephony.ami.client import AMIClient
from central.telephony.link import LinkTarget, PBXLink
from central.telephony.store import ServerRef

USER, SECRET = next(iter(DEMO_USERS.items()))
FAST_CLIENT = {"backoff_initial": 0.05, "backoff_max": 0.2, "ping_interval": None,
               "connect_timeout": 3.0}


async def close_thread_connections() -> None:
    """The link writes from asgiref's worker thread; close that thread's DB connection so
    the test database can be dropped (PostgreSQL refuses while a session is open)."""
    from django.db import connections

    await sync_to_async(connections.close_all)()


async def wait_until(predicate, timeout: float = 5.0, interval: float = 0.02, what: str = ""):
    """Poll ``predicate`` (sync or async) until truthy; fail with ``what`` on timeout."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await asyncio.sleep(interval)


def _make_org_and_server(name: str, host: str, port: int):
    from central.core.models import Organization
    from central.telephony.models import AsteriskServer

    org = Organization.objects.create(name=f"Org {name}", slug=f"org-{name}")
    server = AsteriskServer.objects.create(organization=org, name=name, host=host, port=port,
                                           username=USER, secret_env="CENTRAL_TEST_UNUSED")
    return org, server


@dataclass
class Kit:
    sim: Simulator
    link: PBXLink
    org: object
    server: object
    task: asyncio.Task | None

    async def start(self) -> None:
        """Start the link (``linked(..., start=False)``) and wait for its first resync."""
        self.task = asyncio.create_task(self.link.run())
        await asyncio.wait_for(self.link.resynced.wait(), 5)

    async def dialer(self) -> AMIClient:
        """A second AMI connection, like the dialer's, to originate calls."""
        client = AMIClient(self.sim.host, self.sim.port, USER, SECRET, name="test-dialer",
                           **FAST_CLIENT)
        await client.start()
        return client

    async def flushed(self) -> None:
        """Wait until everything received so far is written (and pushed)."""
        await asyncio.sleep(0)
        await self.link.flush()


@contextlib.asynccontextmanager
async def linked(config: SimulatorConfig, name: str = "pbx-test", publish: bool = True,
                 flush_interval: float = 0.05, start: bool = True):
    """Simulator + server row + link; with ``start=False`` the link waits for
    :meth:`Kit.start` (calls can be set up before it connects, as on a restart)."""
    sim = Simulator(config)
    await sim.start("127.0.0.1", 0)
    org, server = await sync_to_async(_make_org_and_server)(name, sim.host, sim.port)
    target = LinkTarget(ServerRef(server.pk, org.pk, server.name), sim.host, sim.port, USER, SECRET)
    link = PBXLink(target, clock=sim.clock.epoch, flush_interval=flush_interval,
                   publish=publish, client_options=FAST_CLIENT)
    kit = Kit(sim, link, org, server, None)
    try:
        if start:
            await kit.start()
        yield kit
    finally:
        if kit.task is not None:
            kit.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await kit.task
        await sim.stop()
        await close_thread_connections()
