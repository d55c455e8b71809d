"""Simulator behaviours the dialer depends on, each traced to Asterisk (issue 14).

* Local channel naming with and without ``OtherChannelId`` (main/core_unreal.c,
  ``ast_unreal_new_channels``: "if id1 given but not id2, use default of id1;2");
* an Originate to an extension missing from an existing context refused with Asterisk's
  error (main/manager.c ``action_originate``; the message as in ami-login-and-actions.txt
  orig-fail-target), and ``ShowDialPlan`` answering like main/pbx.c
  ``manager_show_dialplan``;
* a network no-answer: OriginateResponse Reason 0 first, then DialEnd NOANSWER
  (ami-event-stream-noanswer-cause19.txt).
"""

from __future__ import annotations

import pytest

from central.simulator import Simulator, SimulatorConfig, WorldConfig
from central.simulator.dialplan import extension_match
from tests.simulator.amiclient import RawAMI

# Touches neither the database nor Redis (checked: passes with neither reachable),
# so it runs only in the SQLite pass.
pytestmark = pytest.mark.backend_free


def _cfg(**kw) -> SimulatorConfig:
    return SimulatorConfig(clock="manual", world=WorldConfig(agents=1, numbers={"100": "answer", "300": "noanswer"}),
                           **kw)


def _originate(conn: RawAMI, aid: str, **extra: str) -> None:
    fields = {"Channel": "Local/300@customers", "Context": "discador-out", "Exten": "fila", "Priority": "1",
              "Timeout": "30000", "Async": "true"}
    fields.update(extra)
    conn.send("Originate", fields, aid)


async def test_local_half_is_named_id_semicolon_2_without_other_channel_id() -> None:
    async with Simulator(_cfg()) as sim:
        conn = await RawAMI.connect(sim.host, sim.port)
        await conn.login()
        _originate(conn, "one", ChannelId="att-1")
        _originate(conn, "two", ChannelId="att-2", OtherChannelId="att-2-2")
        await conn.response("one")
        await conn.response("two")
        await sim.advance(2)
        await conn.pump(0.05)
        uniq = {m["Channel"].rsplit("-", 1)[1]: m["Uniqueid"] for m in conn.inbox if m.name == "Newchannel"}
        assert sorted(uniq.values()) == ["att-1", "att-1;2", "att-2", "att-2-2"]
        halves = {m["Uniqueid"]: m["Linkedid"] for m in conn.inbox if m.name == "Newchannel"}
        assert halves["att-1;2"] == "att-1" and halves["att-2-2"] == "att-2"  # ;2 shares ;1's Linkedid
        await conn.close()


async def test_originate_to_a_missing_exten_is_refused_with_asterisks_message() -> None:
    async with Simulator(_cfg()) as sim:
        conn = await RawAMI.connect(sim.host, sim.port)
        await conn.login()
        _originate(conn, "bad", Exten="fila-que-nao-existe", ChannelId="att-x")
        bad = await conn.response("bad")
        assert (bad["Response"], bad["Message"]) == ("Error", "Extension does not exist.")
        _originate(conn, "good", ChannelId="att-y")
        assert (await conn.response("good"))["Message"] == "Originate successfully queued"
        await sim.advance(1)
        await conn.pump(0.05)
        assert not [m for m in conn.inbox if m.get("Uniqueid", "").startswith("att-x")]  # nothing was queued
        await conn.close()


async def test_showdialplan_finds_and_misses_like_pbx_c() -> None:
    async with Simulator(_cfg()) as sim:
        conn = await RawAMI.connect(sim.host, sim.port)
        await conn.login(events="off")
        conn.send("ShowDialPlan", {"Context": "discador-out", "Extension": "fila"}, "ok")
        ok = await conn.response("ok")
        assert (ok["Response"], ok["EventList"]) == ("Success", "start")
        done = await conn.wait_for(lambda m: m.name == "ShowDialPlanComplete", 1.0)
        items = [m for m in conn.inbox if m.name == "ListDialplan"]
        assert [(m["Context"], m["Extension"]) for m in items] == [("discador-out", "fila")]
        assert done["ListItems"] == "1" and done["ListExtensions"] == "1"
        conn.send("ShowDialPlan", {"Context": "discador-out", "Extension": "fila2"}, "noext")
        noext = await conn.response("noext")
        assert (noext["Response"], noext["Message"]) == ("Error", "Did not find extension fila2@discador-out")
        conn.send("ShowDialPlan", {"Context": "nao-existe", "Extension": "fila"}, "noctx")
        assert (await conn.response("noctx"))["Message"] == "Did not find context nao-existe"
        conn.send("ShowDialPlan", {"Context": "discador-out", "Extension": "+5511987654321"}, "num")
        assert (await conn.response("num"))["Response"] == "Success"  # _+X.
        await conn.close()


def test_extension_patterns_follow_asterisk() -> None:
    assert extension_match("_+X.", "+5511987654321") and not extension_match("_+X.", "+")
    assert extension_match("_X.", "5511") and not extension_match("_X.", "fila")
    assert extension_match("_NXX", "211") and not extension_match("_NXX", "111")
    assert extension_match("_[1-3]!", "2") and extension_match("_[1-3]!", "29z")
    assert extension_match("fila", "fila") and not extension_match("fila", "fila2")


async def test_network_no_answer_is_reason_0_then_dialend_noanswer() -> None:
    async with Simulator(_cfg(ring_limit=8.0)) as sim:
        conn = await RawAMI.connect(sim.host, sim.port)
        await conn.login()
        _originate(conn, "n", ChannelId="att-n", OtherChannelId="att-n-2")
        await conn.response("n")
        await sim.advance(20)
        await conn.pump(0.05)
        names = [m.name for m in conn.inbox]
        resp = next(m for m in conn.inbox if m.name == "OriginateResponse")
        dialend = next(m for m in conn.inbox if m.name == "DialEnd")
        assert (resp["Reason"], resp["Response"], dialend["DialStatus"]) == ("0", "Failure", "NOANSWER")
        assert names.index("OriginateResponse") < names.index("DialEnd")
        causes = {m["Uniqueid"]: m["Cause"] for m in conn.inbox if m.name == "Hangup"}
        assert causes == {"att-n": "19", "att-n-2": "19"}
        await conn.close()
