/* Test phone: the customer's side of a WhatsApp chat with the clinic's simulated number.

   What the customer does (text, a reply button, a list row, a template's quick reply) goes
   to /messaging/phone/send/, which asks the Cloud API simulator to deliver it to Central as
   a signed webhook. What the clinic sends shows up once the simulator accepted it (status
   sent or later), with its ticks; both arrive over the dashboard's one WebSocket (the
   inbox's wa_message / wa_status / wa_conversation messages, central.messaging.live).
   Customer text is set with textContent only. */
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("phone-data").textContent);
  if (!document.getElementById("phone-thread")) return;  // no simulated number in this organization
  var S = D.strings;
  var thread = document.getElementById("phone-thread");
  var errorBox = document.getElementById("phone-error");
  var mine = {};   // conversation ids of this customer
  var shown = {};  // message id -> message
  D.conversations.forEach(function (id) { mine[id] = true; });
  var fmt = new Intl.DateTimeFormat("pt-BR", {timeZone: D.tz, hour: "2-digit", minute: "2-digit"});
  var ON_PHONE = {sent: true, delivered: true, read: true};
  var TICKS = {sent: "✓", delivered: "✓✓", read: "✓✓"};

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }
  function csrf() {
    var m = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  function send(body) {
    errorBox.hidden = true;
    return fetch(D.send_url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrf(), "Accept": "application/json"},
      body: JSON.stringify(body),
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) throw new Error((data.error && data.error.message) || S.failed_request);
        return data;
      });
    }).catch(function (err) { errorBox.textContent = err.message; errorBox.hidden = false; throw err; });
  }
  function visible(m) {
    if (m.kind === "note") return false;
    return m.direction === "in" || ON_PHONE[m.status] === true;
  }
  function choiceButton(label, body, group) {
    var b = el("button", "", label); b.type = "button";
    b.setAttribute("data-testid", "phone-choice");
    b.addEventListener("click", function () {
      group.querySelectorAll("button").forEach(function (x) { x.disabled = true; });
      send(body).catch(function () { group.querySelectorAll("button").forEach(function (x) { x.disabled = false; }); });
    });
    return b;
  }
  function choices(m) {
    var c = m.choices; if (!c) return null;
    var box = el("div", "choices");
    (c.buttons || []).forEach(function (b) {
      box.appendChild(choiceButton(b.title, {type: c.template ? "quick_reply" : "button", id: b.id, title: b.title,
                                             context: m.wamid}, box));
    });
    if (c.list) {
      box.appendChild(el("span", "section", "☰ " + (c.list.button || S.choose)));
      c.list.sections.forEach(function (sec) {
        if (sec.title) box.appendChild(el("span", "section", sec.title));
        sec.rows.forEach(function (r) {
          box.appendChild(choiceButton(r.description ? r.title + " — " + r.description : r.title,
            {type: "list", id: r.id, title: r.title, description: r.description, context: m.wamid}, box));
        });
      });
    }
    return box;
  }
  function bubble(m) {
    // On the phone the customer's own messages are "out" (right) and the clinic's "in".
    var li = el("li", "msg " + (m.direction === "in" ? "out" : "in"));
    li.dataset.id = m.id; li.setAttribute("data-testid", m.direction === "in" ? "phone-mine" : "phone-clinic");
    if (m.reply_to_button) li.appendChild(el("span", "pressed", m.reply_to_button));
    var text = m.text || (m.media ? (m.media.caption || m.media.kind_label) : "");
    if (m.location) text = S.location + ": " + [m.location.name, m.location.address].filter(Boolean).join(" — ");
    if (text) li.appendChild(el("p", "text", text));
    if (m.direction === "out") { var ch = choices(m); if (ch) li.appendChild(ch); }
    var meta = el("div", "meta");
    meta.appendChild(el("time", "", m.created_at ? fmt.format(new Date(m.created_at)) : ""));
    var status = m.direction === "in" ? (m.read_at ? "read" : "delivered") : m.status;
    var t = el("span", "ticks " + status, TICKS[status] || "");
    t.setAttribute("data-testid", "phone-ticks"); t.dataset.status = status; t.title = status;
    meta.appendChild(t);
    li.appendChild(meta);
    return li;
  }
  function put(m) {
    if (!visible(m)) return;
    var old = shown[m.id] ? thread.querySelector('li[data-id="' + m.id + '"]') : null;
    shown[m.id] = m;
    var fresh = bubble(m);
    if (old) {
      // keep the customer's choice made on this bubble (its buttons stay disabled)
      if (old.querySelector(".choices button:disabled")) fresh.querySelectorAll(".choices button").forEach(function (b) { b.disabled = true; });
      thread.replaceChild(fresh, old);
    } else {
      var next = null;
      Array.prototype.some.call(thread.children, function (li) {
        var other = shown[li.dataset.id];
        if (other && other.created_at > m.created_at) { next = li; return true; }
        return false;
      });
      thread.insertBefore(fresh, next);
      thread.scrollTop = thread.scrollHeight;
    }
  }
  function ours(conv) { return conv && conv.contact && conv.contact.wa_id === D.me.wa_id; }

  D.messages.forEach(put);
  thread.scrollTop = thread.scrollHeight;
  Central.on("wa_message", function (msg) {
    if (ours(msg.conversation)) mine[msg.conversation.id] = true;
    if (msg.message && mine[msg.message.conversation]) put(msg.message);
  });
  Central.on("wa_status", function (msg) {
    if (msg.message && mine[msg.message.conversation]) put(msg.message);
  });
  Central.on("wa_conversation", function (msg) {
    var c = msg.conversation;
    if (!ours(c) || c.unread) return;
    mine[c.id] = true;
    // The clinic read the chat: every message of the customer gets blue ticks.
    Object.keys(shown).forEach(function (id) {
      var m = shown[id];
      if (m.direction === "in" && m.conversation === c.id && !m.read_at) put(Object.assign({}, m, {read_at: new Date().toISOString()}));
    });
  });
  var photo = document.getElementById("phone-photo");
  photo.addEventListener("click", function () {
    photo.disabled = true;
    send({type: "image"}).catch(function () {}).then(function () { photo.disabled = false; });
  });
  var form = document.getElementById("phone-form");
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var input = form.querySelector("input"), text = input.value.trim();
    if (!text) return;
    var btn = form.querySelector("button"); btn.disabled = true;
    send({type: "text", text: text}).then(function () { input.value = ""; }).catch(function () {})
      .then(function () { btn.disabled = false; input.focus(); });
  });
})();
