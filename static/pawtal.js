// Pawtal's only script: selection counts on the client table, modals, upload progress, card entry.
// Everything else is htmx attributes; no inline scripts, so a strict CSP holds.
(function () {
  "use strict";

  function updateSelection() {
    var boxes = document.querySelectorAll('input[name="ids"][form="bulk"]');
    var checked = Array.prototype.filter.call(boxes, function (b) { return b.checked; }).length;
    var out = document.getElementById("selected-count");
    // The words come from the page (data-template, through gettext): "{n} selected" in its language.
    if (out) { out.textContent = (out.dataset.template || "{n}").replace("{n}", checked); }
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


  // Card and bank entry with Stripe.js: Stripe draws the fields and confirms the SetupIntent in the
  // browser; then the form posts the SetupIntent's id to Pawtal, which checks it with Stripe. Our own
  // messages come from the form's data-not-saved and data-unreachable, translated on the server.
  function fail(form, message) {
    var box = form.querySelector("#card-errors");
    box.textContent = message || form.dataset.notSaved;
    box.hidden = false;
    form.querySelector("button[type=submit]").disabled = false;
  }

  function setUp(form) {
    if (form.dataset.ready || typeof window.Stripe !== "function") { return; }
    form.dataset.ready = "1";
    var stripe = window.Stripe(form.dataset.stripeKey);
    var card = null;
    if (form.dataset.kind === "card") {
      card = stripe.elements().create("card");
      card.mount(form.querySelector("#card-element"));
    }
    form.addEventListener("submit", function (event) {
      var intent = form.querySelector("input[name=setup_intent]");
      if (intent.value) { return; }  // confirmed: let the form post to Pawtal
      event.preventDefault();
      form.querySelector("button[type=submit]").disabled = true;
      var name = form.querySelector("#holder-name").value;
      var done = function (result) {
        if (result.error) { fail(form, result.error.message); return; }
        intent.value = result.setupIntent.id;
        form.submit();
      };
      if (card) {
        stripe.confirmCardSetup(form.dataset.clientSecret, {
          payment_method: { card: card, billing_details: { name: name } }
        }).then(done, function () { fail(form); });
      } else {
        stripe.collectBankAccountForSetup({
          clientSecret: form.dataset.clientSecret,
          params: { payment_method_type: "us_bank_account", payment_method_data: { billing_details: { name: name } } }
        }).then(function (result) {
          if (result.error) { fail(form, result.error.message); return; }
          return stripe.confirmUsBankAccountSetup(form.dataset.clientSecret).then(done);
        }, function () { fail(form); });
      }
    });
  }

  // The bank's check (3-D Secure) of a payment: Stripe.js runs it in the page; then the form asks Pawtal,
  // which reads the payment from Stripe whatever the page reports.
  function bankCheck(form) {
    if (form.dataset.ready || typeof window.Stripe !== "function") { return; }
    form.dataset.ready = "1";
    form.querySelector("button[type=submit]").disabled = true;
    var ask = function () { form.submit(); };
    window.Stripe(form.dataset.stripeKey).confirmCardPayment(form.dataset.clientSecret).then(ask, ask);
  }

  // Stripe.js is loaded only when a card form (or a bank's check) appears, not with every page, and once:
  // a page is scanned twice as it loads (DOMContentLoaded, then htmx:load on the body), and Stripe.js
  // must not run twice in one page.
  function withStripe(form, start) {
    if (typeof window.Stripe === "function") { start(form); return; }
    var script = document.querySelector("script[data-stripe-loader]");
    if (!script) {
      script = document.createElement("script");
      script.src = form.dataset.stripeJs;
      script.setAttribute("data-stripe-loader", "");
      script.addEventListener("error", function () { script.remove(); });  // a later form tries again
      document.head.appendChild(script);
    }
    script.addEventListener("load", function () { start(form); });
    script.addEventListener("error", function () { fail(form, form.dataset.unreachable); });
  }

  function scanCards(root) {
    if (!root || !root.querySelectorAll) { return; }
    [["#card-form", setUp], ["#pay-action", bankCheck]].forEach(function (pair) {
      if (root.matches && root.matches(pair[0])) { withStripe(root, pair[1]); }
      root.querySelectorAll(pair[0]).forEach(function (form) { withStripe(form, pair[1]); });
    });
  }

  document.addEventListener("htmx:load", function (event) {
    openModals(event.detail.elt);
    scanCards(event.detail.elt);
  });

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

  // A failed htmx request must never look like nothing happened. The server words its errors as a flash
  // (HX-Retarget #flashes), which htmx would not swap for a 4xx/5xx: let it. A request that got no answer
  // at all, or an answer without words, shows the page's own message (data-fail-message on <body>).
  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    if (xhr.status >= 400 && xhr.getResponseHeader("HX-Retarget") === "#flashes") {
      event.detail.shouldSwap = true;
    }
  });
  function showFailure() {
    var flashes = document.getElementById("flashes");
    if (!flashes) { return; }
    var message = document.createElement("p");
    message.className = "flash flash-error";
    message.textContent = document.body.getAttribute("data-fail-message");
    flashes.setAttribute("role", "alert");
    flashes.replaceChildren(message);
  }
  function resetProgress(event) {
    var form = event.target.closest ? event.target.closest("form") || event.target : event.target;
    if (form.querySelectorAll) { form.querySelectorAll(".upload-progress").forEach(function (bar) { bar.hidden = true; bar.value = 0; }); }
  }
  document.addEventListener("htmx:responseError", function (event) {
    resetProgress(event);
    if (event.detail.xhr.getResponseHeader("HX-Retarget") !== "#flashes") { showFailure(); }
  });
  document.addEventListener("htmx:sendError", function (event) { resetProgress(event); showFailure(); });
  document.addEventListener("htmx:timeout", function (event) { resetProgress(event); showFailure(); });

  // Check-in and check-out: with the site's location option on, the phone is asked where it is before
  // the tap is sent (the sitter may refuse: the server decides whether that is allowed). A second tap
  // while the phone answers is ignored; the server records a repeated tap once anyway.
  document.addEventListener("htmx:confirm", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form[data-locate]") || form.dataset.locate === "off") { return; }
    event.preventDefault();
    if (form.dataset.locating || !navigator.geolocation) {
      if (!form.dataset.locating) { event.detail.issueRequest(true); }
      return;
    }
    form.dataset.locating = "1";
    var send = function () { delete form.dataset.locating; event.detail.issueRequest(true); };
    navigator.geolocation.getCurrentPosition(function (position) {
      form.elements.latitude.value = position.coords.latitude;
      form.elements.longitude.value = position.coords.longitude;
      form.elements.accuracy.value = position.coords.accuracy;
      send();
    }, send, { enableHighAccuracy: true, timeout: 10000, maximumAge: 60000 });
  });

  document.addEventListener("htmx:afterSettle", updateSelection);
  document.addEventListener("DOMContentLoaded", function () {
    document.documentElement.classList.add("js");
    updateSelection();
    scanCards(document);
  });
  // The phone menu: one button shows and hides the navigation (and sign out); Esc closes it.
  document.documentElement.classList.add("js-menu");
  document.addEventListener("click", function (event) {
    var toggle = event.target.closest(".menu-toggle");
    if (!toggle) { return; }
    var nav = document.getElementById(toggle.getAttribute("aria-controls"));
    var open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    nav.classList.toggle("open", open);
    if (open) { var first = nav.querySelector("a"); if (first) { first.focus(); } }
  });
  document.addEventListener("keydown", function (event) {
    var toggle = document.querySelector('.menu-toggle[aria-expanded="true"]');
    if (event.key === "Escape" && toggle) { toggle.click(); toggle.focus(); }
  });
})();
