"""The operations overview in a real browser, live: the situation changes on the PBX (a
``central simulate-pbx`` process standing in for Asterisk, driven over AMI like a real
one) and the home page and the wallboard follow without a reload.

* a campaign over its abandonment cap: one agent, every call answered, three calls per
  free agent -> callers left waiting past the campaign's Queue() timeout abandon, and the
  alarm appears (red), with the 1 h abandonment red in the campaigns table;
* a paused agent (QueuePause) appears by name with its reason; the campaign that lost
  its only agent says it stopped dialing and why;
* a caller waiting in the queue (an Originate without the dialer's queue timeout, the
  simulator's ``--patience`` keeps them there) shows in "waiting" with a running clock.
"""

from __future__ import annotations

import re
import secrets
import socket

import pytest
from playwright.sync_api import expect

from tests.support import (
    free_port,
    migrated_env,
    run_central,
    start_central,
    start_simulate_pbx,
    stop_process,
)

USER, PASSWORD = "supervisora", "senha-forte-123"

SEED = """
from django.contrib.auth import get_user_model
from central.agents.models import Agent, AgentInterface
from central.core.models import Membership, Organization
from central.dialer.models import Campaign, Contact
org = Organization.objects.create(name="Loja", slug="loja")
user = get_user_model().objects.create_user("{user}", password="{password}")
Membership.objects.create(user=user, organization=org, role="owner", is_default=True)
agent_user = get_user_model().objects.create_user("marta", password=None)
Membership.objects.create(user=agent_user, organization=org, role="agent")
agent = Agent.objects.create(organization=org, user=agent_user, name="Marta Ribeiro")
AgentInterface.objects.create(organization=org, agent=agent, interface="Local/agent1@agent-phones")
days = {{d: [["00:00", "23:59"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}}
c = Campaign.objects.create(organization=org, name="Cobrança", status="paused", queue="sales",
    dial_context="discador-out", pacing_mode="ratio", dial_ratio=3.0, working_hours=days,
    respect_holidays=False, max_channels=6, max_cps=5, ring_timeout_s=20, max_abandon_rate=0.03,
    abandon_after_s=2)
Contact.objects.bulk_create([Contact(organization=org, campaign=c, phone=f"+5511966{{i:06d}}") for i in range(60)])
print(c.id)
"""


class AMI:
    """A plain AMI connection for the test's own actions (as an operator's tool would)."""

    def __init__(self, port: int, secret: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        self._read_until(b"\r\n")  # banner
        assert self.action("Login", Username="central", Secret=secret, Events="off")["Response"] == "Success"

    def _read_until(self, end: bytes) -> bytes:
        while end not in self.buf:
            chunk = self.sock.recv(65536)
            assert chunk, "AMI connection closed"
            self.buf += chunk
        head, _, self.buf = self.buf.partition(end)
        return head

    def action(self, name: str, **fields: str) -> dict:
        aid = secrets.token_hex(4)
        lines = [f"Action: {name}", f"ActionID: {aid}", *(f"{k}: {v}" for k, v in fields.items())]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        while True:
            block = dict(line.split(": ", 1) for line in self._read_until(b"\r\n\r\n").decode().split("\r\n")
                         if ": " in line)
            if block.get("ActionID") == aid and "Response" in block:
                return block

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wallboard")
    sim_port, web_port = free_port(), free_port()
    secret = secrets.token_urlsafe(12)  # made up per run
    env = migrated_env(tmp / "data", CENTRAL_AMI_URL=f"ami://central@127.0.0.1:{sim_port}",
                       CENTRAL_AMI_SECRET=secret, CENTRAL_SIM_AMI_USERS=f"central:{secret}",
                       CENTRAL_AMI_ORG="loja")
    seeded = run_central(["manage", "shell", "-c", SEED.format(user=USER, password=PASSWORD)], env)
    assert seeded.returncode == 0, seeded.stderr
    campaign_id = int(seeded.stdout.split()[-1])
    sim = up = None
    try:
        # Calls ring half a second before they answer (how long is not what these tests
        # look at: the abandons and the waiting caller after the answer are).
        sim = start_simulate_pbx(sim_port, env, tmp / "sim.log", "--agents", "1", "--background-calls", "0",
                                 "--churn", "0", "--answer-rate", "1.0", "--talk-time", "600", "--patience", "600",
                                 "--ring-time", "0.5")
        up = start_central(["up", "--port", str(web_port)], env, web_port, tmp / "up.log", wait=90)
        yield {"url": up.url, "env": env, "campaign": campaign_id, "sim_port": sim_port, "secret": secret, "up": up}
    finally:
        stop_process(up.proc if up else None)
        stop_process(sim)


def _login(page, url):
    page.goto(url + "/login/")
    page.fill("input[name=username]", USER)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.get_by_role("heading", name="Visão geral")).to_be_visible()
    expect(page.get_by_test_id("ws-state")).to_have_attribute("data-state", "open", timeout=10_000)


def test_abandonment_over_the_cap_raises_the_alarm_live(browser, rig):
    page = browser.new_page(locale="pt-BR")
    try:
        _login(page, rig["url"])
        alarms = page.get_by_test_id("ops-alarms")
        expect(alarms).not_to_contain_text("abandono")
        page.evaluate("window.__sameDocument = 1")
        # The supervisor resumes the campaign (its page's button, posted from this session).
        csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
        resumed = page.request.post(f"{rig['url']}/dialer/campaigns/{rig['campaign']}/resume/",
                                    headers={"X-CSRFToken": csrf, "Referer": rig["url"] + "/"})
        assert resumed.ok and "action-pause" in resumed.text(), resumed.status
        # The dialer places 3 calls for the one free agent; all answer; two wait past the
        # campaign's 2 s Queue() timeout and are abandoned: far over the 3 % cap.
        alarm = page.get_by_test_id("alarm-abandon_over_cap")
        expect(alarm).to_be_visible(timeout=60_000)
        expect(alarm).to_contain_text("Cobrança: abandono de")
        expect(alarm).to_contain_text("acima do máximo de 3%")
        rate = page.locator('#ops-campaigns [data-testid="abandon-1h"]')
        expect(rate).to_have_class(re.compile(r"\blevel-over\b"))
        assert re.fullmatch(r"\d+(,\d)?%", rate.inner_text()), rate.inner_text()  # pt-BR, no "0.66"
        assert page.evaluate("window.__sameDocument") == 1
    finally:
        page.close()


def test_paused_agent_and_waiting_caller_appear_on_the_wallboard(browser, rig):
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="pt-BR")
    page = context.new_page()
    ami = AMI(rig["sim_port"], rig["secret"])
    try:
        _login(page, rig["url"])
        page.goto(rig["url"] + "/wallboard/")
        expect(page.get_by_test_id("ws-state")).to_have_attribute("data-state", "open", timeout=10_000)
        page.evaluate("window.__sameDocument = 1")
        paused = page.get_by_test_id("agents-paused")
        expect(paused).to_have_text("0")

        assert ami.action("QueuePause", Queue="sales", Interface="Local/agent1@agent-phones",
                          Paused="true", Reason="almoço")["Response"] == "Success"
        expect(paused).to_have_text("1", timeout=15_000)
        row = page.get_by_test_id("ops-paused").locator("tbody tr").first
        expect(row).to_contain_text("Marta Ribeiro")  # the person, not Local/agent1@agent-phones
        expect(row).to_contain_text("almoço")
        # Its only agent paused, the campaign stops dialing and the wall says why.
        expect(page.get_by_test_id("alarm-campaign_stopped").first).to_contain_text(
            "parou de discar: nenhum agente logado na fila", timeout=30_000)

        # A caller (no dialer queue timeout: the simulator's --patience keeps them) waits.
        waiting = page.get_by_test_id("calls-waiting")
        assert ami.action("Originate", Channel="Local/5511999990001@customers", Context="discador-out",
                          Exten="5511999990001", Priority="1", Async="true")["Response"] == "Success"
        expect(waiting).to_have_text("1", timeout=60_000)
        clock = page.get_by_test_id("longest-wait")
        first = clock.inner_text()
        expect(clock).not_to_have_text(first, timeout=5_000)  # the clock runs between pushes
        assert page.evaluate("window.__sameDocument") == 1
        assert page.evaluate("document.querySelectorAll('#ops-queues tbody tr').length") <= 13
    finally:
        ami.close()
        context.close()
