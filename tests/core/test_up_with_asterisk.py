"""``central up`` against an Asterisk configured by ``CENTRAL_AMI_URL`` (issue 14, items 5, 9).

A separately started ``central simulate-pbx`` on a free port stands in for the real
Asterisk: ``up`` starts no simulator of its own then, so the dialer must run against the
configured server. Everything talks over real sockets between real processes.
"""

from __future__ import annotations

import json
import secrets
import time

from tests.support import (
    free_port,
    migrated_env,
    run_central,
    start_central,
    start_simulate_pbx,
    stop_process,
)

SEED = """
from central.core.models import Organization
from central.dialer.models import Campaign, Contact
org = Organization.objects.create(name="Loja", slug="loja")
days = {d: [["00:00", "23:59"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
c = Campaign.objects.create(organization=org, name="Vendas", status="active", queue="sales",
    dial_context="discador-out", pacing_mode="ratio", dial_ratio=2.0, working_hours=days,
    respect_holidays=False, max_channels=6, max_cps=5, ring_timeout_s=5)
Contact.objects.bulk_create([Contact(organization=org, campaign=c, phone=f"+5511966{i:06d}") for i in range(50)])
print(c.id)
"""

# Waits (bounded) inside one shell until the campaign's first Originate was written.
WAIT_DIALED = """
import json, time
from central.dialer.models import Attempt
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    sent = Attempt.objects.filter(campaign_id={cid}).exclude(state__in=["created", "not_sent"])
    if sent.exists():
        break
    time.sleep(0.2)
print(json.dumps({{"sent": sent.count(), "dialers": sorted(set(sent.values_list("dialer", flat=True)))}}))
"""


def _status_until(env, ready, timeout: float = 30.0) -> dict:
    """``central status --json`` until ``ready(status)`` holds (heartbeats come every 5 s)."""
    deadline = time.monotonic() + timeout
    while True:
        res = run_central(["status", "--json"], env)
        assert res.returncode == 0, res.stderr
        status = json.loads(res.stdout)
        if ready(status) or time.monotonic() > deadline:
            return status
        time.sleep(0.5)


def _up_row(status: dict) -> dict:
    rows = [r for r in status["processes"] if r["kind"] == "up"]
    return rows[0] if rows else {}


def test_up_with_central_ami_url_dials_a_running_campaign_and_status_shows_the_ami_links(tmp_path):
    """Before: ``up`` logged "dialer: no AMI in context (no simulator, no Asterisk)" and
    dialed nothing, while ``central status`` listed the dialer among its components."""
    sim_port, web_port = free_port(), free_port()
    secret = secrets.token_urlsafe(12)  # made up per run: the simulator's AMI account
    env = migrated_env(tmp_path / "data", CENTRAL_AMI_URL=f"ami://central@127.0.0.1:{sim_port}",
                       CENTRAL_AMI_SECRET=secret, CENTRAL_SIM_AMI_USERS=f"central:{secret}")
    seeded = run_central(["manage", "shell", "-c", SEED], env)
    assert seeded.returncode == 0, seeded.stderr
    campaign_id = int(seeded.stdout.split()[-1])
    sim = up = None
    try:
        sim = start_simulate_pbx(sim_port, env, tmp_path / "sim.log", "--agents", "3",
                                 "--background-calls", "0", "--churn", "0")
        up = start_central(["up", "--port", str(web_port)], env, web_port, tmp_path / "up.log", wait=90)
        res = run_central(["manage", "shell", "-c", WAIT_DIALED.format(cid=campaign_id)], env)
        assert res.returncode == 0, res.stderr
        dialed = json.loads(res.stdout.strip().splitlines()[-1])
        assert dialed["sent"] > 0, up.log()
        assert "no AMI in context" not in up.log()

        # The heartbeat row is rewritten every 5 s: one written after the AMI login but
        # before the dialer's first tick took the campaign's lease lists no campaign yet.
        status = _status_until(env, lambda s: _up_row(s).get("info", {}).get("dialers", {})
                               .get("principal", {}).get("ami_connected")
                               and campaign_id in _up_row(s)["info"]["dialers"]["principal"].get("campaigns", [])
                               and _up_row(s)["info"].get("servers", {}).get("principal", {}).get("connected"))
        info = _up_row(status)["info"]
        assert "dialer" in info["components"] and "simulator" not in info["components"], info
        assert info["dialers"]["principal"]["ami_connected"] is True, info
        assert campaign_id in info["dialers"]["principal"]["campaigns"], info
        assert info["servers"]["principal"]["connected"] is True, info
        assert info["servers"]["principal"]["host"] == f"127.0.0.1:{sim_port}"
        assert [s["status"] for s in status["asterisk_servers"] if s["name"] == "principal"] == ["connected"]

        text = run_central(["status"], env).stdout
        assert any(line.split()[:2] == ["pbx", "link"] and "principal" in line and "AMI connected" in line
                   for line in text.splitlines()), text
        assert any(line.split()[:1] == ["dialer"] and "principal" in line and "AMI connected" in line
                   for line in text.splitlines()), text
    finally:
        stop_process(up.proc if up else None)
        stop_process(sim)


def test_diagnose_checks_an_asterisk_configured_twice_once(tmp_path):
    """Before: the same Asterisk, in CENTRAL_AMI_URL and as the server row the PBX link
    stores for it, was checked twice (``asterisk:env`` and ``asterisk:principal``)."""
    sim_port = free_port()
    secret = secrets.token_urlsafe(12)
    env = migrated_env(tmp_path / "data", CENTRAL_AMI_URL=f"ami://central@127.0.0.1:{sim_port}",
                       CENTRAL_AMI_SECRET=secret, CENTRAL_SIM_AMI_USERS=f"central:{secret}")
    stored = run_central(["manage", "shell", "-c", SEED + "\nfrom central.telephony.link import env_server\n"
                          "print(env_server().name)"], env)
    assert stored.returncode == 0 and stored.stdout.split()[-1] == "principal", stored.stderr
    sim = None
    try:
        sim = start_simulate_pbx(sim_port, env, tmp_path / "sim.log", "--background-calls", "0", "--churn", "0")
        result = run_central(["diagnose"], env)
    finally:
        stop_process(sim)
    lines = [line for line in result.stdout.splitlines() if "asterisk:" in line]
    assert len(lines) == 1, result.stdout
    assert "asterisk:env/principal" in lines[0] and "OK" in lines[0], result.stdout
    assert result.returncode == 0, result.stdout + result.stderr
