"""`central beat` as the unit runs it: state in the data directory, JSON logs, one record
for a crash (it used to crash on a unit without WorkingDirectory= and log the traceback
one character per line)."""

from __future__ import annotations

import json
import subprocess
import time

from tests.support import CENTRAL, central_env


def _beat(tmp_path, redis_url, data):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    # No metrics endpoint: its fixed default port may be taken by another suite's beat.
    env = central_env(data, REDIS_URL=redis_url, CENTRAL_LOG_LEVEL="INFO", CENTRAL_METRICS_PORT="0")
    return cwd, subprocess.Popen([CENTRAL, "beat"], env=env, cwd=cwd, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)


def test_beat_keeps_its_schedule_in_the_data_dir_and_logs_json(tmp_path, redis_url):
    data = tmp_path / "data"
    cwd, proc = _beat(tmp_path, redis_url, data)
    try:
        while True:  # every line is a JSON record, up to beat's start
            line = proc.stderr.readline()
            assert line, proc.stderr.read()
            if json.loads(line)["msg"] == "beat: Starting...":
                break
        deadline = time.monotonic() + 30
        while not list(data.glob("celerybeat-schedule*")) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.05)
        assert list(data.glob("celerybeat-schedule*"))
        assert list(cwd.iterdir()) == []
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=20)
    assert out == ""  # no banner outside the JSON log
    for line in err.splitlines():
        json.loads(line)


def test_a_beat_crash_is_one_json_record_with_the_traceback(tmp_path, redis_url):
    """A schedule that cannot be opened (here: directories where its files go, which fails
    for root too) stops beat with exit 1 and one critical record carrying the traceback."""
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    for suffix in ("", ".dat", ".db", ".dir", ".bak"):
        (data / f"celerybeat-schedule{suffix}").mkdir()
    cwd, proc = _beat(tmp_path, redis_url, data)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    records = [json.loads(line) for line in err.splitlines()]  # every line is a JSON record
    critical = [r for r in records if r["level"] == "critical"]
    assert len(critical) == 1, err
    assert "Traceback" in critical[0]["exc"] and "Error" in critical[0]["exc"]
    assert all(len(r["msg"]) > 1 for r in records), "a traceback split into fragments"
