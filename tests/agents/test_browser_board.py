"""In a real browser against ``central up`` (demo PBX simulator): a supervisor pauses an
agent with a reason from the agents table; the pause goes through the PBX link to the
simulator, comes back as its QueueMemberPause event and shows in the table, with the
clock ticking, without a reload."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.dashboard.test_browser_login import login

ANA = "Local/agent1@agent-phones"  # the demo's first agent (central/agents/demo.py)


def test_pause_with_reason_shows_live_with_a_running_clock(browser, central_up):
    page = browser.new_page(locale="pt-BR")
    try:
        login(page, central_up)
        page.goto(central_up.url + "/agents/")
        expect(page.get_by_role("heading", name="Agentes", exact=True)).to_be_visible()
        expect(page.get_by_test_id("ws-state")).to_have_attribute("data-state", "open", timeout=10_000)
        row = page.locator(f'#board-body tr[data-interface="{ANA}"]')
        expect(row.locator("td.who")).to_contain_text("Ana Souza", timeout=15_000)  # a name, not the interface
        page.evaluate("window.__marker = 1")  # proves no reload happens below

        row.locator("select.reason").select_option("intervalo")
        row.get_by_role("button", name="Pausar").click()
        expect(page.get_by_test_id("board-msg")).to_have_text("Pausa enviada ao Asterisk.", timeout=10_000)
        expect(row).to_have_attribute("data-state", "paused", timeout=10_000)
        expect(row.locator("span.badge")).to_have_text("Em pausa · Intervalo")
        first = row.locator("td.clock").inner_text()
        page.wait_for_function(
            """([iface, first]) => {
                 const cell = document.querySelector(`#board-body tr[data-interface="${iface}"] td.clock`);
                 return cell && cell.textContent !== first && cell.textContent !== "—";
               }""", arg=[ANA, first], timeout=5_000)
        assert page.evaluate("window.__marker") == 1

        row.get_by_role("button", name="Retomar").click()  # leave the shared demo as it was
        expect(row).not_to_have_attribute("data-state", "paused", timeout=10_000)
    finally:
        page.close()
