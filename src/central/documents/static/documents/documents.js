/* Documents list: "Solicitar PDF" without a reload, then the row follows the transfer live
   (documents.transfer messages on the page's WebSocket): requested, uploading n %,
   available until <date> with a download link, or failed: reason. */
(function () {
  function row(docId) { return document.querySelector('tr[data-doc="' + docId + '"]'); }
  function show(tr, t) {
    var badge = tr.querySelector(".docstate"), bar = tr.querySelector(".docprogress");
    var form = tr.querySelector(".docrequest"), link = tr.querySelector(".docdownload");
    if (badge) { badge.textContent = t.label; badge.className = "badge docstate " + t.state; }
    if (bar) { bar.value = t.percent; bar.hidden = t.state !== "uploading"; }
    var available = t.state === "available";
    if (form) form.hidden = available || t.state === "requested" || t.state === "uploading" || t.state === "waiting";
    if (link) link.hidden = !available;
    var note = tr.querySelector('[data-testid="doc-last-failure"]');
    if (t.last_failure && t.state !== "failed") {
      if (!note) { note = document.createElement("small"); note.className = "error"; note.dataset.testid = "doc-last-failure";
        badge.parentNode.appendChild(document.createElement("br")); badge.parentNode.appendChild(note); }
      note.textContent = t.last_failure;
    }
  }
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!form.classList || !form.classList.contains("docrequest")) return;
    ev.preventDefault();
    var tr = form.closest("tr");
    form.querySelector("button").disabled = true;
    fetch(form.action, { method: "POST", body: new FormData(form), credentials: "same-origin",
                         headers: { "Accept": "application/json" } })
      .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (res) {
        form.querySelector("button").disabled = false;
        if (res.ok) show(tr, res.body);
        else { var b = tr.querySelector(".docstate"); if (b) b.textContent = res.body.error; }
      })
      .catch(function () { form.querySelector("button").disabled = false; });
  });
  if (window.Central) {
    window.Central.on("documents.transfer", function (msg) {
      var tr = row(msg.transfer.document);
      if (tr) show(tr, msg.transfer);
    });
  }
})();
