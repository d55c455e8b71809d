/* System page: the supervised components' states follow the status push (every 2 s), so a
   crashed component shows "restarting" and then "running" without a reload. */
(function () {
  Central.on("status", function (msg) {
    Central.fill(msg);  // server time, uptime, requests served
    (msg.processes || []).forEach(function (p) {
      var supervised = (p.info && p.info.supervised) || {};
      Object.keys(supervised).forEach(function (name) {
        var el = document.querySelector('[data-testid="component-' + name + '"]');
        if (!el || el.dataset.pid && el.dataset.pid !== String(p.pid)) return;
        var state = supervised[name].state;
        el.textContent = state;
        el.className = "badge state-" + state;
        var err = el.closest("tr").querySelector(".err");
        if (err) err.textContent = supervised[name].last_error || "";
        var restarts = el.closest("tr").querySelector(".restarts");
        if (restarts) restarts.textContent = supervised[name].restarts;
      });
    });
  });
})();
