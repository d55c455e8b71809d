"""Bench: how fast the PBX simulator runs traffic on its virtual clock.

A progressive dialer over real TCP keeps N originates pending (a new one as each
OriginateResponse arrives) for SIM_HOURS of virtual time against a World with AGENTS
agents. Prints virtual hours per real second, calls and AMI events per second.

    .venv/bin/python bench/pbx_simulator.py [hours] [agents] [in_flight] [filtered]

With ``filtered`` the client sets ``Filter: Event: OriginateResponse``: the simulator
still renders every event, but the client no longer parses them (the figure is then
the simulator's own speed; without it, client parsing in the same process counts).
"""

from __future__ import annotations

import asyncio
import sys
import time

from central.simulator import Simulator, SimulatorConfig, WorldConfig
from central.telephony.ami.protocol import AMIParser, encode_action


async def run(hours: float, agents: int, in_flight: int, filtered: bool = False) -> None:
    cfg = SimulatorConfig(clock="virtual", world=WorldConfig(agents=agents, talk_time_mean=90.0))
    until = hours * 3600.0
    async with Simulator(cfg) as sim:
        reader, writer = await asyncio.open_connection(sim.host, sim.port)
        parser = AMIParser()
        writer.write(encode_action("Login", {"Username": "central", "Secret": "central-demo"}, "l"))
        if filtered:
            writer.write(encode_action("Filter", {"Operation": "Add",
                                                  "Filter": "Event: OriginateResponse"}, "f"))
        seq = 0
        counts: dict[str, int] = {}

        def dial() -> None:
            nonlocal seq
            seq += 1
            writer.write(encode_action("Originate", {
                "Channel": f"Local/55119{seq:08d}@customers", "Context": "discador-out",
                "Exten": f"55119{seq:08d}", "Priority": "1", "Timeout": "30000",
                "Async": "true"}, f"o{seq}"))

        for _ in range(in_flight):
            dial()
        t0 = time.perf_counter()
        events = 0
        while sim.clock.now() < until:
            data = await reader.read(1 << 16)
            if not data:
                break
            for m in parser.receive_data(data):
                if m.kind != "event":
                    continue
                events += 1
                counts[m.name] = counts.get(m.name, 0) + 1
                if m.name == "OriginateResponse" and sim.clock.now() < until:
                    dial()
        elapsed = time.perf_counter() - t0
        writer.close()
    calls = counts.get("OriginateResponse", 0)
    print(f"virtual time      {sim.clock.now() / 3600:.2f} h with {agents} agents, {in_flight} in flight")
    print(f"real time         {elapsed:.2f} s  ->  {sim.clock.now() / 3600 / elapsed:.1f} virtual h per s")
    print(f"calls             {calls}  ({calls / elapsed:.0f} per s), bridged to an agent {sim.pbx.world.counts['connected']}")
    rendered = sim.stats["events_sent"] if not filtered else sim.pbx.renderer.processed_calls
    print(f"AMI events        {events} parsed by the client ({events / elapsed:.0f} per s)")
    if filtered:
        print(f"calls rendered    {rendered} (every event rendered, only OriginateResponse sent)")


if __name__ == "__main__":
    filtered = "filtered" in sys.argv[1:]
    args = [float(a) for a in sys.argv[1:] if a != "filtered"]
    hours = args[0] if args else 8.0
    agents = int(args[1]) if len(args) > 1 else 20
    in_flight = int(args[2]) if len(args) > 2 else 20
    asyncio.run(run(hours, agents, in_flight, filtered))
