/* System monitor: summary cards, agents table and charts (uPlot, vendored in
   dashboard/static/vendor/uplot); refreshed from monitor/data/ whenever the page's
   WebSocket reports an agent or transfer change of this organization. */
(function () {
  var labels = document.getElementById("monitor-labels");
  var charts = {};
  function fmtBytes(n) {
    var u = ["B", "KB", "MB", "GB", "TB"], i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : n) + " " + u[i];
  }
  function chart(id, series, data) {
    var el = document.getElementById(id);
    if (!el || !window.uPlot) return;
    var width = Math.max(240, el.clientWidth || 300);
    if (charts[id]) { charts[id].setData(data); charts[id].setSize({ width: width, height: 180 }); return; }
    var xs = data[0];
    charts[id] = new window.uPlot({
      width: width, height: 180, series: [{ label: labels.dataset.day }].concat(series), legend: { show: true },
      scales: { x: { time: false } },
      axes: [{ values: function (u, vals) { return vals.map(function (v) { return xs.names[v] || ""; }); } }, {}],
    }, data, el);
  }
  function render(d) {
    var s = d.summary;
    document.querySelectorAll("[data-sum]").forEach(function (el) {
      var v = s[el.dataset.sum]; el.textContent = v === null || v === undefined ? "-" : v;
    });
    document.querySelectorAll("[data-sum-bytes]").forEach(function (el) { el.textContent = fmtBytes(s[el.dataset.sumBytes]); });
    var alert = document.querySelector("[data-sum-alert]"); if (alert) alert.hidden = !s.agents_alert;
    var xs = d.series.labels.map(function (_, i) { return i; }); xs.names = d.series.labels;
    chart("chart-transfers", [{ label: labels.dataset.completed, stroke: "#10b981", width: 2 },
                              { label: labels.dataset.failed, stroke: "#ef4444", width: 2 }],
          [xs, d.series.completed, d.series.failed]);
    chart("chart-cache", [{ label: labels.dataset.cache, stroke: "#3b82f6", width: 2, fill: "rgba(59,130,246,.1)" }],
          [xs, d.series.cache_bytes.map(function (b) { return Math.round(b / 1048576 * 100) / 100; })]);
    var body = document.getElementById("agent-rows");
    d.agents.forEach(function (a) {
      var tr = body.querySelector('tr[data-agent="' + a.id + '"]');
      if (!tr) return;  // a new agent: the next page load lists it
      var badge = tr.querySelector('[data-testid="agent-state"]');
      badge.textContent = a.state === "online" ? labels.dataset.online : labels.dataset.offline;
      badge.className = "badge " + (a.state === "online" ? "ok" : "paused");
      var alertBadge = tr.querySelector("[data-agent-alert]");
      if (alertBadge) alertBadge.hidden = !a.alert;
    });
  }
  var pending = false;
  function refresh() {
    if (pending) return; pending = true;
    fetch(labels.dataset.url, { credentials: "same-origin" }).then(function (r) { return r.json(); })
      .then(function (d) { pending = false; render(d); }).catch(function () { pending = false; });
  }
  render(JSON.parse(document.getElementById("monitor-data").textContent));
  if (window.Central) {
    window.Central.on("documents.agent", refresh);
    window.Central.on("documents.transfer", refresh);
  }
})();
