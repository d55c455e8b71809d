"""A running ``central up`` driven through its control socket (issue 16, self-healing and
control): ``central status / restart / stop``, and a killed PBX link that comes back while
the rest keeps serving. One ``central up`` for the module (tests run in file order; the
last one stops it)."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.support import CENTRAL, free_port, migrated_env, run_central, start_central


@pytest.fixture(scope="module")
def up(tmp_path_factory):
    base = tmp_path_factory.mktemp("up-control")
    port = free_port()
    # Its own voice API port: other Central instances on this machine may hold the default.
    env = migrated_env(base / "data", CENTRAL_VOICE_API_PORT=str(free_port()))
    proc = start_central(["up", "--port", str(port)], env, port, base / "up.log", wait=90)
    yield proc
    proc.stop()


def _control_status(up) -> dict:
    res = run_central(["status", "--json"], up.env)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def _components(up) -> dict:
    """The components straight from the control socket (polling ``central status`` would
    start a Python process per look)."""
    from central.core.control import request

    return request("status", path=Path(up.env["CENTRAL_DATA_DIR"]) / "central.sock")["components"]


def _until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def _token(up) -> str:
    user, password = up.creds
    res = httpx.post(up.url + "/api/v1/auth/token/", json={"username": user, "password": password}, timeout=10)
    assert res.status_code == 200, res.text
    return res.json()["access"]


def test_status_shows_every_component_and_the_process_row(up):
    status = _control_status(up)
    components = status["local"]["components"]
    assert {"control", "web", "simulator", "telephony", "dialer", "voice"} <= set(components)
    assert {c["state"] for c in components.values()} <= {"running", "idle"}
    rows = [r for r in status["processes"] if r["kind"] == "up"]
    assert len(rows) == 1 and rows[0]["pid"] == up.proc.pid and rows[0]["state"] == "alive"
    assert rows[0]["uptime_s"] is not None
    text = run_central(["status"], up.env).stdout
    assert "component telephony" in text and "RUNNING" in text and f"pid {up.proc.pid}" in text


def test_the_control_socket_is_private(up):
    path = os.path.join(up.env["CENTRAL_DATA_DIR"], "central.sock")
    mode = stat.S_IMODE(os.stat(path).st_mode)
    assert mode == 0o600
    if os.getuid() == 0:
        # Another user cannot connect (the file mode; SO_PEERCRED checks the uid as well).
        probe = ("import socket,sys\ns=socket.socket(socket.AF_UNIX)\n"
                 "try:\n s.connect(sys.argv[1]); print('connected')\nexcept PermissionError: print('refused')")
        res = subprocess.run(["/usr/bin/python3", "-c", probe, path], user=65534, cwd="/",
                             capture_output=True, text=True, timeout=30)
        assert res.stdout.strip() == "refused", res.stderr
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(path)
        s.sendall(b"not json\n")
        assert json.loads(s.makefile().readline()) == {"ok": False, "error": "not JSON"}


def test_a_killed_pbx_link_restarts_and_calls_keep_showing_while_the_rest_serves(up):
    headers = {"Authorization": f"Bearer {_token(up)}"}
    killed_at = datetime.now(UTC)
    res = run_central(["restart", "telephony", "--crash"], up.env)
    assert res.returncode == 0 and "killed: telephony" in res.stdout, res.stderr
    # The others keep serving while the link is down and restarting.
    assert httpx.get(up.url + "/health", timeout=5).status_code == 200
    assert httpx.get(up.url + "/api/v1/telephony/live-calls/", headers=headers, timeout=10).status_code == 200

    def back() -> dict | None:
        c = _components(up)["telephony"]
        return c if c["state"] == "running" and c["restarts"] >= 1 else None

    telephony = _until(back, 30, "the PBX link to run again")
    assert "ComponentKilled" in telephony["last_error"]
    components = _components(up)
    assert components["dialer"]["restarts"] == 0 and components["web"]["restarts"] == 0
    log = up.log()
    assert '"component telephony crashed' in log and '"traceback": "' in log

    def new_calls() -> list:
        page = httpx.get(up.url + "/api/v1/telephony/calls/", headers=headers, timeout=10).json()
        rows = page.get("results", page) if isinstance(page, dict) else page
        return [r for r in rows if datetime.fromisoformat(r["ended_at"].replace("Z", "+00:00")) > killed_at]

    # Calls that ended after the kill were recorded by the restarted link.
    assert _until(new_calls, 90, "a call record written after the restart")


def test_central_logs_filters_and_follows_the_running_up(up):
    # The supervisor's lines about a component carry that component's name.
    res = run_central(["logs", "-n", "200", "--component", "telephony", "--level", "warning"], up.env)
    assert res.returncode == 0, res.stderr
    assert "component telephony crashed" in res.stdout and "ComponentKilled" in res.stdout
    assert all("/telephony " in line for line in res.stdout.splitlines() if line[:4].isdigit())
    assert " INFO " not in res.stdout
    follow = subprocess.Popen([CENTRAL, "logs", "-f", "-n", "1", "--json", "--level", "error"],
                              env=up.env, stdout=subprocess.PIPE, text=True)
    try:
        # The backlog's line (telephony's crash): the follower is subscribed from here on.
        assert json.loads(follow.stdout.readline())["level"] == "error"
        assert run_central(["restart", "dialer", "--crash"], up.env).returncode == 0
        while True:
            entry = json.loads(follow.stdout.readline())
            assert entry["level"] in ("error", "critical"), entry  # warnings are filtered out
            if "component dialer crashed" in entry["msg"]:
                break
        assert entry["component"] == "dialer" and entry["process"] == "up"
        assert "ComponentKilled" in entry["traceback"]
    finally:
        follow.kill()
        follow.wait(5)
    _until(lambda: _components(up)["dialer"]["state"] == "running", 30,
           "the dialer to run again")


def test_restart_on_request_and_unknown_component(up):
    before = _components(up)["dialer"]["restarts"]
    res = run_central(["restart", "dialer"], up.env)
    assert res.returncode == 0 and "restarting: dialer" in res.stdout
    _until(lambda: (c := _components(up)["dialer"])["restarts"] == before + 1
           and c["state"] == "running", 30, "the dialer to run again")
    bad = run_central(["restart", "nope"], up.env)
    assert bad.returncode == 1 and "unknown component 'nope'" in bad.stderr


def test_stop_ends_the_process_and_removes_its_heartbeat_and_socket(up):
    res = run_central(["stop"], up.env)
    assert res.returncode == 0 and "stopped" in res.stdout, res.stderr
    assert up.proc.wait(10) == 0
    status = _control_status(up)
    assert status["local"] is None and not [r for r in status["processes"] if r["kind"] == "up"]
    assert not os.path.exists(os.path.join(up.env["CENTRAL_DATA_DIR"], "central.sock"))
    again = run_central(["stop"], up.env)
    assert again.returncode == 1 and "no central up is running" in again.stderr
