/* Agenda reports: three bar charts from the figures the page embeds (json_script). */
(function () {
  var el = document.getElementById("report-data");
  if (!el || !window.Chart) return;
  var data = JSON.parse(el.textContent);
  function bars(id, set, color, max) {
    var canvas = document.getElementById(id);
    if (!canvas) return;
    new Chart(canvas, {
      type: "bar",
      data: { labels: set.labels, datasets: [{ data: set.values, backgroundColor: color }] },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        plugins: { legend: { display: false } },
        scales: { y: { beginAtZero: true, max: max, ticks: { precision: 0 } } },
      },
    });
  }
  bars("chart-channels", data.channels, "#2563eb");
  bars("chart-cancellations", data.cancellations, "#ef4444");
  bars("chart-occupancy", data.occupancy, "#10b981", 100);
})();
