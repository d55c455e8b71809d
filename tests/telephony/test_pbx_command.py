"""``central pbx`` as a real process against ``central simulate-pbx`` (CENTRAL_AMI_URL)."""

from __future__ import annotations

import json
import socket
import subprocess
import time

from tests.support import (
    CENTRAL,
    central_env,
    free_port,
    migrated_env,
    query_database,
    run_central,
    until,
)

SETUP = (
    "from central.core.models import Organization; "
    "Organization.objects.get_or_create(slug='acme', defaults={'name': 'Acme'})"
)


def _wait_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}")


def _pbx_heartbeat(env) -> dict | None:
    status = run_central(["status", "--json"], env)
    assert status.returncode == 0, status.stderr
    for row in json.loads(status.stdout)["processes"]:
        if row["kind"] == "pbx" and row["alive"]:
            return row["info"]
    return None


def test_pbx_process_links_the_env_server_and_reports_it(tmp_path):
    unmigrated = run_central(["pbx"], central_env(tmp_path / "empty"))
    assert unmigrated.returncode == 2 and "central migrate" in unmigrated.stderr
    # Migrated from the suite's template (a fresh migrate costs 15-30 s; not the point here).
    env = migrated_env(tmp_path / "data")
    setup = run_central(["manage", "shell", "-c", SETUP], env)
    assert setup.returncode == 0, setup.stderr
    none = run_central(["pbx"], {**env, "CENTRAL_AMI_URL": ""})
    assert none.returncode == 2 and "no Asterisk server" in none.stderr
    leaky = run_central(["pbx"], {**env, "CENTRAL_AMI_URL": "ami://central:pw@127.0.0.1:5038"})
    assert leaky.returncode == 2 and "CENTRAL_AMI_SECRET" in leaky.stderr

    port = free_port()
    sim = subprocess.Popen([CENTRAL, "simulate-pbx", "--port", str(port), "--churn", "0.5"], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pbx = None
    try:
        _wait_port(port)
        pbx_env = {**env, "CENTRAL_AMI_URL": f"ami://central@127.0.0.1:{port}",
                   "CENTRAL_AMI_SECRET": "central-demo"}
        pbx = subprocess.Popen([CENTRAL, "pbx"], env=pbx_env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
        def linked() -> list[tuple] | None:
            assert pbx.poll() is None, pbx.stdout.read()
            rows = query_database(env, "SELECT e.exten, e.state, e.last_activity, s.name, s.status "
                               "FROM telephony_extension e JOIN telephony_asteriskserver s "
                               "ON s.id = e.server_id ORDER BY e.exten")
            return rows if len(rows) == 12 and sum(1 for r in rows if r[2]) >= 3 else None  # churn at work

        # A safety net, not a wait: on a loaded machine the process alone takes 20 s to start.
        rows = until(linked, 90, "the pbx process to link the simulator and see churn", interval=0.2)
        assert [r[0] for r in rows] == [str(n) for n in range(1001, 1013)]
        assert {(r[3], r[4]) for r in rows} == {("principal", "connected")}
        assert sum(1 for r in rows if r[2]) >= 3  # ramais that changed got their last activity
        info = _pbx_heartbeat(env)  # the process reports itself to `central status`
        assert info is not None and "principal" in info["servers"]
    finally:
        for proc in (pbx, sim):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
