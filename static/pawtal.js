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
    document.querySelectorAll("[data-needs-selection]").forEach(function (b) { b.disabled = checked === 0; });
  }

  // A <dialog data-modal> swapped in by htmx opens as a real modal (focus inside, Esc closes);
  // closing removes it. Without JavaScript the same markup is a plain page.
  function openModals(root) {
    var dialogs = root.querySelectorAll ? root.querySelectorAll("dialog[data-modal]") : [];
    if (root.matches && root.matches("dialog[data-modal]")) { dialogs = [root]; }
    Array.prototype.forEach.call(dialogs, function (dialog) {
      if (dialog.open || dialog.closest(".dialog-page")) { return; }
      dialog.addEventListener("close", function () { dialog.remove(); });
      dialog.showModal();
    });
  }

  document.addEventListener("click", function (event) {
    var closer = event.target.closest && event.target.closest("[data-close-dialog]");
    var dialog = closer && closer.closest("dialog[open]");
    if (dialog && !dialog.closest(".dialog-page")) {
      event.preventDefault();
      dialog.close();
    }
  });

  document.addEventListener("htmx:load", function (event) { openModals(event.detail.elt); });

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
