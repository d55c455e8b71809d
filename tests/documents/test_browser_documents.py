"""In Chromium against a real ``central web``: click *Solicitar PDF*, watch the progress move
live as a site agent uploads, download the file and check its SHA-256; the monitor page
shows the agent and the transfer. The agent is the protocol-only client (agentclient.py),
so the test decides when each chunk goes and can watch the page in between.

``CENTRAL_SCREENSHOTS=<dir>`` also saves the pages at 1366 and 390 px there.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from playwright.sync_api import expect

from central_agent import protocol as P
from tests.documents.test_agent_web import SETUP, api, new_agent, pdf_bytes
from tests.support import free_port, migrated_env, run_central, start_central


def test_request_watch_progress_and_download(browser, tmp_path):
    env = migrated_env(tmp_path / "data", CENTRAL_RATE_AUTH="1000/min")
    assert run_central(["manage", "shell", "-c", SETUP], env).returncode == 0
    port = free_port()
    web = start_central(["web", "--port", str(port)], env, port, tmp_path / "web.log")
    agent = None
    page = browser.new_page(locale="pt-BR", viewport={"width": 1366, "height": 900})
    try:
        agent = new_agent(web, "ana", "Matriz")
        agent.connect()
        data = pdf_bytes(600_000, "relatorio-browser")
        agent.send_batch([agent.add("Relatório Março.pdf", data, title="Relatório de março", pages=12),
                          agent.add("contrato.pdf", pdf_bytes(2000, "c"), title="Contrato", pages=2)], reset=True)
        doc = api(web, "ana").get("documents/", params={"search": "Relatório"}).json()["results"][0]["id"]

        page.goto(web.url + "/login/")
        page.fill("input[name=username]", "ana")
        page.fill("input[name=password]", "senha-forte-123")
        page.click("button[type=submit]")
        page.goto(web.url + "/documents/?q=Relat%C3%B3rio")
        expect(page.get_by_test_id("ws-state")).to_have_attribute("data-state", "open", timeout=10_000)
        row = page.get_by_test_id(f"doc-{doc}")
        status = row.get_by_test_id("doc-status")
        expect(status).to_have_text("somente no local")
        page.evaluate("window.__marker = 1")  # proves no reload happens below

        row.get_by_test_id("doc-request").click()
        order = agent.expect(P.UploadRequest)
        expect(status).to_have_text("solicitado")
        agent.upload(order, chunk_size=150_000, stop_at=300_000)
        expect(status).to_have_text("enviando 50 %")
        expect(row.locator("progress")).to_have_attribute("value", "50")
        agent.upload(order, chunk_size=150_000)
        expect(status).to_contain_text("disponível até")
        assert page.evaluate("window.__marker") == 1

        with page.expect_download() as info:
            row.get_by_test_id("doc-download").click()
        saved = tmp_path / "baixado.pdf"
        info.value.save_as(saved)
        assert hashlib.sha256(saved.read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest()
        assert info.value.suggested_filename == "Relatório Março.pdf"

        page.goto(web.url + "/documents/monitor/")
        expect(page.get_by_test_id("agents")).to_contain_text("Matriz")
        expect(page.get_by_test_id("agent-state").first).to_have_text("Conectado")
        expect(page.locator("[data-sum=transfers_today]")).to_have_text("1")
        expect(page.locator("#chart-transfers canvas")).to_have_count(1)
        agent.close()  # the monitor follows live
        expect(page.get_by_test_id("agent-state").first).to_have_text("Desconectado", timeout=10_000)

        shots = os.environ.get("CENTRAL_SCREENSHOTS")
        if shots:
            for width in (1366, 390):
                page.set_viewport_size({"width": width, "height": 900})
                for name, path in (("documents", "/documents/"), ("monitor", "/documents/monitor/")):
                    page.goto(web.url + path)
                    page.screenshot(path=str(Path(shots) / f"{name}-{width}.png"), full_page=True)
    finally:
        page.close()
        if agent is not None:
            agent.close()
        web.stop()
