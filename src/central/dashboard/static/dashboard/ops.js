/* The operations overview (home and wallboard): draws the "ops" JSON the server renders
   into #ops-data and then pushes over the WebSocket (type "ops"), and runs the waiting /
   pause clocks between pushes. A wall screen keeps this page open all day, so nothing here
   grows: every list is redrawn in place from a bounded message (the server sends at most
   a dozen rows per list), one timer ticks the clocks, nothing is accumulated. */
(function () {
  var dataEl = document.getElementById("ops-data");
  if (!dataEl) return;
  var T = {};
  try { T = JSON.parse(document.getElementById("ops-texts").textContent) || {}; } catch (e) {}
  var lang = document.documentElement.lang || "pt-BR";
  var intFmt = new Intl.NumberFormat(lang, {maximumFractionDigits: 0});
  var decFmt = new Intl.NumberFormat(lang, {minimumFractionDigits: 2, maximumFractionDigits: 2});
  var pctFmt = new Intl.NumberFormat(lang, {style: "percent", maximumFractionDigits: 1});
  var skew = 0; // server clock - browser clock, seconds (clocks run on the server's time)

  function get(obj, path) {
    return path.split(".").reduce(function (o, k) { return o == null ? undefined : o[k]; }, obj);
  }
  function num(v) { return typeof v === "number" ? intFmt.format(v) : (v == null ? "–" : String(v)); }
  function pct(v) { return v == null ? "–" : pctFmt.format(v); }
  function pad(n) { return n < 10 ? "0" + n : String(n); }
  function duration(s) {
    if (s == null || isNaN(s)) return "–";
    s = Math.max(0, Math.floor(s));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    return (h ? h + ":" + pad(m) : String(m)) + ":" + pad(sec);
  }
  function fmt(template, params) {
    return String(template || "").replace(/\{(\w+)\}/g, function (_, k) {
      return params[k] == null ? "" : params[k];
    });
  }
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text != null) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }
  function clock(since) {
    var b = el("b", "–", "clock");
    if (since != null) b.dataset.since = since;
    return b;
  }
  function rows(tbody, items, empty, cols, more, draw) {
    if (!tbody) return;
    var out = [];
    (items || []).forEach(function (item) { out.push(draw(item)); });
    if (!out.length) {
      var tr = el("tr"), td = el("td", empty, "muted"); td.colSpan = cols; tr.appendChild(td); out.push(tr);
    }
    if (more) {
      var extra = el("tr"), cell = el("td", fmt(T.more, {n: intFmt.format(more)}), "muted");
      cell.colSpan = cols; extra.appendChild(cell); out.push(extra);
    }
    tbody.replaceChildren.apply(tbody, out);
  }
  function cells(tr, values) {
    values.forEach(function (v) {
      var td = el("td");
      if (v && v.nodeType) td.appendChild(v); else td.textContent = v == null ? "–" : v;
      tr.appendChild(td);
    });
    return tr;
  }
  function levelCell(rate, level, testid) {
    var s = el("span", pct(rate), "level level-" + (level || "ok"));
    if (testid) s.dataset.testid = testid;
    return s;
  }
  function reasonText(c) {
    if (c.alarm) return (T.reasons || {}).refused || c.alarm;
    return (T.reasons || {})[c.reason] || T.dialing || c.reason;
  }
  function alarmText(a) {
    var p = Object.assign({}, a.params);
    if (a.code === "abandon_over_cap") { p.rate = pct(p.rate); p.cap = pct(p.cap); }
    if (a.code === "campaign_stopped") p.reason = (T.reasons || {})[p.reason] || p.reason;
    if (a.code === "queue_wait") { p.waiting = intFmt.format(p.waiting); p.max = duration(p.max_wait_s); }
    return fmt((T.alarms || {})[a.code] || a.code, p);
  }

  function render(d) {
    if (!d) return;
    if (typeof d.now === "number") skew = d.now - Date.now() / 1000;
    document.querySelectorAll("[data-ops]").forEach(function (e) {
      var v = get(d, e.dataset.ops); if (v !== undefined) e.textContent = num(v);
    });
    document.querySelectorAll("[data-ops-duration]").forEach(function (e) {
      e.textContent = duration(get(d, e.dataset.opsDuration));
    });
    document.querySelectorAll("[data-ops-clock]").forEach(function (e) {
      var since = get(d, e.dataset.opsClock);
      if (since == null) { delete e.dataset.since; e.textContent = "–"; } else e.dataset.since = since;
    });
    var alarms = document.getElementById("ops-alarms");
    if (alarms) {
      var items = (d.alarms || []).map(function (a) {
        var li = el("li", null, "alarm " + a.severity);
        li.dataset.code = a.code; li.dataset.testid = "alarm-" + a.code;
        li.appendChild(el("span", alarmText(a)));
        if (a.code === "queue_wait") { li.appendChild(document.createTextNode(" ")); li.appendChild(clock(a.params.since)); }
        return li;
      });
      if (!items.length) items.push(el("li", T.no_alarms, "muted"));
      if (d.alarms_more) items.push(el("li", fmt(T.more, {n: intFmt.format(d.alarms_more)}), "muted"));
      alarms.replaceChildren.apply(alarms, items);
      var box = alarms.closest(".ops-alarms");
      if (box) box.classList.toggle("active", !!(d.alarms || []).length);
    }
    rows(document.querySelector("#ops-campaigns tbody"), d.campaigns, T.no_campaigns, 6, d.campaigns_more, function (c) {
      var tr = el("tr"); tr.dataset.campaign = c.id;
      var a = el("a", c.name); a.href = "/dialer/campaigns/" + c.id + "/";
      var status = el("span", reasonText(c), "badge " + (c.stopped ? "warn" : "ok"));
      cells(tr, [a, decFmt.format(c.dial_level || 0), levelCell(c.abandon_1h, c.level_1h, "abandon-1h"),
                 levelCell(c.abandon_today, c.level_today), pct(c.cap), status]);
      tr.children[3].className = "wide";
      return tr;
    });
    rows(document.querySelector("#ops-queues tbody"), d.queues, T.no_queues, 7, d.queues_more, function (q) {
      var tr = el("tr"); tr.dataset.queue = q.queue;
      var sl = el("span", pct(q.service_level), "level");
      cells(tr, [q.queue, intFmt.format(q.waiting), q.waiting ? clock(q.oldest_since) : "–", sl,
                 intFmt.format(q.abandoned_today), intFmt.format(q.answered_today),
                 intFmt.format(q.agents.free) + " / " + intFmt.format(q.agents.logged)]);
      tr.children[4].className = "wide"; tr.children[5].className = "wide";
      return tr;
    });
    rows(document.querySelector("#ops-paused tbody"), d.paused, T.no_paused, 3, 0, function (p) {
      return cells(el("tr"), [p.name, p.reason || "–", clock(p.since)]);
    });
    tick();
  }
  function tick() {
    var now = Date.now() / 1000 + skew;
    document.querySelectorAll("[data-since]").forEach(function (e) {
      e.textContent = duration(now - Number(e.dataset.since));
    });
  }

  try { render(JSON.parse(dataEl.textContent)); } catch (e) {}
  if (window.Central) Central.on("ops", render);
  setInterval(tick, 1000);

  var fs = document.getElementById("wb-fullscreen");
  if (fs) {
    if (!document.fullscreenEnabled) fs.hidden = true;
    fs.addEventListener("click", function () {
      if (document.fullscreenElement) document.exitFullscreen();
      else document.documentElement.requestFullscreen().catch(function () {});
    });
  }
})();
