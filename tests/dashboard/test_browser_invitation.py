"""Joining an organization through an invitation link, in a real browser (issue 8, finding 2)."""

from __future__ import annotations

import re
import secrets

import httpx
from playwright.sync_api import expect

from tests.support import run_central


def test_invited_person_signs_in_and_accepts_in_portuguese(browser, central_up):
    user, password = central_up.creds
    token = httpx.post(f"{central_up.url}/api/v1/auth/token/", json={"username": user, "password": password},
                       timeout=10).json()["access"]
    created = httpx.post(f"{central_up.url}/api/v1/invitations/", json={"email": "convidada@example.com", "role": "agent"},
                         headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert created.status_code == 201, created.text
    accept_url = created.json()["accept_url"]
    assert accept_url.startswith(central_up.url + "/invitations/")

    guest_password = secrets.token_urlsafe(12)
    made = run_central(["manage", "shell", "-c",
                        "from django.contrib.auth import get_user_model; "
                        f"get_user_model().objects.create_user('convidada', 'convidada@example.com', {guest_password!r})"],
                       central_up.env)
    assert made.returncode == 0, made.stderr

    page = browser.new_page(locale="pt-BR")
    try:
        page.goto(accept_url)
        expect(page).to_have_url(re.compile(r"/login/\?next=/invitations/"))
        page.fill("input[name=username]", "convidada")
        page.fill("input[name=password]", guest_password)
        page.click("button[type=submit]")
        expect(page.get_by_role("heading", name=re.compile("^Convite para "))).to_be_visible()
        expect(page.get_by_test_id("invitation")).to_contain_text(f"{user} convidou você")
        page.get_by_test_id("accept").click()
        expect(page.get_by_role("heading", name="Visão geral")).to_be_visible()
        expect(page.get_by_test_id("messages")).to_contain_text("Agora você faz parte de")
        # the link works once
        page.goto(accept_url)
        expect(page.get_by_role("heading", name="Convite inválido ou expirado")).to_be_visible()
    finally:
        page.close()
