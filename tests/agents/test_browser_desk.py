"""In a real browser against `central up` (its demo campaign dials the PBX simulator,
whose agents are the demo agents Local/agentN@agent-phones): an agent signs in, joins
the campaign's queue from their page, the simulator connects a dialer call to them and
the screen pop shows that call's contact within a second of AgentConnect; they save a
disposition with a callback for themselves, and the callback comes back to them (and not
to another agent) when due, and is dialed through their own interface."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.dashboard.test_browser_login import login
from tests.support import run_central, until

PASSWORD = "senha-do-agente-123"


#: A number the demo PBX answers every time (central.simulator.scenarios.FIXTURE_NUMBERS:
#: the capture's orig-async-1 number; the simulator dials it without the "+").
ANSWERS = "5511999990006"

SEED = """
from datetime import timedelta
from django.utils import timezone
from central.core.demo import ensure_demo
from central.dialer.embedded import ensure_demo_campaign
from central.dialer.models import Campaign, Contact
from central.simulator.world import WorldConfig
user, password = ensure_demo()
campaign = Campaign.objects.get(pk=ensure_demo_campaign(WorldConfig().queue))
campaign.status = Campaign.Status.PAUSED
campaign.save(update_fields=["status"])
Contact.objects.create(organization=campaign.organization, campaign=campaign, name="Renata Prado",
                       phone="{answers}", custom_fields={{"cidade": "Santos", "plano": "Família"}},
                       next_attempt_at=timezone.now() - timedelta(minutes=1))
print(user, password, campaign.pk)
"""


@pytest.fixture(scope="module")
def central_up(tmp_path_factory):
    """A `central up` of this module's own, with the demo `central up` would create, seeded
    before it starts (the same functions it runs: ensure_demo, ensure_demo_campaign) with
    two changes so the dialer's first call reaches agent1 at once instead of after the
    demo's random traffic (the pop took 15-80 s: agent1 was talking to a call dialed at
    start-up, 20-40 s of talk, and a third of the dials ring out unanswered):

    * the demo campaign is paused until the test has paused the other agents and agent1
      has joined the queue (its supervisor resumes it from the campaign page), and its
      next contact due is a number the simulator answers;
    * no background calls or visits of the demo PBX (not this test's subject): they would
      take agent1 too.
    """
    from tests.support import free_port, migrated_env, start_central

    base = tmp_path_factory.mktemp("desk-up")
    port = free_port()
    env = migrated_env(base / "data", CENTRAL_DEMO_CALLS="0", CENTRAL_DEMO_VISITS="0")
    user, password, campaign = _run_shell(env, SEED.format(answers=ANSWERS)).split()
    proc = start_central(["up", "--port", str(port)], env, port, base / "up.log", wait=180)
    proc.creds = (user, password)
    proc.campaign = int(campaign)
    yield proc
    proc.stop()


def _run_shell(env: dict[str, str], code: str) -> str:
    result = run_central(["manage", "shell", "-c", code], env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    return lines[-1] if lines else ""  # what the code printed last (startup may print before)


def _shell(central_up, code: str) -> str:
    return _run_shell(central_up.env, code)


AGENT1 = "Local/agent1@agent-phones"  # ana.souza's interface in the demo


def _attempts(page, central_up, **filters) -> list[dict]:
    """Attempts through the API, as the signed-in agent (the page's session)."""
    data = page.request.get(central_up.url + "/api/v1/dialer/attempts/", params=filters).json()
    return data["results"] if isinstance(data, dict) else data


class SocketSwitch:
    """The page's /ws/desk/ through Playwright's WebSocket routing, so the test can cut it
    like a network failure would and let it reconnect."""

    def __init__(self, page) -> None:
        self.open, self.sockets = True, []
        page.route_web_socket(re.compile(r".*/ws/desk/$"), self._route)

    def _route(self, ws) -> None:
        if not self.open:
            ws.close(code=1006)
            return
        ws.connect_to_server()
        self.sockets.append(ws)

    def cut(self) -> None:
        self.open = False
        for ws in self.sockets:
            ws.close(code=1011, reason="cut by the test")
        self.sockets.clear()


def _agent_login(browser, central_up, username: str):
    page = browser.new_page(locale="pt-BR", viewport={"width": 1366, "height": 900})
    page.switch = SocketSwitch(page)
    page.goto(central_up.url + "/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login/" not in url)
    page.goto(central_up.url + "/agents/desk/")
    expect(page.locator("body")).to_have_attribute("data-desk", "live", timeout=15_000)
    return page


def test_pop_disposition_and_callback_back_to_the_same_agent(browser, central_up):
    # The demo agents get a password (they have none: nobody signs in as them by default).
    _shell(central_up, (
        "from django.contrib.auth import get_user_model; U = get_user_model()\n"
        "for n in ('ana.souza', 'bruno.lima'):\n"
        "    u = U.objects.get(username=n); u.set_password('" + PASSWORD + "'); u.save()\n"))
    ana = _agent_login(browser, central_up, "ana.souza")  # Local/agent1@agent-phones
    bruno = _agent_login(browser, central_up, "bruno.lima")  # Local/agent2@agent-phones
    try:
        # Queue login from the page (agents.services: the member is static in the
        # simulator's queue, so login is an unpause); the state follows the AMI events.
        ana.get_by_test_id("desk-login").click()
        expect(ana.get_by_test_id("desk-bar-msg")).to_have_text("")
        expect(ana.get_by_test_id("desk-state")).not_to_have_attribute("data-state", "out", timeout=15_000)

        # The supervisor pauses the other demo agents (agents table controls, with a reason),
        # so the demo campaign's next connected call is agent1's; the table shows the pauses.
        boss = browser.new_page(locale="pt-BR")
        login(boss, central_up)
        board = boss.request.get(central_up.url + "/agents/board.json").json()
        code = next(iter(board["pause_labels"]))
        csrf = next(c["value"] for c in boss.context.cookies() if c["name"] == "csrftoken")
        others = [r for r in board["rows"] if r["interface"] != AGENT1]
        for row in others:
            r = boss.request.post(f"{central_up.url}/agents/members/{row['id']}/pause/", form={"code": code},
                                  headers={"X-CSRFToken": csrf, "Referer": central_up.url + "/agents/"})
            assert r.ok, r.text()
        boss.goto(central_up.url + "/agents/")
        for row in others:
            badge = boss.locator(f'tr[data-interface="{row["interface"]}"] .badge')
            expect(badge).to_contain_text(board["pause_labels"][code], timeout=30_000)
        # Now the supervisor resumes the demo campaign (paused since before `central up`).
        boss.goto(f"{central_up.url}/dialer/campaigns/{central_up.campaign}/")
        boss.get_by_test_id("action-resume").click()
        expect(boss.get_by_test_id("action-resume")).to_have_count(0)
        boss.close()

        # The demo campaign's predictive dialer connects a call to agent1: the pop (its
        # first contact due answers; waits for a pop pushed by the socket, which carries
        # the AgentConnect time).
        expect(ana.locator("body")).to_have_attribute("data-pop-delay", re.compile(".+"), timeout=60_000)
        uid = ana.evaluate("document.body.dataset.popAttempt")
        delay = float(ana.evaluate("document.body.dataset.popDelay"))
        assert delay < 1.0, f"AgentConnect -> contact on screen took {delay:.3f} s"
        shown = ana.get_by_test_id("desk-name").inner_text()
        # The pop's attempt was taken by agent1 (the dialer writes the agent on the attempt as
        # it handles AgentConnect, which may be just after the link pushed the pop).
        pop = until(lambda: next((a for a in _attempts(ana, central_up, agent=AGENT1, ordering="-created_at")
                                  if a["uid"] == uid), None), what="the pop's attempt under agent1")
        contact = ana.request.get(f"{central_up.url}/api/v1/dialer/contacts/{pop['contact']}/").json()
        assert contact["name"] == shown, (contact, shown)
        contact_id = pop["contact"]
        # The campaign's script, with the contact's imported fields substituted.
        expect(ana.get_by_test_id("desk-script")).to_contain_text(f"Olá, {shown}!")
        expect(ana.get_by_test_id("desk-script").locator("mark").first).to_have_text(shown)

        # Disposition with a callback for herself a few seconds ahead, in the contact's zone.
        zone = ana.get_by_test_id("desk-zone").inner_text().strip("()")
        when = datetime.now(ZoneInfo(zone)) + timedelta(seconds=6)
        ana.get_by_test_id("code-agendar_retorno").check()
        ana.get_by_test_id("desk-notes-input").fill("Pediu para ligar mais tarde")
        ana.get_by_test_id("desk-cb-date").fill(when.strftime("%Y-%m-%d"))
        ana.get_by_test_id("desk-cb-time").fill(when.strftime("%H:%M:%S"))
        ana.get_by_test_id("desk-cb-for").select_option("me")
        ana.keyboard.press("Control+Enter")
        expect(ana.get_by_test_id("desk-dispo-msg")).to_contain_text("Retorno agendado", timeout=10_000)

        # When due, it comes back on Ana's page, not on Bruno's.
        item = ana.get_by_test_id(f"callback-{contact_id}")
        expect(item).to_be_visible(timeout=20_000)
        expect(bruno.get_by_test_id(f"callback-{contact_id}")).to_have_count(0)
        item.get_by_role("button").click()
        expect(ana.get_by_test_id("desk-dial-msg")).to_have_text("", timeout=10_000)
        dialed = [(a["agent"], a["state"]) for a in _attempts(ana, central_up, contact=contact_id)
                  if a["pacing_mode"] == "callback"]
        assert dialed == [(AGENT1, "sent")], dialed

        # The socket drops: a clear alarm (the screen is stale) until it reconnects.
        alarm = ana.get_by_test_id("desk-alarm")
        expect(alarm).to_be_hidden()
        ana.switch.cut()
        expect(alarm).to_be_visible()
        expect(alarm).to_contain_text("Conexão perdida")
        ana.switch.open = True
        expect(alarm).to_be_hidden(timeout=15_000)
        expect(ana.locator("body")).to_have_attribute("data-desk", "live")
    finally:
        ana.close()
        bruno.close()
