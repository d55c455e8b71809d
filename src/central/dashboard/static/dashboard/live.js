/* Central live updates: one WebSocket per page, reconnecting with backoff.
   Pages register handlers by message type; elements with data-live="key" are filled
   from messages that carry that key. */
(function () {
  var handlers = {};
  var stateEl = function () { return document.getElementById("ws-state"); };
  var delay = 500;
  function setState(ok) {
    // The words come translated from the page (data-text-open / data-text-closed).
    var el = stateEl(); if (!el) return;
    el.textContent = ok ? el.dataset.textOpen : el.dataset.textClosed; el.className = "ws " + (ok ? "on" : "off");
    el.dataset.state = ok ? "open" : "closed";
  }
  function fill(msg) {
    document.querySelectorAll("[data-live]").forEach(function (el) {
      var key = el.dataset.live;
      if (Object.prototype.hasOwnProperty.call(msg, key)) el.textContent = msg[key];
    });
  }
  function connect() {
    if (!document.body.contains(stateEl())) return;
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(scheme + location.host + "/ws/live/");
    ws.onopen = function () { delay = 500; setState(true); };
    ws.onmessage = function (ev) {
      var msg; try { msg = JSON.parse(ev.data); } catch (e) { return; }
      (handlers[msg.type] || []).forEach(function (fn) { fn(msg); });
    };
    ws.onclose = function () {
      setState(false);
      setTimeout(connect, delay); delay = Math.min(delay * 2, 15000);
    };
  }
  window.Central = {
    on: function (type, fn) { (handlers[type] = handlers[type] || []).push(fn); },
    fill: fill,
  };
  if (document.querySelector("header .right")) connect();

  // Behaviour that used to be inline onchange=/onsubmit= attributes (the CSP forbids them).
  document.addEventListener("change", function (ev) {
    var el = ev.target;
    if (el.matches && el.matches("select[data-autosubmit]") && el.form) el.form.submit();
  });
  document.addEventListener("submit", function (ev) {
    var form = ev.target, text = form.dataset && form.dataset.confirm;
    if (text && !window.confirm(text)) ev.preventDefault();
  });
})();
