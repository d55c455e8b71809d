"""Live state (extensions panel, channels, bridges, queue members) from the captures."""

from __future__ import annotations

import pytest

from central.telephony.ami.protocol import AMIParser, Message
from central.telephony.state import Change, LiveState, approx_size

from .fixtures import server_bytes, stream_bytes

# Touches neither the database nor Redis (checked: passes with neither reachable),
# so it runs only in the SQLite pass.
pytestmark = pytest.mark.backend_free

T0 = 1_795_445_700.0


def replay(state: LiveState, raw: bytes, banner: bool = True) -> list[list[Change]]:
    msgs = AMIParser(expect_banner=banner).receive_data(raw)
    return [state.feed(m, T0 + i) for i, m in enumerate(msgs)]


def test_extension_states_from_the_extension_state_stream():
    st = LiveState("pbx1")
    # The list answer first, as the pbx process does on connect (ami-extension-state.txt)
    msgs = AMIParser().receive_data(server_bytes("ami-extension-state.txt"))
    listing = msgs[: next(i for i, m in enumerate(msgs) if m.name == "ExtensionStateListComplete")]
    for m in listing:
        st.feed(m, T0)
    assert {k: (e.state, e.hint) for k, e in st.extensions.items()} == {
        "1001@ramais": ("free", "Custom:1001"),
        "1002@ramais": ("free", "Custom:1002"),
        "1003@ramais": ("free", "Custom:1003"),
    }
    assert all(e.last_activity is None for e in st.extensions.values())  # a snapshot

    seen = []
    for i, m in enumerate(AMIParser().receive_data(stream_bytes(
            "ami-event-stream-extension-state.txt"))):
        if st.feed(m, T0 + i) and m.name == "DeviceStateChange":
            key = f"{m['Device'].split(':')[1]}@ramais"
            e = st.extensions[key]
            seen.append((e.exten, e.state, e.lines[m["Device"]]))
    # ExtensionStatus 1 InUse, 8 Ringing, 0 Idle, 4 Unavailable, 16 Hold; 1002 9
    # InUse&Ringing; 1003 2 Busy; then everything back to Idle.
    assert seen == [
        ("1001", "busy", "busy"),
        ("1001", "ringing", "ringing"),
        ("1001", "free", "free"),
        ("1001", "unavailable", "unavailable"),
        ("1001", "onhold", "onhold"),
        ("1002", "ringing", "ringing"),
        ("1003", "busy", "busy"),
        ("1001", "free", "free"),
        ("1002", "free", "free"),
        ("1003", "free", "free"),
    ]
    e = st.extensions["1001@ramais"].to_dict()
    assert e["lines"] == [{"device": "Custom:1001", "state": "free"}]
    assert e["last_activity"] is not None and e["registration"] is None


def test_registration_from_contact_and_peer_status():
    st = LiveState()
    st.feed(Message([("Event", "ExtensionStatus"), ("Exten", "2001"), ("Context", "t1"),
                     ("Hint", "PJSIP/2001&Custom:DND2001"), ("Status", "0")]), 1)
    ext = st.extensions["2001@t1"]
    assert ext.registration is None and list(ext.lines) == ["PJSIP/2001", "Custom:DND2001"]
    ch = st.feed(Message([("Event", "ContactStatus"), ("URI", "sip:2001@10.0.0.9:5060"),
                          ("ContactStatus", "Reachable"), ("AOR", "2001"),
                          ("EndpointName", "2001")]), 2)
    assert ch == [Change("extension", "2001@t1")] and ext.registration == "registered"
    st.feed(Message([("Event", "PeerStatus"), ("ChannelType", "PJSIP"), ("Peer", "PJSIP/2001"),
                     ("PeerStatus", "Unreachable")]), 3)
    assert ext.registration == "unreachable" and ext.last_activity == 3
    # registration known before the hint: applied when the extension appears
    st.feed(Message([("Event", "PeerStatus"), ("Peer", "SIP/3001"),
                     ("PeerStatus", "Registered")]), 4)
    st.feed(Message([("Event", "ExtensionStatus"), ("Exten", "3001"), ("Context", "t1"),
                     ("Hint", "SIP/3001"), ("Status", "1")]), 5)
    assert st.extensions["3001@t1"].registration == "registered"


def test_queue_member_states_from_the_pause_stream():
    st = LiveState()
    # The QueueStatus answer first (ami-queue-actions.txt, agent2 paused for lunch)
    msgs = AMIParser().receive_data(server_bytes("ami-queue-actions.txt"))
    end = next(i for i, m in enumerate(msgs) if m.name == "QueueStatusComplete")
    for m in msgs[:end]:
        st.feed(m, T0)
    assert {k: (m.name, m.availability, m.paused_reason) for k, m in st.queue_members.items()} == {
        "sales|Local/agent1@agent-phones": ("Agent One", "free", ""),
        "sales|Local/agent2@agent-phones": ("Agent Two", "paused", "lunch"),
        "sales|Local/agent3@agent-phones": ("Agent Three", "free", ""),
    }
    st = LiveState()
    seen = []
    for i, m in enumerate(AMIParser().receive_data(stream_bytes("ami-queue-member-pause.txt"))):
        for c in st.feed(m, T0 + i):
            q = st.queue_members.get(c.key)
            seen.append((m.name, c.key.split("/")[1].split("@")[0],
                         "removed" if c.removed else q.availability))
    assert seen == [
        ("QueueMemberPause", "agent2", "paused"),
        ("QueueMemberPause", "agent2", "free"),
        ("QueueMemberAdded", "agent9", "free"),  # Status 0 (unknown): Asterisk rings it
        ("QueueMemberStatus", "agent9", "in_call"),  # Custom:agent9 INUSE -> Status 2
        ("QueueMemberStatus", "agent9", "free"),
        ("QueueMemberRemoved", "agent9", "removed"),
    ]
    agent2 = st.queue_members["sales|Local/agent2@agent-phones"].to_dict()
    assert agent2["paused"] is False and agent2["membership"] == "static"


def test_queue_agent_ringing_then_in_call_then_free():
    st = LiveState()
    seen = []
    for i, m in enumerate(AMIParser().receive_data(
            stream_bytes("ami-event-stream-answered-queue-agent.txt"))):
        for c in st.feed(m, T0 + i):
            if c.kind == "queue_member":
                seen.append((m.name, st.queue_members[c.key].availability))
    assert seen == [
        ("AgentCalled", "ringing"),
        ("QueueMemberStatus", "ringing"),
        ("AgentConnect", "in_call"),
        # the member's device still reports in use until the next QueueMemberStatus
        ("AgentComplete", "in_call"),
        ("QueueMemberStatus", "free"),
    ]


def test_channels_and_bridges_during_a_call():
    st = LiveState()
    msgs = AMIParser().receive_data(stream_bytes("ami-event-stream-answered-queue-agent.txt"))
    peak_channels = peak_bridge = 0
    for i, m in enumerate(msgs):
        st.feed(m, T0 + i)
        peak_channels = max(peak_channels, len(st.channels))
        for b in st.bridges.values():
            peak_bridge = max(peak_bridge, len(b.channels))
        if m.name == "BridgeEnter" and m["BridgeNumChannels"] == "2":
            # customer ;1 and agent ;1 talk through one basic bridge
            (bridge,) = st.bridges.values()
            assert [st.channels[u].name for u in bridge.channels] == [
                "Local/agent3@agent-phones-0000000a;1",
                "Local/5511999990001@customers-00000009;1",
            ]
            cust = st.channels["dialer-ans-a"].to_dict()
            assert cust["state"] == "up" and cust["bridge"] == bridge.bridge_id
            assert cust["caller_num"] == "1100" and cust["linkedid"] == "dialer-ans-a"
    assert peak_channels == 4 and peak_bridge == 2
    assert st.channels == {} and st.bridges == {}


def test_reconcile_from_core_show_channels_and_status():
    st = LiveState()
    msgs = AMIParser().receive_data(server_bytes("ami-core-show-channels.txt"))
    for m in msgs:
        if m.name in ("CoreShowChannel", "Status"):
            st.feed(m, T0)
            if len(st.channels) == 4 and m.name == "CoreShowChannel":
                break
    leg1 = st.channels["att-123-leg1"]
    assert leg1.linkedid == "att-123-leg1" and leg1.state_text == "up"
    # Status (all channels) lists CENTRAL_ATTEMPT_ID; fed after the listing
    for m in msgs:
        if m.name == "Status":
            st.feed(m, T0)
    assert st.channels["att-123-leg1"].attempt_id == "att-123"
    assert st.channels["att-123-leg2"].attempt_id == "att-123"
    assert len(st.reset_channels()) >= 4 and not st.channels


def test_local_and_queue_devices_are_not_kept():
    st = LiveState()
    for name in ("ami-event-stream-busy.txt", "ami-event-stream-congestion.txt",
                 "ami-queue-member-pause.txt"):
        replay(st, stream_bytes(name))
    assert st.stats()["devices"] == 0 and st.extensions == {}


def test_snapshot_is_json_ready_and_memory_is_small():
    import json

    st = LiveState("pbx1")
    replay(st, stream_bytes("ami-event-stream-extension-state.txt"))
    snap = st.snapshot()
    assert json.loads(json.dumps(snap))["extensions"][0]["exten"] == "1001"
    per_ext = approx_size(st.extensions["1001@ramais"])
    assert 200 < per_ext < 2000, per_ext


def test_unknown_events_and_responses_change_nothing():
    st = LiveState()
    assert st.feed(Message([("Event", "SomethingNew"), ("Foo", "1")]), 1) == []
    assert st.feed(Message([("Response", "Success")]), 1) == []
    assert st.feed(Message([("Event", "Hangup"), ("Uniqueid", "nope")]), 1) == []


def test_queue_callers_join_leave_and_listing():
    """ami-event-stream-answered-queue-agent.txt: QueueCallerJoin then QueueCallerLeave when
    the agent answers; the caller waits in between. A QueueStatus QueueEntry (Wait: seconds
    waited, app_queue.c manager_queues_status()) rebuilds the join time after a reconnect."""
    st = LiveState()
    waiting = []
    for i, m in enumerate(AMIParser().receive_data(stream_bytes("ami-event-stream-answered-queue-agent.txt"))):
        st.feed(m, T0 + i)
        if m.name in ("QueueCallerJoin", "QueueCallerLeave"):
            waiting.append((m.name, {u: (c.queue, c.joined_at) for u, c in st.queue_callers.items()}))
    (join_name, joined), (leave_name, left) = waiting
    assert join_name == "QueueCallerJoin" and leave_name == "QueueCallerLeave"
    ((uid, (queue, at)),) = joined.items()
    assert uid == "dialer-ans-a" and queue == "sales" and at > T0
    assert left == {}

    entry = Message([("Event", "QueueEntry"), ("Queue", "sales"), ("Position", "1"),
                              ("Channel", "Local/5511999990001@customers-00000009;1"),
                              ("Uniqueid", "u-1"), ("Wait", "42"), ("ActionID", "r1")])
    st.feed(entry, T0)
    assert st.queue_callers["u-1"].joined_at == T0 - 42
    assert st.prune_queue_callers() == [Change("queue_caller", "u-1", True)]  # no such channel
    st.feed(entry, T0)
    hangup = Message([("Event", "Hangup"), ("Uniqueid", "u-1"), ("Cause", "16")])
    assert Change("queue_caller", "u-1", True) in st.feed(hangup, T0 + 1)
    assert st.queue_callers == {}
