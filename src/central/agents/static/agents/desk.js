/* The agent's page (/agents/desk/): its own socket /ws/desk/ (screen pops, queue state,
   callbacks), actions posted as JSON, keyboard shortcuts, and a clear alarm while the
   socket is down (the screen may be stale). Every value from the server is put in the
   page as text (textContent), never as markup. */
(function () {
  var data = JSON.parse(document.getElementById("desk-data").textContent);
  var t = document.getElementById("desk-i18n").dataset;
  var csrf = document.getElementById("desk-csrf").value;
  var $ = function (id) { return document.getElementById(id); };
  var current = null;      // the card on screen
  var memberSince = null;  // Date the queue state last changed
  var wrapStarted = null;  // Date the call ended (wrap-up counting)
  var popT0 = null;

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function post(url, body) {
    return fetch(url, {method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrf}, body: JSON.stringify(body)})
      .then(function (r) { return r.json().catch(function () { return {}; }).then(function (j) { j._status = r.status; return j; }); });
  }
  function say(id, text, ok) { var e = $(id); if (!e) return; e.textContent = text || ""; e.className = ok ? "ok" : "error"; }

  // --- queue state ------------------------------------------------------------------
  var members = {};
  (data.members || []).forEach(function (m) { members[m.queue + "|" + m.interface] = m; });
  function renderState() {
    var st = $("desk-state"); if (!st) return;
    var out = data.logged_out_reason;  // a static member "logged out" is paused with this reason
    var list = Object.keys(members).map(function (k) { return members[k]; }).filter(function (m) {
      return !m.removed && !(out && m.availability === "paused" && m.paused_reason === out);
    });
    var state = "out", since = null;
    var order = ["in_call", "ringing", "paused", "free", "unavailable"];
    list.sort(function (a, b) { return order.indexOf(a.availability) - order.indexOf(b.availability); });
    if (list.length) { state = list[0].availability; since = list[0].last_change; }
    if (state === "free" && wrapStarted && current && !current.saved) state = "wrapup";
    var label = t[state] || state;
    if (state === "paused" && list[0].paused_reason) label += " · " + list[0].paused_reason;
    st.textContent = label; st.className = "badge " + state; st.dataset.state = state;
    memberSince = state === "wrapup" ? wrapStarted : (since ? new Date(since) : null);
  }
  function tick() {
    var e = $("desk-timer"); if (!e) return;
    if (!memberSince) { e.textContent = "00:00"; return; }
    var s = Math.max(0, Math.floor((Date.now() - memberSince.getTime()) / 1000));
    var h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, r = s % 60;
    e.textContent = (h ? h + ":" : "") + String(m).padStart(2, "0") + ":" + String(r).padStart(2, "0");
  }
  setInterval(tick, 1000);

  // --- selects ------------------------------------------------------------------------
  var campSel = document.querySelector("[data-testid=desk-campaign]");
  (data.campaigns || []).forEach(function (c) {
    var o = el("option", c.name); o.value = c.id; o.dataset.mode = c.pacing_mode; if (campSel) campSel.appendChild(o);
  });
  var reasonSel = document.querySelector("[data-testid=desk-pause-reason]");
  (data.pause_codes || []).forEach(function (p) { var o = el("option", p.label); o.value = p.code; if (reasonSel) reasonSel.appendChild(o); });
  var forSel = document.querySelector("[data-testid=desk-cb-for]");
  (data.people || []).forEach(function (p) {
    if (p.id === data.me || !forSel) return;
    var o = el("option", p.name); o.value = p.id; forSel.appendChild(o);
  });

  // --- the card -----------------------------------------------------------------------
  function renderCodes(list) {
    var box = $("desk-codes"); if (!box) return; clear(box);
    (list || data.default_dispositions || []).forEach(function (d, i) {
      var lab = el("label", null, "desk-code");
      var r = document.createElement("input"); r.type = "radio"; r.name = "code"; r.value = d.code;
      r.dataset.effect = d.effect; r.dataset.testid = "code-" + d.code; r.setAttribute("data-testid", "code-" + d.code);
      lab.appendChild(r);
      if (i < 9) lab.appendChild(el("kbd", String(i + 1)));
      lab.appendChild(document.createTextNode(" " + d.label));
      box.appendChild(lab);
    });
  }
  function listInto(id, items, fmt) {
    var ul = $(id); clear(ul);
    if (!items || !items.length) { ul.appendChild(el("li", t.none, "muted")); return; }
    items.forEach(function (it) { ul.appendChild(fmt(it)); });
  }
  function renderScript(segments) {
    var box = $("desk-script"); clear(box);
    (segments || []).forEach(function (s) {
      var kind = s[0], text = s[1];
      var node = kind === "field" ? el("mark", text, "script-field")
        : kind === "unknown" ? el("code", text, "script-unknown") : null;
      if (node && kind === "unknown") node.title = t.unknownField;
      if (!node) {
        text.split("\n").forEach(function (part, i) { if (i) box.appendChild(document.createElement("br")); box.appendChild(document.createTextNode(part)); });
      } else box.appendChild(node);
    });
  }
  function showCard(card) {
    if (!card) return;
    if (card.kind === "inbound") return showInbound(card);
    current = {card: card, attempt: card.attempt, contact: card.contact.id, saved: false};
    wrapStarted = null;
    $("desk-empty").hidden = true; $("desk-contact").hidden = false; $("desk-inbound").hidden = true;
    $("desk-name").textContent = card.contact.name || card.contact.phone;
    $("desk-phone").textContent = card.contact.phone;
    $("desk-campaign-name").textContent = card.campaign.name;
    $("desk-contact-status").textContent = card.contact.status_label;
    var dl = $("desk-fields"); clear(dl);
    Object.keys(card.contact.custom_fields || {}).forEach(function (k) {
      dl.appendChild(el("dt", k)); dl.appendChild(el("dd", card.contact.custom_fields[k]));
    });
    listInto("desk-history", card.history, function (h) {
      var li = el("li", Central.dateTime(h.at) + " · " + h.result_label + (h.agent ? " · " + h.agent : ""));
      if (h.recording) {  // the agent's own earlier call, recorded (docs/recordings.md)
        var audio = document.createElement("audio");
        audio.controls = true; audio.preload = "none"; audio.src = h.recording;
        audio.className = "desk-recording"; audio.setAttribute("data-testid", "desk-recording");
        li.appendChild(audio);
      }
      return li;
    });
    listInto("desk-notes", card.notes, function (n) {
      return el("li", Central.dateTime(n.at) + " · " + n.label + (n.notes ? ": " + n.notes : ""));
    });
    listInto("desk-whatsapp", card.whatsapp, function (w) {
      var li = el("li", w.state_label + " · " + (w.preview || "") + " ");
      var a = el("a", t.open); a.href = w.url; a.target = "_blank"; a.rel = "noopener"; li.appendChild(a);
      return li;
    });
    renderScript(card.script);
    renderCodes(card.dispositions);
    $("desk-zone").textContent = "(" + card.contact.timezone + ")";
    $("desk-call").disabled = !!card.attempt; $("desk-skip").disabled = !!card.attempt;
    say("desk-dispo-msg", ""); say("desk-wrapup", "", true);
    var form = $("desk-dispo"); form.reset();
    renderState();
    if (popT0 !== null) { document.body.dataset.popRendered = String(performance.now() - popT0); popT0 = null; }
    document.body.dataset.popAttempt = card.attempt || "";
  }
  function showInbound(card) {
    if (card.card) showCard(card.card); else {
      current = null; $("desk-empty").hidden = true; $("desk-contact").hidden = false;
      $("desk-name").textContent = t.inbound + " " + (card.phone || card.number);
      $("desk-phone").textContent = ""; $("desk-campaign-name").textContent = "";
      $("desk-contact-status").textContent = t.noMatch;
      ["desk-fields", "desk-history", "desk-notes", "desk-whatsapp"].forEach(function (id) { clear($(id)); });
    }
    var box = $("desk-inbound"); clear(box); box.hidden = false;
    box.appendChild(el("p", t.inbound + " " + (card.phone || card.number), "desk-inbound-line"));
    (card.contacts || []).forEach(function (c) { box.appendChild(el("p", c.name + " · " + c.campaign + " · " + c.status_label, "muted")); });
  }

  // --- callbacks -----------------------------------------------------------------------
  function renderCallbacks(items) {
    var ul = $("desk-callbacks"); if (!ul) return; clear(ul);
    if (!items || !items.length) { ul.appendChild(el("li", t.noCallbacks, "muted")); return; }
    items.forEach(function (cb) {
      var li = el("li", Central.dateTime(cb.at) + " · " + (cb.name || cb.phone) + " · " + cb.campaign + (cb.note ? " · " + cb.note : "") + " ");
      li.setAttribute("data-testid", "callback-" + cb.contact_id);
      var b = el("button", t.call); b.type = "button"; b.className = "primary";
      b.addEventListener("click", function () { dial({contact: cb.contact_id, mode: "callback"}); });
      li.appendChild(b); ul.appendChild(li);
    });
  }
  renderCallbacks(data.callbacks);

  // --- actions --------------------------------------------------------------------------
  function dial(body) {
    say("desk-dial-msg", t.dialing, true);
    return post("/agents/desk/dial/", body).then(function (j) {
      if (j.error) { say("desk-dial-msg", j.error.message); return; }
      say("desk-dial-msg", "", true); showCard(j.card);
    });
  }
  $("desk-dispo") && $("desk-dispo").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var f = ev.target, code = f.querySelector("input[name=code]:checked");
    if (!current) return;
    var body = {attempt: current.attempt, contact: current.contact, code: code ? code.value : "",
      notes: f.notes.value, callback_date: f.callback_date.value, callback_time: f.callback_time.value,
      callback_for: f.callback_for.value};
    post("/agents/desk/disposition/", body).then(function (j) {
      if (j.error) { say("desk-dispo-msg", j.error.message); return; }
      current.saved = true; wrapStarted = null;
      say("desk-dispo-msg", j.callback ? t.callbackSaved + " " + Central.dateTime(j.callback) : t.saved, true);
      if (j.wrapup_seconds) say("desk-wrapup", j.wrapup_seconds + " " + t.seconds, true);
      document.body.dataset.saved = String(j.disposition);
      renderState();
    });
  });
  var preview = null;
  $("desk-next") && $("desk-next").addEventListener("click", function () {
    post("/agents/desk/preview/", {action: "next", campaign: campSel.value}).then(function (j) {
      if (j.error) { say("desk-dial-msg", j.error.message); return; }
      if (!j.card) { say("desk-dial-msg", t.noContact); return; }
      preview = j.card; showCard(j.card); $("desk-call").disabled = false; $("desk-skip").disabled = false;
    });
  });
  $("desk-call") && $("desk-call").addEventListener("click", function () {
    if (current && current.contact && !current.attempt) dial({contact: current.contact, mode: preview ? "preview" : "manual"});
  });
  $("desk-skip") && $("desk-skip").addEventListener("click", function () {
    if (!preview) return;
    post("/agents/desk/preview/", {action: "skip", contact: preview.contact.id, reason: $("desk-skip-reason").value})
      .then(function (j) { if (j.error) { say("desk-dial-msg", j.error.message); return; } preview = null; $("desk-skip").disabled = true; $("desk-call").disabled = true; });
  });
  $("desk-manual") && $("desk-manual").addEventListener("submit", function (ev) {
    ev.preventDefault(); dial({number: ev.target.number.value, campaign: campSel.value, mode: "manual"});
  });
  function queueAction(action) {
    var body = {action: action, campaign: campSel ? campSel.value : "", reason: reasonSel ? reasonSel.value : ""};
    post("/agents/desk/queue/", body).then(function (j) { say("desk-bar-msg", j.error ? j.error.message : "", !j.error); });
  }
  document.querySelectorAll("#desk-queue button, #desk-pause button").forEach(function (b) {
    b.addEventListener("click", function () { queueAction(b.dataset.action); });
  });

  // --- keyboard ---------------------------------------------------------------------------
  document.addEventListener("keydown", function (ev) {
    var typing = /^(INPUT|TEXTAREA|SELECT)$/.test((ev.target && ev.target.tagName) || "");
    if (ev.ctrlKey && ev.key === "Enter") { ev.preventDefault(); $("desk-dispo").requestSubmit(); return; }
    if (ev.altKey && !ev.ctrlKey) {
      var k = ev.key.toLowerCase();
      if (k === "p") { ev.preventDefault(); var st = $("desk-state").dataset.state; queueAction(st === "paused" ? "unpause" : "pause"); }
      else if (k === "n") { ev.preventDefault(); $("desk-next").click(); }
      else if (k === "l") { ev.preventDefault(); $("desk-call").click(); }
      else if (k === "d") { ev.preventDefault(); document.querySelector("[data-testid=desk-number]").focus(); }
      return;
    }
    if (!typing && /^[1-9]$/.test(ev.key)) {
      var radios = document.querySelectorAll("#desk-codes input[name=code]");
      var r = radios[Number(ev.key) - 1]; if (r) { r.checked = true; r.focus(); }
    }
  });

  // --- the socket --------------------------------------------------------------------------
  var delay = 500, alive = null;
  function alarm(on) {
    var a = $("desk-alarm"); if (a) a.hidden = !on;
    document.body.dataset.desk = on ? "stale" : "live";
  }
  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(scheme + location.host + "/ws/desk/");
    ws.onopen = function () {
      delay = 500; alarm(false);
      clearInterval(alive);
      alive = setInterval(function () { try { ws.send(JSON.stringify({type: "ping", t: Date.now()})); } catch (e) { /* closed */ } }, 20000);
    };
    ws.onmessage = function (ev) {
      var msg; try { msg = JSON.parse(ev.data); } catch (e) { return; }
      if (msg.type === "pop") {
        popT0 = performance.now(); showCard(msg.card);
        // AgentConnect (seen by the dialer or the PBX link) -> contact on screen, in s:
        // both clocks are the installation's wall clock (tests and bench/screen_pop.py).
        if (msg.connected_at) document.body.dataset.popDelay = (Date.now() / 1000 - msg.connected_at).toFixed(3);
      }
      else if (msg.type === "member") {
        var m = msg.member; members[m.queue + "|" + m.interface] = m;
        if (m.availability === "free" && current && current.attempt && !current.saved && !wrapStarted) wrapStarted = new Date();
        renderState();
      }
      else if (msg.type === "callbacks") renderCallbacks(msg.items);
    };
    ws.onclose = function (ev) {
      clearInterval(alive); alarm(true);
      if (ev.code === 4403 || ev.code === 4401) return;  // not an agent here: nothing to wait for
      setTimeout(connect, delay); delay = Math.min(delay * 2, 10000);
    };
  }
  renderCodes(null);
  if (data.pending) showCard(data.pending);
  renderState();
  if ($("desk-state")) connect();
})();
