/* Voice page (Portaria virtual): AI extensions and calls in progress, kept current by the
   dashboard's one WebSocket (Central.on("voice"), pushed by central.voice.live from the
   voice process, already cut to this organization). A test call (?test=<uuid>) is
   highlighted and its trail stays on the page after it ends. Every text is set with
   textContent (what a visitor said is untrusted). Times through Central.time (the
   organization's zone). */
(function () {
  "use strict";
  var box = document.getElementById("voice-calls");
  if (!box || !window.Central) return;
  var labels = JSON.parse(document.getElementById("voice-event-labels").textContent);
  var outcomes = JSON.parse(document.getElementById("voice-outcome-labels").textContent);
  var T = document.getElementById("voice-texts").dataset;
  var testCall = box.dataset.testCall || "";
  var seen = {};  // call_uuid -> element (a finished test call stays)

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }
  function eventText(ev) {
    var label = labels[ev.event] || ev.event, detail = ev.detail || "";
    if (ev.event === "outcome" || ev.event === "resident_answer") detail = outcomes[detail] || detail;
    // The flow's details are for the log ("302 bloco B for Ana", "denied by dtmf 2"):
    // the page keeps what a person reads (the unit; the decision).
    else if (ev.event === "calling_resident") detail = detail.split(" for ")[0];
    else if (ev.event === "resident_decided") detail = outcomes[detail.split(" ")[0]] || detail;
    return detail ? label + ": " + detail : label;
  }
  function trail(events) {
    var ol = el("ol", "trail");
    (events || []).forEach(function (ev) {
      var li = el("li");
      li.dataset.event = ev.event;
      if (ev.at) li.appendChild(el("time", "", Central.time(ev.at * 1000)));
      li.appendChild(document.createTextNode(" " + eventText(ev)));
      ol.appendChild(li);
    });
    return ol;
  }
  function drawCall(c, ramal) {
    var div = el("div", "vcall" + (c.call_uuid === testCall ? " test" : ""));
    div.dataset.callUuid = c.call_uuid;
    div.setAttribute("data-testid", c.call_uuid === testCall ? "test-call-live" : "voice-call");
    var head = el("p", "vcall-head");
    head.appendChild(el("b", "", ramal));
    head.appendChild(document.createTextNode(" · " + T.unit + ": " + (c.unit || "—") + " · " + T.visitor + ": " + (c.visitor || "—")));
    if (c.started_at) head.appendChild(el("time", "muted", " " + Central.time(c.started_at * 1000)));
    if (c.call_uuid === testCall) head.appendChild(el("span", "badge ringing", T.test));
    div.appendChild(head);
    div.appendChild(trail(c.events));
    return div;
  }
  function drawCalls(state) {
    var now = {};
    var nodes = [];
    (state.extensions || []).forEach(function (e) {
      (e.calls || []).forEach(function (c) { now[c.call_uuid] = true; nodes.push(seen[c.call_uuid] = drawCall(c, e.ramal)); });
    });
    // A test call that ended keeps its last trail, marked as ended (its visit is in the log).
    if (testCall && seen[testCall] && !now[testCall]) {
      seen[testCall].classList.add("ended");
      seen[testCall].setAttribute("data-testid", "test-call-ended");
      nodes.unshift(seen[testCall]);
    }
    box.replaceChildren.apply(box, nodes);
    document.getElementById("voice-calls-empty").hidden = nodes.length > 0;
  }
  function drawExtensions(state) {
    var total = 0;
    (state.extensions || []).forEach(function (e) {
      total += e.active_sessions || 0;
      var row = document.querySelector('tr[data-ramal="' + e.ramal + '"]');
      if (!row) return;
      row.querySelector('[data-field="sessions"]').textContent = e.active_sessions;
      row.querySelector('[data-field="total"]').textContent = e.sessions_total;
      row.querySelector('[data-field="state"]').replaceChildren(el("span", "badge ok", T.live));
    });
    var s = document.querySelector('[data-testid="voice-sessions"]');
    if (s) s.textContent = total;
    var lat = state.turn_latency_ms, l = document.querySelector('[data-testid="voice-latency"]');
    if (l && lat && lat.count) l.textContent = Math.round(lat.p50) + " / " + Math.round(lat.p95) + " ms";
  }
  // The visit log's trails, worded like the live ones.
  document.querySelectorAll("ol[data-audit] li").forEach(function (li) {
    li.textContent = eventText({event: li.dataset.event, detail: li.dataset.detail});
  });
  var initial = JSON.parse(document.getElementById("voice-state").textContent);
  drawCalls(initial);
  Central.on(T.event, function (msg) { drawExtensions(msg); drawCalls(msg); });
})();
