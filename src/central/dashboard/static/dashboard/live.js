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
    // A page may ask for more (or less) than its tenant's events:
    // <body data-ws-query="topics=ops"> (home), "topics=ops&raw=0" (wallboard).
    var query = document.body.getAttribute("data-ws-query");
    var ws = new WebSocket(scheme + location.host + "/ws/live/" + (query ? "?" + query : ""));
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
  // Times: every page shows them in the organization's zone (<html data-tz>, set by
  // dashboard/base.html), never the browser's. The style names mirror the server's
  // {{ value|when:"style" }} filter (dashboard/templatetags/central_time.py).
  var tz = document.documentElement.dataset.tz || undefined;
  var styles = {
    datetime: {day: "2-digit", month: "2-digit", year: "numeric", hour: "2-digit", minute: "2-digit"},
    short: {day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit"},
    seconds: {day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit"},
    date: {day: "2-digit", month: "2-digit", year: "numeric"},
    time: {hour: "2-digit", minute: "2-digit"},
    clock: {hour: "2-digit", minute: "2-digit", second: "2-digit"},
  };
  var formats = {};
  function formatTime(value, style) {
    if (value === null || value === undefined || value === "") return "";
    var d = value instanceof Date ? value : new Date(value);
    if (isNaN(d.getTime())) return "";
    style = styles[style] ? style : "datetime";
    if (!formats[style]) {
      var opts = Object.assign({hourCycle: "h23"}, styles[style]);
      try { formats[style] = new Intl.DateTimeFormat("pt-BR", Object.assign({timeZone: tz}, opts)); }
      catch (e) { formats[style] = new Intl.DateTimeFormat("pt-BR", opts); }  // unknown zone name
    }
    return formats[style].format(d).replace(",", "");
  }
  window.Central = {
    on: function (type, fn) { (handlers[type] = handlers[type] || []).push(fn); },
    fill: fill,
    tz: tz,
    formatTime: formatTime,
    time: function (v) { return formatTime(v, "clock"); },
    dateTime: function (v) { return formatTime(v, "datetime"); },
  };
  if (document.querySelector("header .right") || document.body.hasAttribute("data-ws-query")) connect();

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
