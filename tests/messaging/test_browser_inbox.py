"""The WhatsApp inbox and the test phone in a real browser, under `central up`.

Under `central up` with no WhatsApp credentials the Cloud API simulator runs in the
process and the demo clinic has its number. A customer message typed on the test phone
page goes to the simulator, which delivers it to Central as a signed webhook; it must
appear in the inbox (open in another tab) without a reload. The receptionist's reply goes
through the sender to the simulator; it must appear on the phone with its ticks, which
turn to "read" when the simulated phone reads it, and the customer's own message turns
"read" on the phone when the receptionist opens the conversation.
"""

from __future__ import annotations

import re

from playwright.sync_api import expect

CLINIC = "Clínica Bem-Estar"
CUSTOMER = "Paciente do Navegador"


def _login_to_clinic(context, central_up):
    page = context.new_page()
    user, password = central_up.creds
    page.goto(central_up.url + "/login/")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    expect(page.get_by_role("heading", name="Visão geral")).to_be_visible()
    # The demo admin belongs to every demo organization; the simulator's number is the clinic's.
    with page.expect_navigation():
        page.select_option("form.orgswitch select", label=CLINIC)
    return page


def test_phone_message_appears_live_in_the_inbox_and_the_reply_on_the_phone(browser, central_up):
    context = browser.new_context(locale="pt-BR", viewport={"width": 1366, "height": 900})
    try:
        inbox = _login_to_clinic(context, central_up)
        inbox.goto(central_up.url + "/messaging/")
        expect(inbox.get_by_test_id("ws-state")).to_have_attribute("data-state", "open", timeout=10_000)
        inbox.evaluate("window.__marker = 1")

        phone = context.new_page()
        phone.goto(central_up.url + "/messaging/phone/")
        expect(phone.get_by_test_id("phone-explainer")).to_contain_text("simulador")
        # A customer of this test only (the clinic's assistant may answer first; the list row
        # then shows its reply, so the row is found by the customer's name).
        identity = phone.get_by_test_id("phone-identity")
        identity.locator("input[name=name]").fill(CUSTOMER)
        identity.locator("input[name=wa_id]").fill("5511987012345")
        with phone.expect_navigation():
            identity.get_by_role("button").click()
        expect(phone.get_by_test_id("ws-state")).to_have_attribute("data-state", "open", timeout=10_000)
        phone.get_by_test_id("phone-text").fill("Olá, quero marcar uma consulta")
        phone.get_by_test_id("phone-send").click()
        expect(phone.get_by_test_id("phone-mine").last).to_contain_text("quero marcar uma consulta", timeout=10_000)

        # The inbox got it over the WebSocket: no reload happened.
        item = inbox.get_by_test_id("conv-item").filter(has_text=CUSTOMER)
        expect(item).to_be_visible(timeout=10_000)
        expect(item.get_by_test_id("unread")).to_have_text(re.compile(r"[1-9]"))
        assert inbox.evaluate("window.__marker") == 1

        item.click()
        expect(inbox.get_by_test_id("thread")).to_contain_text("quero marcar uma consulta")
        # Opening it reads it: the customer's message turns blue on the phone.
        expect(phone.get_by_test_id("phone-mine").last.get_by_test_id("phone-ticks")).to_have_attribute(
            "data-status", "read", timeout=10_000)

        inbox.get_by_test_id("reply-text").fill("Bom dia! Temos horário amanhã às 9h.")
        inbox.get_by_test_id("send").click()
        reply = phone.get_by_test_id("phone-clinic").filter(has_text="Temos horário amanhã")
        expect(reply).to_be_visible(timeout=15_000)
        expect(reply.get_by_test_id("phone-ticks")).to_have_attribute("data-status", re.compile("sent|delivered|read"))
        # The simulated phone reads it a moment later: the ticks follow, on both sides.
        expect(reply.get_by_test_id("phone-ticks")).to_have_attribute("data-status", "read", timeout=15_000)
        sent = inbox.get_by_test_id("message").filter(has_text="Temos horário amanhã")
        expect(sent.get_by_test_id("ticks")).to_have_attribute("data-status", "read", timeout=15_000)
        expect(inbox.get_by_test_id("conv-state")).to_have_attribute("data-state", "open")

        # A photo: the inbox shows its metadata live and fetches the bytes only when asked
        # (through the backend's media URL flow, from the simulator's Graph API).
        phone.get_by_test_id("phone-photo").click()
        picture = inbox.get_by_test_id("message").filter(has_text="image/png")
        expect(picture).to_be_visible(timeout=10_000)
        picture.get_by_role("button", name="Abrir arquivo").click()
        expect(picture.locator("img.media-img")).to_be_visible(timeout=10_000)
        assert picture.locator("img.media-img").evaluate("img => img.naturalWidth") == 160
    finally:
        context.close()
