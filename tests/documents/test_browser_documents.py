"""In Chromium against a real ``central web`` with the real site agent process
(``central-agent enroll`` + ``central-agent run``): click *Solicitar PDF*, watch the progress
move live while the agent uploads, download the file and check its SHA-256. The monitor is
open before the agent enrolls: the new agent's row appears without a reload, its charts
(Chart.js) carry the day's completed transfer, and both the monitor and the agent's page
follow the agent live when it stops (state badge, the "desconectou" event).

The file is a 20 MB PDF (made with pypdf) so the agent's upload carries two chunks
(``CHUNK_SIZE`` 16 MiB) and Central commits the first before the second: the page must show
*enviando n %* in between. A MutationObserver
records every text the status badge takes, so the check does not depend on how fast
loopback is.

``CENTRAL_SCREENSHOTS=<dir>`` also saves the pages at 1366 and 390 px there.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

from playwright.sync_api import expect

from tests.agent.pdfs import write_pdf
from tests.documents.test_agent_web import api, wait_for

AGENT = str(Path(sys.executable).parent / "central-agent")


def test_request_watch_progress_and_download_with_the_real_agent(browser, web, tmp_path):
    ana = api(web, "ana")
    code = ana.post("enrollment-codes/", json={"agent_name": "Escritório"}).json()["code"]
    docs = tmp_path / "docs"
    pdf = write_pdf(docs / "Relatório Março.pdf", title="Relatório de março", pages=3, padding=20_000_000)
    write_pdf(docs / "contrato.pdf", title="Contrato")
    home = tmp_path / "agent-home"
    env = {**os.environ, "CENTRAL_AGENT_HOME": str(home)}
    context = browser.new_context(locale="pt-BR", viewport={"width": 1366, "height": 900})
    page = context.new_page()
    log = open(tmp_path / "agent.log", "w")  # noqa: SIM115 - closed below
    agent = None
    try:
        page.goto(web.url + "/login/")
        page.fill("input[name=username]", "ana")
        page.fill("input[name=password]", "senha-forte-123")
        page.click("button[type=submit]")
        monitor = context.new_page()  # the same session
        monitor.goto(web.url + "/documents/monitor/")
        expect(monitor.get_by_test_id("ws-state")).to_have_attribute("data-state", "open", timeout=10_000)
        enrolled = subprocess.run([AGENT, "enroll", web.url, "--code", code, "--folder", f"docs={docs}"],
                                  env=env, capture_output=True, text=True, timeout=60)
        assert enrolled.returncode == 0, enrolled.stderr
        # No reload: the enrollment's documents.agent message brings the row.
        monitor_row = monitor.locator("#agent-rows tr", has_text="Escritório")
        expect(monitor_row).to_have_count(1, timeout=15_000)
        agent = subprocess.Popen([AGENT, "run"], env=env, stdout=log, stderr=subprocess.STDOUT)
        expect(monitor_row.get_by_test_id("agent-state")).to_have_text("Conectado", timeout=30_000)

        doc = wait_for(lambda: next((r["id"] for r in ana.get("documents/", params={"search": "Relatório Março"})
                                     .json()["results"] if r["agent_name"] == "Escritório"), None), timeout=60)
        agent_id = ana.get(f"documents/{doc}/").json()["agent"]
        page.goto(web.url + f"/documents/?agent={agent_id}")
        expect(page.get_by_test_id("ws-state")).to_have_attribute("data-state", "open", timeout=10_000)
        row = page.get_by_test_id(f"doc-{doc}")
        status = row.get_by_test_id("doc-status")
        expect(status).to_have_text("somente no local")
        page.evaluate("""el => { window.__seen = [];
            new MutationObserver(() => window.__seen.push(el.textContent))
              .observe(el, {childList: true, characterData: true, subtree: true}); }""",
                      status.element_handle())

        row.get_by_test_id("doc-request").click()
        expect(status).to_contain_text("disponível até", timeout=60_000)
        seen = page.evaluate("window.__seen")
        assert "solicitado" in seen
        progress = [int(m.group(1)) for text in seen if (m := re.fullmatch(r"enviando (\d+) %", text))]
        assert progress and all(0 < p < 100 for p in progress) and progress == sorted(progress), seen

        with page.expect_download() as info:
            row.get_by_test_id("doc-download").click()
        saved = tmp_path / "baixado.pdf"
        info.value.save_as(saved)
        assert hashlib.sha256(saved.read_bytes()).hexdigest() == hashlib.sha256(pdf.read_bytes()).hexdigest()
        assert info.value.suggested_filename == "Relatório Março.pdf"

        # The monitor's transfers chart (Chart.js) now counts today's completed transfer.
        expect(monitor.get_by_test_id("chart-transfers")).to_be_visible()
        monitor.wait_for_function("Chart.getChart('chart-transfers').data.datasets[0].data.at(-1) >= 1",
                                  timeout=15_000)
        legends = monitor.evaluate("[Chart.getChart('chart-transfers'), Chart.getChart('chart-cache')]"
                                   ".map(c => c.data.datasets.map(d => d.label))")
        assert legends == [["concluídas", "falhas"], ["cache"]], legends
        page.goto(web.url + f"/documents/agents/{agent_id}/")
        expect(page.get_by_test_id("ws-state")).to_have_attribute("data-state", "open", timeout=10_000)
        expect(page.get_by_test_id("agent-state")).to_have_text("Conectado")
        expect(page.get_by_test_id("agent-transfers")).to_contain_text("Relatório Março.pdf")
        expect(page.get_by_test_id("agent-events")).not_to_contain_text("desconectou")
        agent.terminate()  # both pages follow live, without a reload
        agent.wait(20)
        expect(monitor_row.get_by_test_id("agent-state")).to_have_text("Desconectado", timeout=15_000)
        expect(page.get_by_test_id("agent-state")).to_have_text("Desconectado", timeout=15_000)
        expect(page.get_by_test_id("agent-events")).to_contain_text("desconectou")

        shots = os.environ.get("CENTRAL_SCREENSHOTS")
        if shots:
            for width in (1366, 390):
                page.set_viewport_size({"width": width, "height": 900})
                for name, path in (("documents", "/documents/"), ("monitor", "/documents/monitor/"),
                                   ("agent", f"/documents/agents/{agent_id}/")):
                    page.goto(web.url + path)
                    page.screenshot(path=str(Path(shots) / f"{name}-{width}.png"), full_page=True)
    finally:
        context.close()
        if agent is not None and agent.poll() is None:
            agent.kill()
            agent.wait(10)
        log.close()
