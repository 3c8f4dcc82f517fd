// Pawtal's only script: selection counts on the client table and upload progress.
// Everything else is htmx attributes; no inline scripts, so a strict CSP holds.
(function () {
  "use strict";

  function updateSelection() {
    var boxes = document.querySelectorAll('input[name="ids"][form="bulk"]');
    var checked = Array.prototype.filter.call(boxes, function (b) { return b.checked; }).length;
    var out = document.getElementById("selected-count");
    if (out) { out.textContent = checked + " selected"; }
    var all = document.getElementById("select-page");
    if (all) {
      all.checked = boxes.length > 0 && checked === boxes.length;
      all.indeterminate = checked > 0 && checked < boxes.length;
    }
    document.documentElement.classList.toggle("has-selection", checked > 0);
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.id === "select-page") {
      document.querySelectorAll('input[name="ids"][form="bulk"]').forEach(function (b) { b.checked = target.checked; });
    }
    if (target.id === "select-page" || (target.name === "ids" && target.form && target.form.id === "bulk")) {
      updateSelection();
    }
  });

  document.addEventListener("htmx:xhr:progress", function (event) {
    var bar = event.target.querySelector && event.target.querySelector(".upload-progress");
    if (bar && event.detail.lengthComputable) {
      bar.hidden = false;
      bar.value = Math.round((event.detail.loaded / event.detail.total) * 100);
    }
  });

  document.addEventListener("htmx:afterSettle", updateSelection);
  document.addEventListener("DOMContentLoaded", function () {
    document.documentElement.classList.add("js");
    updateSelection();
  });
})();
