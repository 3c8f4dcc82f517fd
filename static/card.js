// Card and bank entry with Stripe.js: Stripe draws the fields and confirms the SetupIntent in the
// browser; then the form posts the SetupIntent's id to Pawtal, which checks it with Stripe.
(function () {
  "use strict";

  function fail(form, message) {
    var box = form.querySelector("#card-errors");
    box.textContent = message || "The card could not be saved. Please check it and try again.";
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

  function scan(root) {
    if (!root || !root.querySelectorAll) { return; }
    if (root.matches && root.matches("#card-form")) { setUp(root); }
    root.querySelectorAll("#card-form").forEach(setUp);
  }

  document.addEventListener("htmx:load", function (event) { scan(event.detail.elt); });
  document.addEventListener("DOMContentLoaded", function () { scan(document); });
})();
