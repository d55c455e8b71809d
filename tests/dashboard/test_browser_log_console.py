"""The live log console in a real browser (issue 16): lines arrive live, the request-id
filter narrows them, pause holds new lines until resume; the system page shows the
supervised components and the backups."""

from __future__ import annotations

import os
import uuid

import httpx
import pytest
from playwright.sync_api import expect

from tests.dashboard.test_browser_login import login
from tests.support import run_central

pytestmark = pytest.mark.browser


def test_log_console_live_filter_pause_resume(browser, central_up):
    rid = f"console-{uuid.uuid4().hex[:8]}"
    shots = os.environ.get("CENTRAL_SCREENSHOTS")
    page = browser.new_page(locale="pt-BR", viewport={"width": 1366, "height": 900})
    try:
        login(page, central_up)
        page.get_by_test_id("nav-system").click()
        expect(page.get_by_test_id("component-telephony")).to_have_text("running")
        expect(page.get_by_test_id("last-backup")).to_be_visible()
        if shots:
            page.screenshot(path=f"{shots}/system-1366.png", full_page=True)
        # A component killed in central up: the page shows its crash and restart live.
        page.evaluate("window.__marker = 1")
        crashed = run_central(["restart", "periodic", "--crash"], central_up.env)
        assert crashed.returncode == 0, crashed.stderr
        row = page.get_by_test_id("component-periodic").locator("xpath=ancestor::tr")
        expect(row.locator(".err")).to_contain_text("ComponentKilled", timeout=15_000)
        expect(page.get_by_test_id("component-periodic")).to_have_text("running", timeout=15_000)
        assert page.evaluate("window.__marker") == 1  # no reload
        page.get_by_test_id("logs-link").click()
        body = page.locator("#log-body")
        expect(body.locator("tr").first).to_be_visible(timeout=10_000)  # the backlog, then live lines
        page.fill("input[name=request_id]", rid)
        expect(body.locator("tr")).to_have_count(0, timeout=10_000)
        httpx.get(central_up.url + "/no-such-page/", headers={"X-Request-ID": rid}, timeout=10)
        expect(body.locator("tr")).to_have_count(1, timeout=10_000)
        expect(body).to_contain_text("Not Found")
        expect(body).to_contain_text(rid)
        page.get_by_test_id("log-pause").click()
        httpx.get(central_up.url + "/no-such-page-2/", headers={"X-Request-ID": rid}, timeout=10)
        expect(page.get_by_test_id("log-info")).to_contain_text("1", timeout=10_000)  # held, not shown
        expect(body.locator("tr")).to_have_count(1)
        page.get_by_test_id("log-pause").click()
        expect(body.locator("tr")).to_have_count(2)
        expect(body.locator("tr").first).to_contain_text("no-such-page-2")
        if shots:
            page.fill("input[name=request_id]", "")
            page.select_option("select[name=level]", "warning")
            page.wait_for_timeout(1500)
            page.screenshot(path=f"{shots}/logs-1366.png")
            page.set_viewport_size({"width": 390, "height": 844})
            page.screenshot(path=f"{shots}/logs-390.png", full_page=False)
            page.goto(central_up.url + "/system/")
            page.screenshot(path=f"{shots}/system-390.png", full_page=True)
    finally:
        page.close()
