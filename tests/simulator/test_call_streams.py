"""Each captured call scenario, replayed on the simulator with the outcome forced for
that number, must give the same AMI events as Asterisk 22.10.1: per channel (and per
device, per queue member, per bridge), the same sequence of (event name, keys in order,
meaningful values). Only values that differ by nature (ids, times, counters) are ignored.

Left out on both sides: ``Newexten`` and ``VarSet`` of dialplan/app_queue variables
(see the docstring of ``central.simulator.render``)."""

from __future__ import annotations

import re
from collections import defaultdict

import pytest

from central.simulator import Simulator, SimulatorConfig, WorldConfig
from central.simulator.scenarios import SCENARIOS
from central.telephony.ami.protocol import AMIParser, Message
from tests.simulator.amiclient import RawAMI
from tests.telephony.fixtures import stream_bytes

# Touches neither the database nor Redis (checked: passes with neither reachable),
# so it runs only in the SQLite pass.
pytestmark = pytest.mark.backend_free

SKIP = {"Newexten", "FullyBooted", "SuccessfulAuth"}
# Values that carry meaning (states, causes, outcomes, queue positions, caller ids) are
# compared too; ids, times, counters and bridge ids are not.
MEANINGFUL = (
    "ChannelState", "ChannelStateDesc", "DestChannelStateDesc", "Context", "DestContext",
    "Exten", "CallerIDNum", "ConnectedLineNum", "Cause", "Cause-txt", "DialStatus", "State",
    "Status", "Reason", "Response", "Queue", "Position", "Count", "BridgeNumChannels",
    "Paused", "InCall", "Membership", "Variable", "Value", "DialString",
)

def norm(name: str) -> str:
    name = re.sub(r"-[0-9a-f]{8};", "-X;", name)
    return re.sub(r"agent\d+", "agentN", name)


def group_of(msg: Message) -> str:
    if msg.name == "OriginateResponse":
        return "OriginateResponse"
    for key, prefix in (("Channel", "chan"), ("DestChannel", "chan"), ("LocalOneChannel", "chan"),
                        ("Device", "device"), ("Interface", "member")):
        value = msg.get(key)
        if value is not None:
            return f"{prefix}:{norm(value)}"
    if msg.get("BridgeUniqueid"):
        return "bridge"
    return "other"


def originate_vars(events: list[Message]) -> list[tuple[str, str]]:
    """Variables the fixture's Originate carried: VarSet on ;2 while it was still ringing
    before any dialplan step (the ;2 leg gets them in the Originate's order)."""
    out = []
    for m in events:
        if m.name == "NewCallerid" and m["Channel"].endswith(";2"):
            break
        if m.name == "VarSet" and m["Channel"].endswith(";2"):
            out.append((m["Variable"], m["Value"]))
    return out


def per_group(events: list[Message], keep_vars: set[str]) -> dict[str, list[tuple]]:
    groups: dict[str, list[tuple]] = defaultdict(list)
    for m in events:
        if m.kind != "event" or m.name in SKIP:
            continue
        if m.name == "VarSet" and m.get("Variable") not in keep_vars:
            continue
        values = tuple((k, norm(m[k])) for k in MEANINGFUL if k in m)
        groups[group_of(m)].append((m.name, tuple(k for k, _ in m.pairs), values))
    return dict(groups)


def fixture_events(name: str) -> list[Message]:
    return [m for m in AMIParser().receive_data(stream_bytes(name)) if m.kind == "event"]


@pytest.mark.parametrize("fixture", sorted(SCENARIOS))
async def test_call_stream_matches_fixture(fixture: str) -> None:
    sc = SCENARIOS[fixture]
    number, outcome, timeout_ms = sc.number, sc.outcome, sc.timeout_ms
    caller_share = 0.5 if sc.caller_hangs_up is None else float(sc.caller_hangs_up)
    expected_events = fixture_events(fixture)
    variables = originate_vars(expected_events)
    first = next(m for m in expected_events if m.name == "Newchannel")
    second = [m for m in expected_events if m.name == "Newchannel"][1]
    cid = next(m for m in expected_events if m.name == "NewCallerid")
    ami_hangup = sc.ami_hangup
    cfg = SimulatorConfig(
        clock="manual",
        world=WorldConfig(agents=3, numbers={number: outcome}, caller_hangup_share=caller_share,
                          talk_time_mean=10**6 if ami_hangup else 10.0),
    )
    if sc.ring_limit is not None:
        cfg.ring_limits = {number: sc.ring_limit}  # the network releases, cause 19
    async with Simulator(cfg) as sim:
        listener = await RawAMI.connect(sim.host, sim.port)
        await listener.login()
        action = await RawAMI.connect(sim.host, sim.port)
        await action.login(events="off")
        fields = {
            "Channel": f"Local/{number}@customers", "Context": "discador-out", "Exten": number,
            "Priority": "1", "Timeout": str(timeout_ms),
            "CallerID": f'"{cid["CallerIDName"]}" <{cid["CallerIDNum"]}>',
            "Async": "true",
        }
        if variables:
            fields["Variable"] = ",".join(f"{k}={v}" for k, v in variables)
        if not re.fullmatch(r"\d+\.\d+", first["Uniqueid"]):  # pre-assigned ids
            fields["ChannelId"] = first["Uniqueid"]
            fields["OtherChannelId"] = second["Uniqueid"]
        action.send("Originate", fields, "orig")
        assert (await action.response("orig"))["Message"] == "Originate successfully queued"
        if ami_hangup:
            for _ in range(60):
                await sim.advance(1.0)
                if any(m.name == "BridgeEnter" for m in listener.inbox):
                    break
                await listener.pump(0.01)
            leg1 = next(c for c in sim.pbx.renderer.channels if c.endswith(";1") and "customers" in c)
            action.send("Hangup", {"Channel": leg1, "Cause": "16"}, "hup")
            assert (await action.response("hup"))["Message"] == "Channel Hungup"
        await sim.advance(600)
        assert not sim.pbx.renderer.channels, "every channel must be hung up"
        listener.send("Logoff", None, "bye")
        got = await listener.read_to_eof()
        await action.close()

    keep = {k for k, _ in variables}
    want = per_group(expected_events, keep)
    have = per_group(got, keep)
    assert sorted(have) == sorted(want)
    for group in want:
        assert have[group] == want[group], group
    # and the values that define the outcome
    resp = next(m for m in got if m.name == "OriginateResponse")
    fix = next(m for m in expected_events if m.name == "OriginateResponse")
    assert (resp["Response"], resp["Reason"]) == (fix["Response"], fix["Reason"])
    causes = sorted((norm(m["Channel"]), m["Cause"]) for m in got if m.name == "Hangup")
    assert causes == sorted((norm(m["Channel"]), m["Cause"]) for m in expected_events if m.name == "Hangup")
    dial_status = [m["DialStatus"] for m in got if m.name == "DialEnd"]
    assert dial_status == [m["DialStatus"] for m in expected_events if m.name == "DialEnd"]
