/* System monitor: summary cards, agents table and two charts (Chart.js, the project's one
   charting library, vendored in dashboard/static/vendor/chartjs). Everything follows the
   organization's WebSocket group: a documents.agent or documents.transfer message makes the
   page fetch monitor/data/ again, whose answer carries the figures, the per-day series (days
   in the tenant's time zone, labelled by Central) and the agents table rendered by the same
   template as the page, so a newly enrolled agent appears without a reload. */
(function () {
  var labels = document.getElementById("monitor-labels");
  var lang = document.documentElement.lang || "pt-BR";
  var locale = lang.toLowerCase().indexOf("pt") === 0 ? "pt-BR" : lang;
  var integer = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 });
  var charts = {};

  function fmtBytes(n) {
    var u = ["B", "KB", "MB", "GB", "TB"], i = 0;
    n = n || 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return new Intl.NumberFormat(locale, { maximumFractionDigits: i ? 1 : 0 }).format(n) + " " + u[i];
  }
  function fmtNumber(v) {
    return typeof v === "number" ? new Intl.NumberFormat(locale).format(v) : v;
  }

  var xTitle = labels.dataset.day;
  var megabytes = new Intl.NumberFormat(locale, { maximumFractionDigits: 1 });
  function mb(v) { return megabytes.format(v) + " MB"; }
  function options(yTitle, yTick, tooltipValue, precision) {
    return {
      responsive: true, maintainAspectRatio: false, animation: false, locale: locale,
      interaction: { mode: "index", intersect: false },
      plugins: {
        legend: { display: true, position: "bottom" },
        tooltip: { callbacks: { label: function (ctx) { return ctx.dataset.label + ": " + tooltipValue(ctx.parsed.y); } } },
      },
      scales: {
        x: { title: { display: true, text: xTitle } },
        y: { beginAtZero: true, title: { display: true, text: yTitle }, ticks: { callback: yTick, precision: precision } },
      },
    };
  }
  function draw(id, config) {
    var canvas = document.getElementById(id);
    if (!canvas || !window.Chart) return;
    if (charts[id]) {
      charts[id].options.scales.x.title.text = xTitle;
      charts[id].data.labels = config.data.labels;
      config.data.datasets.forEach(function (set, i) { charts[id].data.datasets[i].data = set.data; });
      charts[id].update("none");
      return;
    }
    charts[id] = new window.Chart(canvas, config);
  }
  function renderCharts(series) {
    xTitle = labels.dataset.day + " (" + series.zone + ")";
    draw("chart-transfers", {
      type: "bar",
      data: { labels: series.labels, datasets: [
        { label: labels.dataset.completed, data: series.completed, backgroundColor: "#10b981" },
        { label: labels.dataset.failed, data: series.failed, backgroundColor: "#ef4444" },
      ] },
      options: options(labels.dataset.transfersUnit, function (v) { return integer.format(v); },
                       function (v) { return integer.format(v); }, 0),
    });
    draw("chart-cache", {
      type: "line",
      data: { labels: series.labels, datasets: [
        { label: labels.dataset.cache, data: series.cache_bytes.map(function (b) { return b / 1048576; }), borderColor: "#3b82f6",
          backgroundColor: "rgba(59,130,246,.15)", fill: true, pointRadius: 2 },
      ] },
      options: options("MB", function (v) { return megabytes.format(v); }, mb),
    });
  }

  function render(d) {
    var s = d.summary;
    document.querySelectorAll("[data-sum]").forEach(function (el) {
      var v = s[el.dataset.sum]; el.textContent = v === null || v === undefined ? "-" : fmtNumber(v);
    });
    document.querySelectorAll("[data-sum-bytes]").forEach(function (el) { el.textContent = fmtBytes(s[el.dataset.sumBytes]); });
    var alert = document.querySelector("[data-sum-alert]"); if (alert) alert.hidden = !s.agents_alert;
    renderCharts(d.series);
    // Rows rendered by Central (documents/_agent_rows.html, escaped there), so a new agent
    // shows up with the same cells the page load gives it.
    if (typeof d.agent_rows_html === "string") document.getElementById("agent-rows").innerHTML = d.agent_rows_html;
  }

  // One fetch at a time; a message arriving meanwhile asks for one more fetch afterwards,
  // so the page always ends on the state after the last message.
  var pending = false, again = false;
  function refresh() {
    if (pending) { again = true; return; }
    pending = true; again = false;
    fetch(labels.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(render).catch(function () {})
      .then(function () { pending = false; if (again) refresh(); });
  }
  render(JSON.parse(document.getElementById("monitor-data").textContent));
  if (window.Central) {
    window.Central.on("documents.agent", refresh);
    window.Central.on("documents.transfer", refresh);
  }
})();
