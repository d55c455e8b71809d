"""In a real browser under `central up`: a patient books on the test phone page (the
WhatsApp simulator) with the assistant, and the staff agenda open in another tab shows the
booking without a reload."""

from __future__ import annotations

import re
from datetime import date

from playwright.sync_api import expect

from tests.dashboard.test_browser_login import login

CLINIC = "Clínica Bem-Estar"
PATIENT = "Rita Navegadora"


def test_booking_on_the_test_phone_appears_live_on_the_agenda(browser, central_up):
    context = browser.new_context(locale="pt-BR", viewport={"width": 1366, "height": 900})
    try:
        phone = context.new_page()
        login(phone, central_up)
        with phone.expect_navigation():
            phone.get_by_label("Organização").select_option(label=CLINIC)
        phone.goto(central_up.url + "/messaging/phone/")
        identity = phone.get_by_test_id("phone-identity")
        identity.locator("input[name=name]").fill(PATIENT)
        identity.locator("input[name=wa_id]").fill("5511987013579")
        with phone.expect_navigation():
            identity.get_by_role("button").click()
        expect(phone.get_by_test_id("ws-state")).to_have_attribute("data-state", "open", timeout=10_000)

        def say(text):
            phone.get_by_test_id("phone-text").fill(text)
            phone.get_by_test_id("phone-send").click()

        def press(title):
            choice = phone.get_by_test_id("phone-choice").filter(has_text=title).last
            expect(choice).to_be_enabled(timeout=15_000)
            choice.click()

        # The service named in the first message: no service list (fewer messages to the
        # patient, each paced by the Cloud API's per-recipient limit).
        say("Oi, quero marcar uma consulta de clínica geral")
        expect(phone.get_by_test_id("phone-clinic").last).to_contain_text("nome completo", timeout=15_000)
        say(PATIENT)
        days = phone.get_by_test_id("phone-choice").filter(has_text=re.compile(r"\d\d/\d\d"))
        expect(days.first).to_be_visible(timeout=15_000)
        label = days.first.inner_text()
        dd, mm = re.search(r"(\d\d)/(\d\d)", label).groups()
        today = date.today()
        day = date(today.year + (int(mm) < today.month), int(mm), int(dd))

        agenda = context.new_page()
        agenda.goto(f"{central_up.url}/scheduling/?date={day.isoformat()}")
        expect(agenda.get_by_test_id("ws-state")).to_have_attribute("data-state", "open", timeout=10_000)
        agenda.evaluate("window.__marker = 1")  # proves no reload happens below
        # The patient acts on the phone: back to its tab (a tab behind another gets no
        # animation frames, and each click waited 2-5 s for its button to be "stable").
        phone.bring_to_front()

        days.first.click()
        times = phone.get_by_test_id("phone-choice").filter(has_text=re.compile(r"^\d\d:\d\d"))
        expect(times.first).to_be_visible(timeout=15_000)
        times.first.click()
        press("Confirmar")
        expect(phone.get_by_test_id("phone-clinic").filter(has_text="Agendado!")).to_be_visible(timeout=15_000)

        card = agenda.get_by_test_id("appointment").filter(has_text=PATIENT)
        expect(card).to_be_visible(timeout=10_000)
        expect(card).to_contain_text("WhatsApp")
        assert agenda.evaluate("window.__marker") == 1
    finally:
        context.close()
