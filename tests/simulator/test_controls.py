"""Controls for client tests: drop every connection, fault injection, bad input."""

from __future__ import annotations

import asyncio

import pytest

from central.simulator import FaultConfig, Simulator, SimulatorConfig
from tests.simulator.amiclient import RawAMI

# Touches neither the database nor Redis (checked: passes with neither reachable),
# so it runs only in the SQLite pass.
pytestmark = pytest.mark.backend_free


async def test_drop_connections_closes_every_session_and_keeps_listening() -> None:
    async with Simulator(SimulatorConfig(clock="manual")) as sim:
        a = await RawAMI.connect(sim.host, sim.port)
        b = await RawAMI.connect(sim.host, sim.port)
        await a.login()
        await b.login()
        assert sim.drop_connections() == 2
        await a.read_to_eof(1.0)
        await b.read_to_eof(1.0)
        assert a.eof and b.eof
        c = await RawAMI.connect(sim.host, sim.port)  # reconnect works
        assert (await c.login())["Response"] == "Success"
        await c.close()


async def test_fault_drop_executes_the_action_but_never_answers() -> None:
    """The ambiguous case a client must survive: the Originate ran, no Response came."""
    cfg = SimulatorConfig(clock="manual", faults=FaultConfig(drop_probability=1.0))
    async with Simulator(cfg) as sim:
        listener = await RawAMI.connect(sim.host, sim.port)
        await listener.login()
        sim.config.faults.drop_probability = 0.0
        actor = await RawAMI.connect(sim.host, sim.port)
        await actor.login()
        sim.config.faults.drop_probability = 1.0
        actor.send("Originate", {"Channel": "Local/5511999990001@customers", "Context": "discador-out",
                                 "Exten": "s", "Priority": "1", "Async": "true"}, "o")
        got = await actor.read_to_eof(1.0)
        assert actor.eof and not [m for m in got if m.kind == "response"]
        await listener.wait_for(lambda m: m.name == "Newchannel", 1.0)  # it did dial
        await listener.close()


async def test_garbage_and_oversized_lines_get_an_error_and_the_session_survives() -> None:
    async with Simulator(SimulatorConfig(clock="manual")) as sim:
        conn = await RawAMI.connect(sim.host, sim.port)
        await conn.login()
        conn.send_raw(b"this is not AMI at all\r\n\r\n")
        conn.send_raw(b"Action: Ping\r\nX: " + b"a" * 5000 + b"\r\n\r\n")
        conn.send("Ping", None, "p")
        pong = await conn.response("p")
        assert pong["Ping"] == "Pong"
        missing = await conn.wait_for(lambda m: m.kind == "response" and m.get("ActionID") is None, 1.0)
        assert missing.pairs == [("Response", "Error"), ("Message", "Missing action in request")]
        assert sim.stats["protocol_errors"] >= 2
        conn.send("NoSuchAction", None, "u")
        assert (await conn.response("u"))["Message"].startswith("Invalid/unknown command: NoSuchAction.")
        await conn.close()


async def test_drop_actions_loses_the_connection_exactly_on_that_action() -> None:
    cfg = SimulatorConfig(clock="manual", faults=FaultConfig(drop_actions=("Originate",)))
    async with Simulator(cfg) as sim:
        conn = await RawAMI.connect(sim.host, sim.port)
        await conn.login()
        conn.send("Ping", None, "p")
        assert (await conn.response("p"))["Ping"] == "Pong"  # other actions answer
        conn.send("Originate", {"Channel": "Local/5511999990001@customers", "Context": "discador-out",
                                "Exten": "s", "Priority": "1", "Async": "true"}, "o")
        got = await conn.read_to_eof(1.0)
        assert conn.eof and not [m for m in got if m.kind == "response"]
        assert sim.pbx.stats["originates"] == 1  # executed before the drop


async def test_garbage_fault_sends_lines_a_client_parser_rejects() -> None:
    from central.telephony.ami.protocol import AMIParser, ProtocolError

    async with Simulator(SimulatorConfig(clock="manual")) as sim:
        conn = await RawAMI.connect(sim.host, sim.port)
        await conn.login()
        await conn.wait_for(lambda m: m.name == "SuccessfulAuth", 1.0)
        sim.config.faults.garbage_probability = 1.0
        conn.parser = AMIParser(expect_banner=False)
        conn.send("Command", {"Command": "devstate change Custom:1001 INUSE"}, "c")
        raw = b""
        for _ in range(20):
            try:
                raw += await asyncio.wait_for(conn.reader.read(65536), 0.05)
            except TimeoutError:
                break
        assert b"this line is not AMI" in raw
        try:
            conn.parser.receive_data(raw)
            raise AssertionError("garbage was accepted")
        except ProtocolError as exc:
            assert any(m.name == "ExtensionStatus" for m in exc.messages)  # good ones survive
        await conn.close()


async def test_originate_queue_timeout_and_caller_patience() -> None:
    """A waiting queue for tests: callers wait the Originate's CENTRAL_ABANDON_AFTER (the
    dialer's Queue() timeout), others the configured patience (``--patience``); QueueStatus
    lists who waits with Wait in seconds (app_queue.c manager_queues_status())."""
    from central.simulator.scenarios import fixture_config
    from central.simulator.world import WorldConfig
    from central.telephony import chanvars

    cfg = fixture_config(clock="manual", world=WorldConfig(agents=1, numbers={"5511999990001": "answer"},
                                                           abandon_after=600.0))
    async with Simulator(cfg) as sim:
        ami = await RawAMI.connect(sim.host, sim.port)
        await ami.login()
        ami.send("QueuePause", {"Queue": "sales", "Interface": "Local/agent1@agent-phones", "Paused": "true"}, "p")
        await ami.wait_for(lambda m: m.name == "QueueMemberPause")
        base = {"Channel": "Local/5511999990001@customers", "Context": "discador-out", "Exten": "5511999990001",
                "Priority": "1", "Async": "true"}
        ami.send("Originate", {**base, "Variable": f"{chanvars.ABANDON_AFTER}=5"}, "dialer")
        ami.send("Originate", base, "person")
        await ami.response("dialer")
        await ami.response("person")
        await sim.advance(60)
        abandon = await ami.wait_for(lambda m: m.name == "QueueCallerAbandon")
        assert abandon["HoldTime"] == "5"  # the dialer's call left at its Queue() timeout
        assert sim.pbx.world.queue_length() == 1  # the person still waits
        ami.send("QueueStatus", {"Queue": "sales"}, "qs")
        entry = await ami.wait_for(lambda m: m.name == "QueueEntry")
        assert int(entry["Wait"]) > 5
        await ami.close()

