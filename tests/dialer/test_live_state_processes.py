"""The live campaign panel of a web process shows what a dialer in *another* process
sees (issue 14, item 6): ``central web`` and ``central dialer`` as two real processes,
without Redis (the state goes through the database) and with Redis (the shared cache).

A ``central simulate-pbx`` process stands in for Asterisk; everything crosses real
sockets. Before the fix, without Redis, the web process's panel stayed blank (agents 0,
no reason, no engine): the dialer kept its view in its own in-process cache.
"""

from __future__ import annotations

import secrets
import subprocess
import time
import uuid

import httpx
import pytest

from tests.support import (
    CENTRAL,
    free_port,
    migrated_env,
    run_central,
    start_central,
    start_simulate_pbx,
    stop_process,
)

SEED = """
from django.contrib.auth import get_user_model
from central.core.models import Membership, Organization
from central.dialer.models import Campaign, Contact
org = Organization.objects.create(name="Loja", slug="loja")
user = get_user_model().objects.create_user("vera", password="{password}")
Membership.objects.create(user=user, organization=org, role="viewer")
days = {{d: [["00:00", "23:59"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}}
c = Campaign.objects.create(organization=org, name="Vendas", status="active", queue="sales",
    dial_context="discador-out", pacing_mode="ratio", dial_ratio=2.0, working_hours=days,
    respect_holidays=False, max_channels=6, max_cps=5, ring_timeout_s=5)
Contact.objects.bulk_create([Contact(organization=org, campaign=c, phone=f"+5511955{{i:06d}}") for i in range(200)])
print(c.id)
"""

AGENTS = 3


@pytest.mark.parametrize("shared_by", ["database", "redis"])
def test_web_process_shows_the_live_state_of_a_dialer_process(tmp_path, shared_by, request):
    extra = {"REDIS_URL": request.getfixturevalue("redis_url")} if shared_by == "redis" else {}
    sim_port, web_port = free_port(), free_port()
    ami_secret, password = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    env = migrated_env(tmp_path / "data", CENTRAL_SIM_AMI_USERS=f"central:{ami_secret}", **extra)
    seeded = run_central(["manage", "shell", "-c", SEED.format(password=password)], env)
    assert seeded.returncode == 0, seeded.stderr
    campaign_id = int(seeded.stdout.split()[-1])
    dialer_name = f"dialer-{uuid.uuid4().hex[:8]}"  # unique: a stale Redis key cannot pass
    sim = dialer = web = None
    try:
        sim = start_simulate_pbx(sim_port, env, tmp_path / "sim.log", "--agents", str(AGENTS),
                                 "--background-calls", "0", "--churn", "0")
        dialer_log = open(tmp_path / "dialer.log", "w")  # noqa: SIM115 - closed with the process
        dialer = subprocess.Popen(
            [CENTRAL, "dialer", "--ami", f"ami://central@127.0.0.1:{sim_port}", "--name", dialer_name],
            env={**env, "CENTRAL_AMI_SECRET": ami_secret}, stdout=dialer_log, stderr=subprocess.STDOUT)
        web = start_central(["web", "--port", str(web_port)], env, web_port, tmp_path / "web.log")
        token = httpx.post(f"{web.url}/api/v1/auth/token/", json={"username": "vera", "password": password},
                           timeout=10).json()["access"]
        headers = {"Authorization": f"Bearer {token}"}
        live: dict = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            res = httpx.get(f"{web.url}/api/v1/dialer/campaigns/{campaign_id}/live/", headers=headers, timeout=10)
            assert res.status_code == 200, res.text
            live = res.json()
            if live.get("dialer") == dialer_name and live["agents"]["logged"]:
                break
            assert dialer.poll() is None, (tmp_path / "dialer.log").read_text()
            time.sleep(0.5)
        assert live.get("dialer") == dialer_name, (live, (tmp_path / "dialer.log").read_text())
        assert live["agents"]["logged"] == AGENTS
        assert live["reason"] and live["message"] and live["engine_at"]
    finally:
        stop_process(web.proc if web else None)
        stop_process(dialer)
        stop_process(sim)
