"""PBX simulator: an AMI server that behaves like Asterisk 22.10.1, driven by a
call-center world on a real or virtual clock, plus an AudioSocket client.

Modules, in the order data flows:

* ``world``       (pacing helper) calls and agents as a discrete-event model;
* ``render``      world events -> the AMI events Asterisk prints, channel/queue model;
* ``pbx``         AMI actions -> responses, extensions (ramais), timers; sans-I/O;
* ``ami_server``  asyncio TCP adapter, clocks, controls (:class:`Simulator`, :func:`serve`);
* ``clock``       :class:`~central.simulator.clock.VirtualClock` / ``RealClock``;
* ``config``      :class:`SimulatorConfig` (users from env, faults, extensions);
* ``scenarios``   the captured call scenarios as settings; ``demo_config``;
* ``audiosocket_client``  Asterisk's side of an AudioSocket session;
* ``commands``    ``central simulate-pbx`` / ``central simulate-audiosocket``.

Evidence. The simulator stands in for Asterisk 22.10.1, so each behaviour names what it
follows, in a comment or docstring next to the code: a capture in
``tests/fixtures/asterisk/`` (file and exchange, e.g. ``ami-login-and-actions.txt
orig-fail-async``), or Asterisk's source (``Asterisk 22.10.1 main/manager.c
action_login()``) where nothing was captured. ``Evidence: none`` marks the simulator's own
choices (demo traffic, model assumptions, test controls) that a client must not rely on.
docs/telephony.md ("Where each simulator behaviour comes from") has the whole table.

Typical use in a test::

    async with Simulator(SimulatorConfig(clock="manual")) as sim:   # port 0
        ...connect an AMI client to sim.host, sim.port, originate...
        await sim.advance(60)          # one virtual minute, events delivered in order
        sim.drop_connections()         # reconnect tests
"""

from central.simulator.ami_server import Simulator, serve
from central.simulator.config import FaultConfig, SimulatorConfig
from central.simulator.world import WorldConfig

__all__ = ["FaultConfig", "Simulator", "SimulatorConfig", "WorldConfig", "serve"]
