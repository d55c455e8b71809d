/* Person view: the fallback template form shows as many parameters as the chosen template
   has, and its text with them filled in (without this script, three fields are sent). */
(function () {
  "use strict";
  var sel = document.getElementById("fallback-template");
  if (!sel) return;
  var box = document.getElementById("fallback-params"), preview = document.getElementById("fallback-preview");
  function option() { return sel.options[sel.selectedIndex]; }
  function draw() {
    var values = Array.prototype.map.call(box.querySelectorAll("input"), function (i) { return i.value; });
    preview.textContent = option().dataset.body.replace(/\{\{(\d+)\}\}/g, function (_, n) { return values[n - 1] || "{{" + n + "}}"; });
  }
  function build() {
    var n = Number(option().dataset.params || 0), old = box.querySelectorAll("input");
    var keep = Array.prototype.map.call(old, function (i) { return i.value; });
    box.innerHTML = "";
    for (var i = 1; i <= n; i++) {
      var lab = document.createElement("label"); lab.textContent = box.dataset.label + " " + i;
      var inp = document.createElement("input"); inp.name = "p" + i; inp.required = true;
      inp.value = keep[i - 1] || (i === 1 ? box.dataset.first : "");
      inp.addEventListener("input", draw); lab.appendChild(inp); box.appendChild(lab);
    }
    draw();
  }
  sel.addEventListener("change", build);
  build();
})();
