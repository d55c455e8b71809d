/* An agent's page follows the organization's WebSocket group: a documents.agent message
   about this agent (state, heartbeat, events) or a documents.transfer of this agent makes
   the page fetch its body again from agents/<id>/live/, rendered by the same template as the
   page load (documents/_agent_body.html). Messages of other agents are ignored; another
   organization's never reach this socket. */
(function () {
  var box = document.getElementById("agent-body");
  if (!box || !window.Central) return;
  var id = Number(box.dataset.agent);
  var pending = false, again = false;
  function refresh() {
    if (pending) { again = true; return; }
    pending = true; again = false;
    fetch(box.dataset.url, { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
      .then(function (html) { box.innerHTML = html; }).catch(function () {})
      .then(function () { pending = false; if (again) refresh(); });
  }
  window.Central.on("documents.agent", function (msg) { if (msg.agent && msg.agent.id === id) refresh(); });
  window.Central.on("documents.transfer", function (msg) { if (msg.transfer && msg.transfer.agent === id) refresh(); });
})();
