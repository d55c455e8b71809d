"""The AMI ``MixMonitor`` action against the simulator: answers shaped like Asterisk 22's
apps/app_mixmonitor.c manager_mixmonitor(), the events of the captured stream
(ami-event-stream-audiosocket.txt: VarSet MIXMONITOR_FILENAME, then MixMonitorStart), and
the generated WAV written into the monitor directory when the call hangs up."""

from __future__ import annotations

import stat
import wave

import pytest

from central.simulator import Simulator, SimulatorConfig, WorldConfig
from central.simulator.recording import target_path, wav_bytes
from tests.simulator.amiclient import RawAMI
from tests.simulator.test_originate_outcomes import originate, settle

pytestmark = pytest.mark.backend_free

UID = "0b6f3c1e-6c55-4d1e-9a57-3f7b2d1a0c99"


async def answered(sim: Simulator, conn: RawAMI) -> None:
    """Move the manual clock half a second at a time until the Originate is answered."""
    for _ in range(120):
        call = sim.pbx.renderer.calls.get(UID)
        if call is not None and call.reason == 4:  # OriginateResponse Reason 4: answered
            break
        await sim.advance(0.5)
    assert sim.pbx.renderer.calls[UID].reason == 4
    await conn.pump(0.05)


def cfg(tmp_path, **world) -> SimulatorConfig:
    world.setdefault("numbers", {"100": "answer"})
    world.setdefault("talk_time_mean", 4.0)
    return SimulatorConfig(clock="manual", world=WorldConfig(**world), monitor_dir=str(tmp_path))


async def test_mixmonitor_errors_as_asterisk_answers_them(tmp_path) -> None:
    async with Simulator(cfg(tmp_path, agents=1)) as sim:
        conn = await RawAMI.connect(sim.host, sim.port)
        await conn.login(events="off")
        conn.send("MixMonitor", {"File": "x.wav"}, "nochan")
        conn.send("MixMonitor", {"Channel": "PJSIP/nobody-00000001", "File": "x.wav"}, "nosuch")
        assert (await conn.response("nochan")).pairs == [
            ("Response", "Error"), ("ActionID", "nochan"), ("Message", "No channel specified")]
        assert (await conn.response("nosuch"))["Message"] == "No such channel"
        # No File and no r()/t(): mixmonitor_exec() "requires an argument" -> -1.
        originate(conn, "100", "o", ChannelId=UID, OtherChannelId=UID + "-2")
        await conn.response("o")
        await answered(sim, conn)
        conn.send("MixMonitor", {"Channel": UID}, "nofile")
        assert (await conn.response("nofile"))["Message"] == "Could not start monitoring channel"
        await conn.close()


async def test_mixmonitor_by_uniqueid_records_the_call_into_the_monitor_dir(tmp_path) -> None:
    async with Simulator(cfg(tmp_path, agents=1)) as sim:
        conn = await RawAMI.connect(sim.host, sim.port)
        await conn.login()
        originate(conn, "100", "o", ChannelId=UID, OtherChannelId=UID + "-2")
        await conn.response("o")
        await answered(sim, conn)
        # By uniqueid (the dialer's pre-assigned ChannelId): ast_channel_get_by_name()
        # matches a name or a uniqueid.
        conn.send("MixMonitor", {"Channel": UID, "File": f"{UID}.wav", "Options": "i(MID)"}, "mm")
        ok = await conn.response("mm")
        assert ok["Response"] == "Success" and ok.get("Message") is None and ok["MixMonitorID"]
        varset = await conn.wait_for(lambda m: m.name == "VarSet" and m["Variable"] == "MIXMONITOR_FILENAME", 1.0)
        assert varset["Value"] == f"{tmp_path}/{UID}.wav" and varset["Uniqueid"] == UID
        start = await conn.wait_for(lambda m: m.name == "MixMonitorStart", 1.0)
        assert start["Privilege"] == "call,all" and start["Uniqueid"] == UID
        assert not (tmp_path / f"{UID}.wav").exists()  # written when the call ends
        await settle(sim, conn, 600)
        await conn.wait_for(lambda m: m.name == "Hangup" and m["Uniqueid"] == UID, 1.0)
        path = tmp_path / f"{UID}.wav"
        assert sim.recordings == [path]
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        with wave.open(str(path)) as wav:
            assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 8000)
            assert 0 < wav.getnframes() <= 8000 * sim.config.recording_max_seconds
        await conn.close()


def test_generated_wav_is_a_valid_riff_file_and_paths_stay_in_the_monitor_dir(tmp_path) -> None:
    data = wav_bytes(2.0)
    assert data[:4] == b"RIFF" and data[8:16] == b"WAVEfmt "
    assert len(data) == 44 + 2 * 8000 * 2
    assert target_path(str(tmp_path), "a.wav") == tmp_path.resolve() / "a.wav"
    assert target_path(str(tmp_path), "../escape.wav") is None
    assert target_path(str(tmp_path), "/etc/passwd") is None
    assert target_path("", "a.wav") is None
