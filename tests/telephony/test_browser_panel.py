"""In a real browser against ``central up`` (which starts the demo PBX simulator): the
ramais panel and the calls page change without a reload."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.dashboard.test_browser_login import login


def test_extensions_panel_and_calls_update_live(browser, central_up):
    # A browser on UTC: times must still read as the organization's (São Paulo) wall clock.
    page = browser.new_page(locale="pt-BR", timezone_id="UTC")
    try:
        login(page, central_up)
        page.get_by_role("link", name="Ramais").click()
        expect(page.get_by_role("heading", name="Ramais")).to_be_visible()
        expect(page.get_by_test_id("ws-state")).to_have_attribute("data-state", "open", timeout=10_000)
        # The demo PBX has extensions 1001-1012 (they appear live if the link is still starting).
        expect(page.locator("#extgrid .ext")).to_have_count(12, timeout=15_000)
        expect(page.get_by_test_id("server-status-simulador")).to_have_text("Conectado", timeout=10_000)
        assert page.evaluate("Central.tz") == "America/Sao_Paulo"
        assert page.evaluate("Central.time('2026-11-24T15:30:05Z')") == "12:30:05"  # not the browser's 15:30
        assert page.evaluate("Central.dateTime('2026-11-24T15:30:05Z')") == "24/11/2026 12:30"
        expect(page.get_by_test_id("tz-note")).to_contain_text("America/Sao_Paulo")
        page.evaluate("window.__marker = 1")  # proves no reload happens below
        before = page.evaluate(
            "Object.fromEntries([...document.querySelectorAll('#extgrid .ext')].map(e => [e.dataset.exten, e.dataset.state]))")
        assert set(before) == {str(n) for n in range(1001, 1013)}
        page.wait_for_function(
            """before => [...document.querySelectorAll('#extgrid .ext')]
                   .some(e => e.dataset.state !== before[e.dataset.exten])""",
            arg=before, timeout=30_000)
        changed = page.locator("#extgrid .ext").first.get_attribute("data-state")
        assert changed in {"free", "busy", "ringing", "onhold", "unavailable", "unknown"}
        assert page.evaluate("window.__marker") == 1

        # The calls page: demo calls appear as live rows or finished records, live.
        page.get_by_role("link", name="Chamadas").click()
        expect(page.get_by_role("heading", name="Chamadas", exact=True)).to_be_visible()
        expect(page.get_by_test_id("ws-state")).to_have_attribute("data-state", "open", timeout=10_000)
        expect(page.locator("#members-body tr")).to_have_count(4, timeout=10_000)  # the demo's agents
        page.evaluate("window.__marker = 2")
        seen = page.evaluate("[...document.querySelectorAll('tr[data-linkedid]')].map(r => r.dataset.linkedid)")
        page.wait_for_function(
            "seen => [...document.querySelectorAll('tr[data-linkedid]')].some(r => !seen.includes(r.dataset.linkedid))",
            arg=seen, timeout=45_000)
        assert page.evaluate("window.__marker") == 2
    finally:
        page.close()
