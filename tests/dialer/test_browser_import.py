"""A supervisor's path in a real browser: create a campaign, import a list, watch progress,
start the campaign (`central up`, Chromium)."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.dashboard.test_browser_login import login


def test_import_list_with_progress_and_start(browser, central_up, tmp_path):
    lista = tmp_path / "clientes.csv"
    lista.write_bytes("Nome;Telefone;Cidade\nJosé;(11) 98765-4321;São Paulo\nSem número;;Campinas\n"
                      "Maria;021 99876-5432;Rio\n".encode("cp1252"))
    page = browser.new_page(locale="pt-BR")
    try:
        login(page, central_up)
        page.goto(central_up.url + "/dialer/")
        form = page.get_by_test_id("new-campaign")
        form.locator("input[name=name]").fill("Navegador")
        form.locator("input[name=queue]").fill("vendas")
        form.locator("button").click()
        expect(page).to_have_url(re.compile(r"/dialer/campaigns/\d+/$"))

        page.get_by_test_id("import-file").set_input_files(str(lista))
        page.get_by_test_id("import-submit").click()
        status = page.get_by_test_id("import-status")
        expect(status).to_contain_text("Concluída", timeout=20_000)
        expect(status).to_contain_text("2 novos")
        expect(status).to_contain_text("linha 3 (Telefone): telefone vazio")
        page.evaluate("window.__before_reload = 1")
        # The page reloads itself when the import ends: the counts show the new contacts.
        expect(page.get_by_test_id("count-pending")).to_have_text("2", timeout=10_000)
        # ...and the per-row errors are still there after it (they vanished with the reload).
        page.wait_for_function("!window.__before_reload", timeout=10_000)
        expect(status).to_contain_text("linha 3 (Telefone): telefone vazio", timeout=10_000)
        expect(status).to_contain_text("2 novos")

        page.get_by_test_id("action-start").click()
        expect(page.get_by_test_id("campaign-status")).to_have_text("Ativa")
    finally:
        page.close()
