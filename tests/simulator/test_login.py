"""Login, authentication and per-session event delivery (Events, Filter)."""

from __future__ import annotations

import hashlib

import pytest

from central.simulator import Simulator, SimulatorConfig
from central.simulator.config import DEMO_USERS
from tests.simulator.amiclient import RawAMI

# Touches neither the database nor Redis (checked: passes with neither reachable),
# so it runs only in the SQLite pass.
pytestmark = pytest.mark.backend_free


def cfg(**kw) -> SimulatorConfig:
    c = SimulatorConfig(clock="manual", users={"central": "s3cret"}, login_failure_delay=0.01)
    for k, v in kw.items():
        setattr(c, k, v)
    return c


async def test_login_success_sends_fullybooted_and_successfulauth() -> None:
    async with Simulator(cfg()) as sim:
        conn = await RawAMI.connect(sim.host, sim.port)
        resp = await conn.login(secret="s3cret")
        assert resp.pairs == [("Response", "Success"), ("ActionID", "login"),
                              ("Message", "Authentication accepted")]
        booted = await conn.wait_for(lambda m: m.name == "FullyBooted", 1.0)
        auth = await conn.wait_for(lambda m: m.name == "SuccessfulAuth", 1.0)
        assert booted["Status"] == "Fully Booted"
        assert auth["AccountID"] == "central" and auth["RemoteAddress"].startswith("IPV4/TCP/127.0.0.1/")
        # a second login is broadcast to the first listener
        other = await RawAMI.connect(sim.host, sim.port)
        await other.login(secret="s3cret", events="off")
        seen = await conn.wait_for(lambda m: m.name == "SuccessfulAuth", 1.0)
        assert seen["SessionID"] != auth["SessionID"]
        await other.pump(0.05)
        assert other.inbox == []  # Events: off -> no FullyBooted, no broadcast
        await conn.close()
        await other.close()


async def test_wrong_secret_is_refused_and_closed() -> None:
    async with Simulator(cfg()) as sim:
        conn = await RawAMI.connect(sim.host, sim.port)
        resp = await conn.login(secret="nope")
        assert resp.pairs == [("Response", "Error"), ("ActionID", "login"),
                              ("Message", "Authentication failed")]
        assert await conn.read_to_eof(1.0) == [] and conn.eof
        assert sim.pbx.stats["logins_failed"] == 1


async def test_md5_challenge_login() -> None:
    async with Simulator(cfg()) as sim:
        conn = await RawAMI.connect(sim.host, sim.port)
        conn.send("Challenge", {"AuthType": "MD5"}, "ch")
        challenge = (await conn.response("ch"))["Challenge"]
        key = hashlib.md5((challenge + "s3cret").encode()).hexdigest()
        conn.send("Login", {"AuthType": "MD5", "Username": "central", "Key": key}, "l")
        assert (await conn.response("l"))["Message"] == "Authentication accepted"
        await conn.close()


async def test_actions_before_login_are_denied() -> None:
    async with Simulator(cfg()) as sim:
        conn = await RawAMI.connect(sim.host, sim.port)
        conn.send("CoreShowChannels", None, "x")
        assert (await conn.response("x"))["Message"] == "Permission denied"
        await conn.close()


async def test_filter_keeps_only_matching_events() -> None:
    async with Simulator(cfg()) as sim:
        conn = await RawAMI.connect(sim.host, sim.port)
        await conn.login(secret="s3cret")
        conn.send("Filter", {"Operation": "Add", "Filter": "Event: OriginateResponse"}, "f")
        assert (await conn.response("f"))["Message"] == "Success"
        await conn.pump(0.05)
        conn.inbox.clear()
        conn.send("Originate", {"Channel": "Local/5511999990002@customers", "Context": "discador-out",
                                "Exten": "s", "Priority": "1", "Async": "true"}, "o")
        await conn.response("o")
        await sim.advance(60)
        await conn.pump(0.1)
        names = {m.name for m in conn.inbox if m.kind == "event"}
        assert names == {"OriginateResponse"}, names
        await conn.close()


def test_demo_user_is_marked_and_env_overrides_it() -> None:
    assert SimulatorConfig().users == DEMO_USERS
    env = {"CENTRAL_SIM_AMI_USERS": "a:1,b:2", "CENTRAL_SIM_CLOCK": "virtual"}
    c = SimulatorConfig.from_env(env)
    assert c.users == {"a": "1", "b": "2"} and c.clock == "virtual"
