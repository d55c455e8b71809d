"""The reports page in a real browser: Chart.js (from our static files) draws every chart
with its axes titled and its ticks in pt-BR, and the range picker changes the buckets."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.dashboard.test_browser_login import login

CHARTS = ("chart-results", "chart-rates", "chart-aht", "chart-compare", "chart-agents")


def test_reports_page_draws_its_charts(browser, central_up):
    page = browser.new_page(locale="pt-BR")
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    try:
        login(page, central_up)
        page.get_by_role("link", name="Relatórios").click()
        expect(page.get_by_role("heading", name="Relatórios do discador")).to_be_visible()
        page.get_by_role("link", name="30 dias").click()
        page.get_by_label("Comparar com o período anterior").check()
        page.get_by_role("button", name="Ver").click()
        expect(page.get_by_test_id("chart-compare")).to_be_visible()
        charts = page.evaluate("""ids => ids.map(id => {
            const c = Chart.getChart(document.getElementById(id));
            return c && {type: c.config.type, labels: c.data.labels.length, sets: c.data.datasets.length,
                         y: c.options.scales.y && c.options.scales.y.title.text,
                         x: c.options.scales.x && c.options.scales.x.title.text,
                         legend: c.legend.legendItems.map(i => i.text),
                         drawn: c.canvas.width > 0 && c.chartArea.bottom > c.chartArea.top};
        })""", list(CHARTS))
        results, rates, aht, compare, agents = charts
        assert results["type"] == "bar" and results["labels"] == 30 and results["sets"] == 7
        assert results["y"] == "Tentativas" and results["x"] == "dia"
        assert "Atendida" in results["legend"] and "Abandonada" in results["legend"]
        assert rates["y"] == "%" and "Taxa de atendimento (%)" in rates["legend"]
        assert aht["y"] == "segundos" and compare["sets"] == 2 and compare["labels"] == 30
        assert agents["x"] == "minutos"
        assert all(c["drawn"] for c in charts)
        # ticks are pt-BR: the y axis of the rates chart counts to "100", decimals use a comma
        ticks = page.evaluate("Chart.getChart(document.getElementById('chart-rates')).scales.y.ticks.map(t => t.label)")
        assert "100" in ticks
        assert page.evaluate("new Intl.NumberFormat('pt-BR').format(1234.5)") == "1.234,5"
        assert not [u for u in requests if not u.startswith(central_up.url)]  # nothing from a CDN
    finally:
        page.close()
