"""PBX simulator: an AMI server that behaves like Asterisk 22, driven by a call-center
world on a real or virtual clock, plus an AudioSocket client.

Public API: :class:`Simulator` (start/stop/advance/drop_connections), :func:`serve`
(the ``central simulate-pbx`` entry point), :class:`SimulatorConfig`.
"""

from central.simulator.ami_server import Simulator, serve
from central.simulator.config import FaultConfig, SimulatorConfig
from central.simulator.world import WorldConfig

__all__ = ["FaultConfig", "Simulator", "SimulatorConfig", "WorldConfig", "serve"]
