"""A person's path through the dashboard in a real browser: log in, see live updates."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import expect


def login(page, central_up):
    user, password = central_up.creds
    page.goto(central_up.url + "/")
    expect(page).to_have_url(re.compile(r"/login/"))
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    expect(page.get_by_role("heading", name="Visão geral")).to_be_visible()


def test_login_dashboard_and_live_push(browser, central_up):
    page = browser.new_page(locale="pt-BR")
    try:
        login(page, central_up)
        expect(page.get_by_test_id("ws-state")).to_have_attribute("data-state", "open", timeout=10_000)
        expect(page.get_by_test_id("ws-state")).to_have_text("ao vivo")
        # The operations overview is pushed over the WebSocket (at least every 5 s, and on
        # every change of the PBX or the dialer): its time changes without reload.
        clock = page.get_by_test_id("ops-at")
        first = clock.inner_text()
        expect(clock).not_to_have_text(first, timeout=10_000)
        # An action elsewhere (a JWT login through the API) appears in the activity feed live.
        user, password = central_up.creds
        page.evaluate("window.__marker = 1")  # proves no reload happens below
        token = httpx.post(central_up.url + "/api/v1/auth/token/", json={"username": user, "password": password}, timeout=10)
        assert token.status_code == 200
        # As a sentence, not the code (auth.token).
        expect(page.get_by_test_id("activity")).to_contain_text("obteve um token de acesso à API", timeout=10_000)
        assert page.evaluate("window.__marker") == 1
    finally:
        page.close()


def test_wrong_password_shows_error_in_portuguese(browser, central_up):
    page = browser.new_page(locale="pt-BR")
    try:
        page.goto(central_up.url + "/login/")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", "errada")
        page.click("button[type=submit]")
        expect(page.get_by_role("alert")).to_contain_text("Usuário ou senha incorretos")
    finally:
        page.close()


def test_layout_fits_a_phone_screen(browser, central_up):
    context = browser.new_context(viewport={"width": 375, "height": 740}, locale="pt-BR")
    page = context.new_page()
    try:
        login(page, central_up)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"page scrolls sideways on a phone ({width}px)"
    finally:
        context.close()


def test_csp_blocks_an_injected_inline_script(browser, central_up):
    """The policy is enforced by the browser, and the CSP watcher of every browser test sees
    violations (so the other browser tests passing means no page needed inline code)."""
    page = browser.new_page(locale="pt-BR")
    try:
        page.goto(central_up.url + "/login/")
        page.evaluate("""() => { const s = document.createElement("script");
                                 s.textContent = "window.__injected = 1"; document.head.appendChild(s); }""")
        assert page.evaluate("window.__injected") is None
        page.wait_for_function("1")  # let the console event arrive
        assert any("Content Security Policy" in v for v in browser.violations), browser.violations
        browser.violations.clear()  # expected here; any other violation fails the test
    finally:
        page.close()


def test_live_state_words_follow_the_language(browser, central_up):
    page = browser.new_page(locale="en-US")
    try:
        user, password = central_up.creds
        page.goto(central_up.url + "/login/")
        page.fill("input[name=username]", user)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        expect(page.get_by_test_id("ws-state")).to_have_attribute("data-state", "open", timeout=10_000)
        expect(page.get_by_test_id("ws-state")).to_have_text("live")
    finally:
        page.close()
