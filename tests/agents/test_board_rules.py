"""The agents table's pure rules: state (wrap-up has no AMI event) and colour alerts."""

from __future__ import annotations

import datetime as dt

import pytest

from central.agents.board import Thresholds, agent_state, alert
from central.agents.services import LOGGED_OUT_REASON, SPY_OPTIONS, spy_channel_prefix

pytestmark = pytest.mark.backend_free

NOW = dt.datetime(2026, 11, 30, 15, 0, tzinfo=dt.UTC)


def test_states():
    ended = NOW - dt.timedelta(seconds=20)
    assert agent_state("paused", "almoco", None, 0, NOW) == ("paused", None)
    assert agent_state("paused", LOGGED_OUT_REASON, None, 0, NOW) == ("logged_out", None)
    # free after a call: wrap-up for the window, then free again
    assert agent_state("free", "", ended, 30, NOW) == ("wrapup", ended + dt.timedelta(seconds=30))
    assert agent_state("free", "", ended, 10, NOW) == ("free", None)
    assert agent_state("free", "", ended, 0, NOW) == ("free", None)  # no window: no wrap-up
    assert agent_state("in_call", "", ended, 30, NOW) == ("in_call", None)


def test_alerts_follow_the_thresholds():
    limits = Thresholds(pause_s=900, wrapup_s=60)
    assert alert("paused", 899, limits) == ""
    assert alert("paused", 900, limits) == "pause_long"
    assert alert("wrapup", 61, limits) == "wrapup_long"
    assert alert("in_call", 10_000, limits) == ""


def test_chanspy_arguments():
    # apps/app_chanspy.c: q quiet, b bridged only, E exit on hangup, S stop; w whisper, B barge.
    assert SPY_OPTIONS == {"listen": "qbES", "whisper": "qbESw", "barge": "qbESB"}
    assert spy_channel_prefix("Local/agent2@agent-phones") == "Local/agent2@agent-phones-"
    assert spy_channel_prefix("PJSIP/2001") == "PJSIP/2001-"
