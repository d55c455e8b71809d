/* WhatsApp inbox: conversation list + thread, drawn from the page's JSON and kept current by
   the dashboard's one WebSocket (Central.on, live.js). The first paint and every live update
   go through the same functions, so a message received live looks exactly like one loaded
   with the page. Every text is set with textContent (customer text is untrusted).

   Live message types (published by central.messaging.live to the tenant's group):
     wa_message       {message, conversation}   a message or note was added
     wa_status        {message}                 an outbound message's status changed
     wa_conversation  {conversation}            state, assignee, labels, unread, window changed
*/
(function () {
  "use strict";
  var root = document.getElementById("inbox");
  if (!root) return;
  var D = JSON.parse(document.getElementById("inbox-data").textContent);
  var S = D.strings;
  var convs = {};        // id -> conversation
  var current = D.current ? D.current.id : null;
  var messages = {};     // id -> message (current conversation only)
  D.conversations.forEach(function (c) { convs[c.id] = c; });
  if (D.current) convs[D.current.id] = D.current;

  // --- formatting ---------------------------------------------------------------------
  var tz = D.tz;
  var fmtTime = new Intl.DateTimeFormat("pt-BR", {timeZone: tz, hour: "2-digit", minute: "2-digit"});
  var fmtDay = new Intl.DateTimeFormat("pt-BR", {timeZone: tz, day: "2-digit", month: "2-digit"});
  var fmtFull = new Intl.DateTimeFormat("pt-BR", {timeZone: tz, day: "2-digit", month: "2-digit", year: "numeric", hour: "2-digit", minute: "2-digit"});
  function dayKey(d) { return fmtDay.format(d); }
  function when(iso) {
    if (!iso) return "";
    var d = new Date(iso);
    return dayKey(d) === dayKey(new Date()) ? fmtTime.format(d) : fmtDay.format(d) + " " + fmtTime.format(d);
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }
  function leftMs(c) { return c.window_expires_at ? new Date(c.window_expires_at).getTime() - Date.now() : -1; }
  function windowText(c) {
    var ms = leftMs(c);
    if (ms <= 0) return S.window_closed;
    var m = Math.floor(ms / 60000), h = Math.floor(m / 60);
    return S.window_left.replace("%(tempo)s", h > 0 ? h + " h " + (m % 60) + " min" : m + " min");
  }
  function interpolate(text, values) {
    return text.replace(/%\((\w+)\)s/g, function (_, k) { return values[k] == null ? "" : values[k]; });
  }

  // --- requests ----------------------------------------------------------------------
  function csrf() {
    var m = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : (document.querySelector("[name=csrfmiddlewaretoken]") || {}).value;
  }
  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrf(), "Accept": "application/json"},
      body: JSON.stringify(body || {}),
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) throw new Error((data.error && data.error.message) || S.failed_request);
        return data;
      });
    });
  }
  function actionUrl(id, action) { return D.urls.action.replace("{id}", String(id)).replace("{action}", action); }
  var errorBox = document.getElementById("inbox-error");
  function showError(err) { errorBox.textContent = err.message || String(err); errorBox.hidden = false; }
  function clearError() { errorBox.hidden = true; errorBox.textContent = ""; }

  // --- conversation list -------------------------------------------------------------
  function matches(c) {
    var f = D.filter;
    if (f.f === "mine" && !(c.assignee && c.assignee.id === D.me.id && c.state !== "resolved")) return false;
    if (f.f === "unassigned" && (c.assignee || c.state === "resolved")) return false;
    if (f.f === "pending" && c.state !== "pending") return false;
    if (f.f === "bot" && c.state !== "bot") return false;
    if (f.f === "resolved" && c.state !== "resolved") return false;
    if (f.f === "open" && c.state === "resolved") return false;
    if (f.label && c.labels.indexOf(f.label) < 0) return false;
    if (f.q) {
      var q = f.q.toLowerCase(), digits = q.replace(/\D/g, "");
      var hay = (c.contact.name || "").toLowerCase();
      var byNumber = digits && (c.contact.wa_id.indexOf(digits) >= 0 || c.contact.phone.indexOf(digits) >= 0);
      if (hay.indexOf(q) < 0 && !byNumber) return false;
    }
    return true;
  }
  var list = document.getElementById("conv-list");
  function convItem(c) {
    var a = el("a", "conv" + (c.id === current ? " current" : "") + (c.unread ? " unread" : ""));
    a.href = D.urls.conversation.replace("{id}", String(c.id)) + location.search;
    a.dataset.id = c.id;
    a.setAttribute("data-testid", "conv-item");
    var top = el("div", "conv-top");
    top.appendChild(el("strong", "conv-name", c.contact.name || c.contact.phone_display));
    top.appendChild(el("time", "conv-time", when(c.last_message_at)));
    a.appendChild(top);
    var mid = el("div", "conv-mid");
    mid.appendChild(el("span", "conv-preview", c.last_preview || ""));
    if (c.unread) { var u = el("span", "unread-count", String(c.unread)); u.setAttribute("data-testid", "unread"); mid.appendChild(u); }
    a.appendChild(mid);
    var bottom = el("div", "conv-tags");
    bottom.appendChild(el("span", "badge state-" + c.state, c.state_label));
    if (c.handoff_reason && c.state === "pending") bottom.appendChild(el("span", "badge handoff", S.handoff));
    var w = el("span", "window " + (leftMs(c) > 0 ? "open" : "closed"), windowText(c));
    w.dataset.window = c.id; bottom.appendChild(w);
    if (c.assignee) bottom.appendChild(el("span", "assignee", c.assignee.name));
    c.labels.forEach(function (l) { bottom.appendChild(el("span", "label-chip", l)); });
    a.appendChild(bottom);
    return a;
  }
  function drawList() {
    list.innerHTML = "";
    var rows = Object.keys(convs).map(function (k) { return convs[k]; }).filter(matches);
    rows.sort(function (a, b) { return (b.last_message_at || "") < (a.last_message_at || "") ? -1 : 1; });
    rows.forEach(function (c) { list.appendChild(convItem(c)); });
    document.getElementById("conv-empty").hidden = rows.length > 0;
    var total = 0; Object.keys(convs).forEach(function (k) { total += convs[k].unread || 0; });
    var t = document.getElementById("unread-total"); if (t) t.textContent = total ? String(total) : "";
  }

  // --- thread --------------------------------------------------------------------------
  var thread = document.getElementById("thread");
  var TICKS = {queued: "○", sent: "✓", delivered: "✓✓", read: "✓✓", failed: "!", canceled: "×"};
  function scrollToEnd() {
    // Desktop: the thread scrolls inside its pane; phone: the page scrolls (reply box sticks).
    if (getComputedStyle(thread).overflowY === "auto") thread.scrollTop = thread.scrollHeight;
    else window.scrollTo(0, document.body.scrollHeight);
  }
  function nearEnd() {
    if (getComputedStyle(thread).overflowY === "auto") return thread.scrollHeight - thread.scrollTop - thread.clientHeight < 80;
    return document.documentElement.scrollHeight - window.scrollY - window.innerHeight < 160;
  }
  function ticks(m) {
    var t = el("span", "ticks " + m.status, TICKS[m.status] || "");
    t.title = m.status_label || ""; t.setAttribute("aria-label", m.status_label || "");
    t.setAttribute("data-testid", "ticks"); t.dataset.status = m.status;
    return t;
  }
  function mediaBox(m) {
    var box = el("div", "media");
    var meta = [m.media.kind_label, m.media.filename, m.media.mime_type, m.media.size_label].filter(Boolean).join(" · ");
    box.appendChild(el("span", "media-meta", meta));
    if (m.media.caption) box.appendChild(el("p", "caption", m.media.caption));
    if (D.urls.media) {
      // Nothing is downloaded until someone asks; then the file comes from this site
      // (/messaging/media/<id>/, which fetches it through the Cloud API's media URL flow).
      var url = D.urls.media.replace("{id}", String(m.id)), mime = m.media.mime_type || "";
      var b = el("button", "small", S.open_media); b.type = "button";
      b.addEventListener("click", function () {
        if (mime.indexOf("image/") === 0 && mime !== "image/svg+xml") {
          b.disabled = true; b.textContent = S.loading;
          var img = el("img", "media-img"); img.alt = m.media.caption || "";
          img.addEventListener("load", function () { box.replaceChild(img, b); });
          img.addEventListener("error", function () {
            b.disabled = false; b.textContent = S.open_media; showError(new Error(S.media_failed));
          });
          img.src = url;
        } else if (mime.indexOf("audio/") === 0) {
          var au = el("audio"); au.controls = true; au.src = url; box.replaceChild(au, b);
        } else {
          var a = el("a", "", S.download); a.href = url; a.setAttribute("download", m.media.filename || "");
          box.replaceChild(a, b); a.click();
        }
      });
      box.appendChild(b);
    }
    return box;
  }
  function messageEl(m) {
    var li = el("li", "msg " + m.direction + (m.kind === "note" ? " note" : ""));
    li.dataset.id = m.id; li.setAttribute("data-testid", m.kind === "note" ? "note" : "message");
    li.dataset.direction = m.direction;
    if (m.kind === "note") li.appendChild(el("span", "note-tag", S.note));
    if (m.reply_to_button) {
      var chip = el("span", "pressed", m.reply_to_button);
      chip.setAttribute("data-testid", "pressed"); li.appendChild(chip);
    }
    if (m.template) li.appendChild(el("span", "template-tag", S.template + ": " + m.template));
    if (m.text) li.appendChild(el("p", "text", m.text));
    if (m.choices) {
      var bs = el("div", "offered"), titles = [];
      (m.choices.buttons || []).forEach(function (b) { titles.push(b.title); });
      if (m.choices.list) m.choices.list.sections.forEach(function (sec) {
        sec.rows.forEach(function (r) { titles.push(r.title); });
      });
      if (m.choices.list && m.choices.list.button) bs.appendChild(el("span", "list-button", "☰ " + m.choices.list.button + ":"));
      titles.forEach(function (t) { bs.appendChild(el("span", "offered-btn", t)); });
      li.appendChild(bs);
    }
    if (m.media) li.appendChild(mediaBox(m));
    if (m.location) {
      li.appendChild(el("p", "text", S.location + ": " + [m.location.name, m.location.address].filter(Boolean).join(" — ") +
        " (" + m.location.latitude + ", " + m.location.longitude + ")"));
    }
    if (m.reaction) li.appendChild(el("p", "text reaction", m.reaction));
    var meta = el("div", "meta");
    if (m.author) meta.appendChild(el("span", "author", m.author));
    var t = el("time", "", when(m.created_at)); t.title = m.created_at ? fmtFull.format(new Date(m.created_at)) : "";
    meta.appendChild(t);
    if (m.direction === "out" && m.kind !== "note") meta.appendChild(ticks(m));
    li.appendChild(meta);
    if (m.status === "failed" && m.error) {
      var e = el("p", "failure", S.failed + ": " + m.error);
      e.setAttribute("data-testid", "failure"); li.appendChild(e);
    }
    return li;
  }
  function putMessage(m) {
    messages[m.id] = m;
    var old = thread.querySelector('li[data-id="' + m.id + '"]');
    var fresh = messageEl(m);
    if (old) { thread.replaceChild(fresh, old); return; }
    var atEnd = nearEnd();
    thread.appendChild(fresh);
    if (atEnd || m.direction === "out") scrollToEnd();
  }

  // --- header, actions, reply box -------------------------------------------------------
  function drawHeader() {
    if (!current) return;
    var c = convs[current];
    var state = document.getElementById("conv-state");
    state.textContent = c.state_label; state.className = "badge state-" + c.state; state.dataset.state = c.state;
    var ho = document.getElementById("conv-handoff");
    ho.hidden = !(c.handoff_reason && c.state === "pending");
    ho.textContent = S.handoff;
    var reason = document.getElementById("conv-handoff-reason");
    reason.hidden = ho.hidden; reason.textContent = c.handoff_reason || "";
    document.getElementById("conv-assignee").textContent = c.assignee ? c.assignee.name : S.nobody;
    var sel = document.getElementById("assign-select");
    if (sel) sel.value = c.assignee ? String(c.assignee.id) : "";
    var take = document.getElementById("take-btn");
    if (take) take.hidden = !!(c.assignee && c.assignee.id === D.me.id && c.state === "open");
    var resolve = document.getElementById("resolve-btn");
    if (resolve) resolve.hidden = c.state === "resolved";
    var labels = document.getElementById("conv-labels"); labels.innerHTML = "";
    c.labels.forEach(function (l) {
      var chip = el("span", "label-chip", l);
      if (D.can_write) {
        var x = el("button", "chip-x", "×"); x.type = "button"; x.title = S.remove_label;
        x.addEventListener("click", function () { setLabels(c.labels.filter(function (v) { return v !== l; })); });
        chip.appendChild(x);
      }
      labels.appendChild(chip);
    });
    var times = document.getElementById("conv-times"), parts = [];
    if (c.first_response_at) parts.push(interpolate(S.first_response, {tempo: span(c.opened_at, c.first_response_at)}));
    if (c.resolved_at) parts.push(interpolate(S.resolution, {tempo: span(c.opened_at, c.resolved_at)}));
    times.textContent = parts.join(" · ");
    drawWindow();
  }
  function span(from, to) {
    var s = Math.max(0, Math.round((new Date(to) - new Date(from)) / 1000));
    if (s < 60) return s + " s";
    var m = Math.round(s / 60);
    return m < 60 ? m + " min" : Math.floor(m / 60) + " h " + (m % 60) + " min";
  }
  function drawWindow() {
    if (!current) return;
    var c = convs[current], open = leftMs(c) > 0;
    var w = document.getElementById("conv-window");
    w.textContent = windowText(c); w.className = "window " + (open ? "open" : "closed");
    var box = document.getElementById("reply-box");
    if (!box) return;
    var mode = box.dataset.mode;  // "reply" | "note"
    document.getElementById("free-text").hidden = !(open && mode === "reply");
    document.getElementById("template-form").hidden = !(mode === "reply" && !open);
    document.getElementById("note-form").hidden = mode !== "note";
    document.getElementById("window-closed-hint").hidden = open || mode !== "reply";
    box.dataset.window = open ? "open" : "closed";
  }
  function refreshWindows() {
    document.querySelectorAll("[data-window]").forEach(function (e) {
      var c = convs[e.dataset.window]; if (!c) return;
      e.textContent = windowText(c); e.className = "window " + (leftMs(c) > 0 ? "open" : "closed");
    });
    drawWindow();
  }
  function putConversation(c) {
    convs[c.id] = c;
    drawList();
    if (c.id === current) drawHeader();
  }
  function act(action, body) {
    clearError();
    return post(actionUrl(current, action), body).then(function (data) {
      if (data.conversation) putConversation(data.conversation);
      if (data.message) putMessage(data.message);
      return data;
    }).catch(function (err) { showError(err); throw err; });
  }
  function setLabels(labels) { return act("labels", {labels: labels}).catch(function () {}); }

  function bindForms() {
    var box = document.getElementById("reply-box");
    if (!box) return;
    box.querySelectorAll("[data-mode-tab]").forEach(function (tab) {
      tab.addEventListener("click", function () {
        box.dataset.mode = tab.dataset.modeTab;
        box.querySelectorAll("[data-mode-tab]").forEach(function (t) { t.classList.toggle("active", t === tab); });
        drawWindow();
      });
    });
    var free = document.getElementById("free-text");
    free.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var input = free.querySelector("textarea"), text = input.value.trim();
      if (!text) return;
      var btn = free.querySelector("button[type=submit]"); btn.disabled = true;
      act("reply", {text: text}).then(function () { input.value = ""; }).catch(function () {})
        .then(function () { btn.disabled = false; input.focus(); });
    });
    free.querySelector("textarea").addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); free.requestSubmit(); }
    });
    var canned = document.getElementById("canned-select");
    if (canned) canned.addEventListener("change", function () {
      if (!canned.value) return;
      var ta = free.querySelector("textarea"), r = D.canned[Number(canned.value)];
      var note = document.getElementById("note-form").querySelector("textarea");
      var target = box.dataset.mode === "note" ? note : ta;
      target.value = target.value ? target.value + " " + r.text : r.text;
      canned.value = ""; target.focus();
    });
    var noteForm = document.getElementById("note-form");
    noteForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var input = noteForm.querySelector("textarea"), text = input.value.trim();
      if (!text) return;
      act("note", {text: text}).then(function () { input.value = ""; }).catch(function () {});
    });
    var tform = document.getElementById("template-form");
    var tsel = document.getElementById("template-select");
    var params = document.getElementById("template-params");
    var preview = document.getElementById("template-preview");
    function chosen() { return D.templates.filter(function (t) { return String(t.id) === tsel.value; })[0]; }
    function drawPreview() {
      var t = chosen(); if (!t) { preview.textContent = ""; return; }
      var values = Array.prototype.map.call(params.querySelectorAll("input"), function (i) { return i.value; });
      preview.textContent = t.body.replace(/\{\{(\d+)\}\}/g, function (_, n) { return values[n - 1] || "{{" + n + "}}"; });
    }
    tsel.addEventListener("change", function () {
      params.innerHTML = "";
      var t = chosen();
      if (t) for (var i = 1; i <= t.param_count; i++) {
        var lab = el("label", "", interpolate(S.param, {n: i}));
        var inp = el("input"); inp.name = "p" + i; inp.required = true; inp.setAttribute("data-testid", "template-param");
        inp.addEventListener("input", drawPreview); lab.appendChild(inp); params.appendChild(lab);
      }
      drawPreview();
    });
    tform.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var t = chosen(); if (!t) return;
      var values = Array.prototype.map.call(params.querySelectorAll("input"), function (i) { return i.value; });
      act("template", {template: t.id, params: values}).then(function () {
        tsel.value = ""; params.innerHTML = ""; preview.textContent = "";
      }).catch(function () {});
    });
    var take = document.getElementById("take-btn");
    if (take) take.addEventListener("click", function () { act("assign", {user: D.me.id}).catch(function () {}); });
    var sel = document.getElementById("assign-select");
    if (sel) sel.addEventListener("change", function () { act("assign", {user: sel.value ? Number(sel.value) : null}).catch(function () {}); });
    var resolve = document.getElementById("resolve-btn");
    if (resolve) resolve.addEventListener("click", function () { act("resolve", {}).catch(function () {}); });
    var lform = document.getElementById("label-form");
    if (lform) lform.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var input = lform.querySelector("input"), v = input.value.trim();
      if (!v) return;
      var c = convs[current];
      if (c.labels.indexOf(v) >= 0) { input.value = ""; return; }
      setLabels(c.labels.concat([v])).then(function () { input.value = ""; });
    });
  }

  // --- read marks ----------------------------------------------------------------------
  var readTimer = null;
  function markRead() {
    if (!current || document.hidden || !D.can_write) return;
    var c = convs[current]; if (!c || !c.unread) return;
    clearTimeout(readTimer);
    readTimer = setTimeout(function () { post(actionUrl(current, "read"), {}).then(function (d) {
      if (d.conversation) putConversation(d.conversation);
    }).catch(function () {}); }, 300);
  }
  document.addEventListener("visibilitychange", markRead);

  // --- live ----------------------------------------------------------------------------
  Central.on("wa_message", function (msg) {
    if (msg.conversation) putConversation(msg.conversation);
    if (msg.message && msg.message.conversation === current) { putMessage(msg.message); markRead(); }
  });
  Central.on("wa_status", function (msg) {
    var m = msg.message;
    if (m && m.conversation === current && messages[m.id]) putMessage(m);
  });
  Central.on("wa_conversation", function (msg) { if (msg.conversation) putConversation(msg.conversation); });

  // --- layout: on wide screens both panes end at the bottom of the window, whatever the
  // height of the menu bar above them (it wraps to two lines when many apps are installed).
  function fitPanes() {
    root.querySelectorAll(".pane").forEach(function (pane) {
      if (getComputedStyle(root).gridTemplateColumns.split(" ").length < 2) { pane.style.height = ""; return; }
      var top = pane.getBoundingClientRect().top + window.scrollY;
      pane.style.height = Math.max(420, window.innerHeight - top - 12) + "px";
    });
  }
  fitPanes();
  window.addEventListener("resize", fitPanes);

  // --- first paint ---------------------------------------------------------------------
  drawList();
  if (current) {
    D.messages.forEach(putMessage);
    drawHeader();
    bindForms();
    scrollToEnd();
    window.addEventListener("load", scrollToEnd);
    markRead();
  }
  setInterval(refreshWindows, 30000);
})();
