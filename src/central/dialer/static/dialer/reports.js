/* Dialer reports: charts from the figures the page embeds (json_script "report-chart").
   Chart.js is the project's one chart library (static/vendor/chartjs, no CDN). Every
   number on an axis or a tooltip is pt-BR (Intl.NumberFormat), like the server's tables. */
(function () {
  var el = document.getElementById("report-chart");
  if (!el || !window.Chart) return;
  var d = JSON.parse(el.textContent), t = d.text;
  var int = new Intl.NumberFormat("pt-BR", { maximumFractionDigits: 0 });
  var dec = new Intl.NumberFormat("pt-BR", { maximumFractionDigits: 1 });
  document.querySelectorAll(".swatch[data-color]").forEach(function (s) { s.style.background = s.dataset.color; });
  Chart.defaults.locale = "pt-BR";
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  function axis(title, fmt, extra) {
    return Object.assign({ beginAtZero: true, title: { display: true, text: title },
                           ticks: { callback: function (v) { return fmt.format(v); } } }, extra || {});
  }
  var xAxis = { title: { display: true, text: d.grain === "hour" ? t.hour : t.day }, ticks: { autoSkip: true, maxRotation: 0 } };
  function tip(fmt, unit) {
    return { callbacks: { label: function (c) {
      return c.dataset.label + ": " + (c.parsed.y == null && c.parsed.x == null ? "—" :
        fmt.format(c.chart.options.indexAxis === "y" ? c.parsed.x : c.parsed.y)) + (unit || "");
    } } };
  }
  function make(id, config) { var c = document.getElementById(id); if (c) new Chart(c, config); }

  make("chart-results", {
    type: "bar",
    data: { labels: d.labels, datasets: d.results.map(function (r) {
      return { label: r.label, data: r.data, backgroundColor: r.color, stack: "r" }; }) },
    options: { scales: { x: Object.assign({ stacked: true }, xAxis), y: axis(t.attempts, int, { stacked: true }) },
               plugins: { tooltip: tip(int) }, interaction: { mode: "index", intersect: false } },
  });

  var rateSets = [
    { label: t.answer_rate, data: d.answer_rate, borderColor: "#10b981", backgroundColor: "#10b981", spanGaps: true },
    { label: t.abandon_rate, data: d.abandon_rate, borderColor: "#f97316", backgroundColor: "#f97316", spanGaps: true },
  ];
  if (d.cap != null) {
    rateSets.push({ label: t.cap, data: d.labels.map(function () { return d.cap; }), borderColor: "#b42318",
                    borderDash: [6, 4], pointRadius: 0, backgroundColor: "#b42318" });
  }
  make("chart-rates", {
    type: "line", data: { labels: d.labels, datasets: rateSets },
    options: { scales: { x: xAxis, y: axis(t.percent, dec, { suggestedMax: 100 }) },
               plugins: { tooltip: tip(dec, "%") }, interaction: { mode: "index", intersect: false } },
  });

  make("chart-aht", {
    type: "bar",
    data: { labels: d.labels, datasets: [{ label: t.aht, data: d.aht, backgroundColor: "#2563eb" }] },
    options: { scales: { x: xAxis, y: axis(t.seconds, int) }, plugins: { tooltip: tip(dec, " s") } },
  });

  if (d.compare) {
    var n = Math.max(d.compare.current.length, d.compare.previous.length), labels = [];
    var word = d.grain === "hour" ? t.period_hour : t.period_day;
    for (var i = 0; i < n; i++) labels.push(String(i + 1));
    make("chart-compare", {
      type: "line",
      data: { labels: labels, datasets: [
        { label: t.current, data: d.compare.current, borderColor: "#0b6e4f", backgroundColor: "#0b6e4f" },
        { label: t.previous, data: d.compare.previous, borderColor: "#9ca3af", backgroundColor: "#9ca3af", borderDash: [5, 4] },
      ] },
      options: {
        scales: { x: { title: { display: true, text: word.replace("%(n)s", "N") } }, y: axis(t.attempts, int) },
        interaction: { mode: "index", intersect: false },
        plugins: { tooltip: { callbacks: {
          title: function (items) {
            var i = items[0].dataIndex;
            return word.replace("%(n)s", i + 1) + " (" + (d.compare.current_labels[i] || "—") + " × " +
                   (d.compare.previous_labels[i] || "—") + ")";
          },
          label: function (c) { return c.dataset.label + ": " + int.format(c.parsed.y); },
        } } },
      },
    });
  }

  make("chart-agents", {
    type: "bar",
    data: { labels: d.agents.map(function (a) { return a.name; }), datasets: [
      { label: t.talk_min, data: d.agents.map(function (a) { return a.talk_min; }), backgroundColor: "#2563eb", xAxisID: "x" },
      { label: t.occupancy, data: d.agents.map(function (a) { return a.occupancy; }), backgroundColor: "#10b981", xAxisID: "x2" },
    ] },
    options: {
      indexAxis: "y",
      scales: { x: axis(t.minutes, dec, { position: "bottom" }),
                x2: axis(t.occupancy, dec, { position: "top", max: 100, grid: { drawOnChartArea: false } }) },
      plugins: { tooltip: { callbacks: { label: function (c) {
        return c.dataset.label + ": " + (c.parsed.x == null ? "—" : dec.format(c.parsed.x)); } } } },
    },
  });
})();
