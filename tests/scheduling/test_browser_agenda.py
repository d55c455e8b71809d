"""In a real browser against ``central up`` (demo clinic agenda): a booking made elsewhere
(through the API, as the WhatsApp assistant's service calls do) appears on the staff
agenda without a reload; another tenant's page receives nothing."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
from playwright.sync_api import expect

from tests.dashboard.test_browser_login import login

CLINIC = "clinica-bem-estar"


def _next_weekday() -> date:
    d = date.today() + timedelta(days=2)
    while d.weekday() >= 5:
        d += timedelta(days=1)
    return d


def test_agenda_updates_live_for_its_tenant_only(browser, central_up):
    user, password = central_up.creds
    token = httpx.post(central_up.url + "/api/v1/auth/token/", json={"username": user, "password": password},
                       timeout=10).json()["access"]
    api = httpx.Client(base_url=central_up.url + "/api/v1/scheduling",
                       headers={"Authorization": f"Bearer {token}", "X-Organization": CLINIC}, timeout=20)
    services_ = api.get("/services/").json()["results"]
    service = next(s for s in services_ if s["name"] == "Consulta de clínica geral")
    day = _next_weekday()
    page = browser.new_page(locale="pt-BR", viewport={"width": 1366, "height": 900})
    other = browser.new_page(locale="pt-BR")
    try:
        login(page, central_up)
        with page.expect_navigation():  # the selector submits the organization switch
            page.get_by_label("Organização").select_option(label="Clínica Bem-Estar")
        page.goto(f"{central_up.url}/scheduling/?date={day.isoformat()}")
        expect(page.get_by_role("heading", name="Agenda")).to_be_visible()
        expect(page.get_by_test_id("ws-state")).to_have_attribute("data-state", "open", timeout=10_000)
        # The other page: the same user in the company tenant (its dashboard listens to org-<company>).
        login(other, central_up)
        expect(other.get_by_test_id("ws-state")).to_have_attribute("data-state", "open", timeout=10_000)
        other.evaluate("""window.__agenda = []; Central.on("scheduling.appointment", m => window.__agenda.push(m))""")

        slots = api.get(f"/services/{service['id']}/slots/",
                        params={"start": f"{day.isoformat()}T00:00:00-03:00", "end": f"{day.isoformat()}T23:59:00-03:00",
                                "limit": 1}).json()
        assert slots, "the demo clinic has free slots on a weekday"
        phone = "+5511987659999"
        patient = api.post("/patients/", json={"name": "Paciente do navegador", "phone": phone})
        assert patient.status_code == 201, patient.text
        page.evaluate("window.__marker = 1")  # proves no reload happens below
        made = api.post("/appointments/", json={"patient": patient.json()["id"], "token": slots[0]["token"],
                                                "channel": "whatsapp"})
        assert made.status_code == 201, made.text
        card = page.locator(f'[data-appointment="{made.json()["id"]}"]')
        expect(card).to_contain_text("Paciente do navegador", timeout=10_000)
        expect(card).to_contain_text("WhatsApp")
        assert page.evaluate("window.__marker") == 1
        # A cancellation elsewhere shows too.
        api.post(f"/appointments/{made.json()['id']}/cancel/", json={"by": "patient", "reason": "imprevisto"})
        expect(card).to_contain_text("cancelado", timeout=10_000)
        assert page.evaluate("window.__marker") == 1
        # The company tenant's socket received none of it (it did receive its own status pushes).
        other.wait_for_function("document.getElementById('ws-state').dataset.state === 'open'")
        assert other.evaluate("window.__agenda.length") == 0
    finally:
        page.close()
        other.close()
        api.close()
