/* Agenda page: live updates. When the server publishes an agenda change
   ("scheduling.appointment", per organization) inside the shown range, or about an
   appointment on screen, the grid is fetched again (same URL, partial=1) and replaced:
   the server renders it, so the page never disagrees with the list it would show on reload. */
(function () {
  var box = document.getElementById("agenda");
  if (!box || !window.Central) return;
  var start = Date.parse(box.dataset.rangeStart), end = Date.parse(box.dataset.rangeEnd);
  var pending = null;
  function refresh() {
    pending = null;
    var url = new URL(location.href);
    url.searchParams.set("partial", "1");
    fetch(url.toString(), { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null) return;
        box.innerHTML = html;
        box.dataset.refreshed = String((Number(box.dataset.refreshed) || 0) + 1);
      });
  }
  Central.on("scheduling.appointment", function (msg) {
    var at = Date.parse(msg.start);
    var shown = box.querySelector('[data-appointment="' + msg.id + '"]');
    if (!shown && !(at >= start && at < end)) return;
    if (!pending) pending = setTimeout(refresh, 150);  // a burst of changes, one fetch
  });
})();
