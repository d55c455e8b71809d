/* Live log console: its own WebSocket (/ws/logs/), filters sent to the server, pause keeps
   new lines aside (bounded), the table keeps the newest MAX_ROWS lines. */
(function () {
  var MAX_ROWS = 2000, MAX_HELD = 2000;
  var form = document.getElementById("log-filter");
  var body = document.getElementById("log-body");
  var info = document.getElementById("log-info");
  var pauseBtn = document.getElementById("log-pause");
  var paused = false, held = [], dropped = 0, ws = null, delay = 500;

  function filter() {
    var data = {type: "filter"};
    new FormData(form).forEach(function (v, k) { data[k] = v; });
    return data;
  }
  function showInfo() {
    var parts = [];
    if (paused) parts.push(info.dataset.textPaused + " " + held.length);
    if (dropped) parts.push(info.dataset.textDropped + " " + dropped);
    info.textContent = parts.join(" · ");
  }
  function row(e) {
    var tr = document.createElement("tr");
    tr.className = "lvl-" + (e.level || "info");
    var where = (e.process || "") + "/" + (e.component || "") + (e.tenant ? " · " + e.tenant : "");
    var msg = e.msg || "";
    if (e.request_id) msg += "  [" + e.request_id + "]";
    [[(e.ts || "").replace("T", " ").slice(0, 23), "ts"], [e.level || "", "lvl"], [where, "src"], [msg, "msg"]]
      .forEach(function (v) { var td = document.createElement("td"); td.textContent = v[0]; td.className = v[1]; tr.appendChild(td); });
    var trace = e.exc || e.traceback;
    if (trace) { var pre = document.createElement("pre"); pre.textContent = trace; tr.lastChild.appendChild(pre); }
    return tr;
  }
  function render(lines) {
    var frag = document.createDocumentFragment();
    lines.forEach(function (e) { frag.insertBefore(row(e), frag.firstChild); });
    body.insertBefore(frag, body.firstChild);
    while (body.children.length > MAX_ROWS) body.removeChild(body.lastChild);
  }
  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    ws = new WebSocket(scheme + location.host + "/ws/logs/");
    ws.onopen = function () { delay = 500; ws.send(JSON.stringify(filter())); };
    ws.onmessage = function (ev) {
      var msg; try { msg = JSON.parse(ev.data); } catch (e) { return; }
      if (msg.type !== "logs") return;
      if (msg.backlog) body.innerHTML = "";
      dropped += msg.dropped || 0;
      if (paused) {
        held = held.concat(msg.lines);
        if (held.length > MAX_HELD) { dropped += held.length - MAX_HELD; held = held.slice(-MAX_HELD); }
      } else {
        render(msg.lines);
      }
      showInfo();
    };
    ws.onclose = function (ev) {
      if (ev.code === 4403 || ev.code === 4401) return;
      setTimeout(connect, delay); delay = Math.min(delay * 2, 15000);
    };
  }
  var timer = null;
  form.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () { if (ws && ws.readyState === 1) ws.send(JSON.stringify(filter())); }, 250);
  });
  form.addEventListener("submit", function (ev) { ev.preventDefault(); });
  pauseBtn.addEventListener("click", function () {
    paused = !paused;
    pauseBtn.textContent = paused ? pauseBtn.dataset.textResume : pauseBtn.dataset.textPause;
    pauseBtn.dataset.state = paused ? "paused" : "live";
    if (!paused) { render(held); held = []; }
    showInfo();
  });
  document.getElementById("log-clear").addEventListener("click", function () { body.innerHTML = ""; dropped = 0; showInfo(); });
  connect();
})();
