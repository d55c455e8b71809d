"""In a real browser against `central up` (its demo campaign dials the PBX simulator):
the campaign page's tiles and recent attempts, and the campaigns list's counts, change
without a reload when the dialer changes an attempt's state."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.dashboard.test_browser_login import login

DEMO = "Campanha de demonstração"


def test_tiles_attempts_and_list_counts_follow_the_dialer_without_reload(browser, central_up):
    page = browser.new_page(locale="pt-BR")
    try:
        login(page, central_up)
        page.goto(central_up.url + "/dialer/")
        page.get_by_role("link", name=DEMO).click()
        pending = page.get_by_test_id("count-pending")
        before = pending.inner_text()
        first_attempt = page.locator("#attempts-body tr").first.inner_text()
        page.evaluate("window.__sameDocument = 1")
        # The dialer claims the next contact (pending -> in progress, a new attempt row):
        # the tile and the table follow its push, the document stays the same.
        expect(pending).not_to_have_text(before, timeout=60_000)
        expect(page.locator("#attempts-body tr").first).not_to_have_text(first_attempt)
        assert page.evaluate("window.__sameDocument") == 1
        assert "." not in page.locator("#dl-level").inner_text()  # pt-BR decimals (0,5)

        page.goto(central_up.url + "/dialer/")
        row = page.locator("tr", has=page.get_by_role("link", name=DEMO))
        cell = row.locator('[data-status="pending"]')
        before = cell.inner_text()
        page.evaluate("window.__sameDocument = 1")
        expect(cell).not_to_have_text(before, timeout=60_000)
        assert page.evaluate("window.__sameDocument") == 1
    finally:
        page.close()
