"""Paying online from the portal: one invoice, several or the whole balance, with the card or bank account on
file or a new card (Stripe.js), with an optional tip; the bank's check (3-D Secure) runs in the page; autopay.

Every route is for a signed-in client and only ever finds their own invoices and payments (another client's
ids answer 404). The pages answer 404 when the business takes no payments online (or Stripe is not set up).
A saved card pays without JavaScript; a new card and the bank's check need it (Stripe.js).
"""
from __future__ import annotations

from flask import abort, redirect, request, url_for

from access import client_required, my_client, or_404, read_only
from blueprints.portal.base import bp, portal_context
from filters import gettext as _
from filters import money
from forms.payments import PayForm
from models import PaymentMethod
from rendering import done, render_page
from services import cards, payments
from services.errors import DomainError, FieldErrors
from services.settings import get_settings


def online_or_404() -> None:
    settings = get_settings()
    if not (settings.portal_invoices and payments.online_available(settings)):
        abort(404)


def build_pay_form(client, chosen: list[int] | None = None) -> tuple[PayForm, list[payments.Payable]]:
    """The pay form with the client's open invoices (what can be paid on each), tips and methods as choices."""
    rows = payments.payable(client.id)
    settings = get_settings()
    usable = [m for m in client.payment_methods if m.usable]
    if request.method == "POST":
        form = PayForm()
    else:
        ids = [r.invoice.id for r in rows if not chosen or r.invoice.id in chosen]
        form = PayForm(formdata=None, invoices=ids, tip="none", method=f"m{usable[0].id}" if usable else "new")
    form.invoices.choices = [(r.invoice.id, _("%(number)s, due %(due)s", number=r.invoice.title,
                                              due=money(r.cents))) for r in rows]
    if settings.tips_enabled:
        form.tip.choices = ([("none", _("No tip"))] + [(str(p), f"{p}%") for p in settings.tip_percents]
                            + [("other", _("Another amount"))])
    else:
        del form["tip"], form["tip_other"]
    form.method.choices = [(f"m{m.id}", m.label) for m in usable] + [("new", _("A new card"))]
    return form, rows


def _pay_page(client, form, rows, status: int = 200, error: str | None = None):
    return render_page("portal/pay.html", "portal/_pay_form.html", status=status, **portal_context(client),
                       form=form, rows=rows, pay_error=error, total=_total(client.id, form),
                       pending=payments.pending_payments(client.id))


def _total(client_id: int, form: PayForm) -> dict:
    """What the chosen invoices and tip come to, for the form's summary (nothing when they do not add up)."""
    plan = payments.plan_for(client_id, [i for i in (form.invoices.data or []) if isinstance(i, int)])
    amount = sum(cents for _id, cents in plan)
    try:
        tip = payments.tip_cents(form.tip.data or "none", form.tip_other.data, amount) if "tip" in form else 0
    except FieldErrors:
        tip = 0
    return {"amount": amount, "tip": tip, "charge": amount + tip}


@bp.get("/pay")
@client_required
def pay():
    """The pay form; ?invoice=ID (repeated) chooses which open invoices, else all of them (the balance)."""
    online_or_404()
    client = my_client()
    chosen = [int(v) for v in request.args.getlist("invoice") if v.isdigit()]
    form, rows = build_pay_form(client, chosen)
    return _pay_page(client, form, rows)


@bp.get("/pay/total")
@client_required
def pay_total():
    """The form's summary again as the client changes invoices or the tip (htmx)."""
    online_or_404()
    client = my_client()
    form, rows = build_pay_form(client)
    form.process(request.args)
    return render_page("portal/pay.html", "portal/_pay_total.html", **portal_context(client), form=form, rows=rows,
                       total=_total(client.id, form), pending=[], pay_error=None)


def _checked(client, form) -> tuple[list[tuple[int, int]], int] | None:
    """The plan and tip of a posted pay form, or None with the errors put beside the fields."""
    if not form.validate_on_submit():
        return None
    plan = payments.plan_for(client.id, form.invoices.data)
    if not plan:
        form.invoices.errors = [_("Those invoices have nothing left to pay.")]
        return None
    amount = sum(cents for _id, cents in plan)
    try:
        tip = payments.tip_cents(form.tip.data, form.tip_other.data, amount) if "tip" in form else 0
    except FieldErrors as error:
        for name, message in error.errors.items():
            form[name].errors = [message]
        return None
    return plan, tip


def _posted(client):
    """The posted pay form, its rows, and its plan and tip; or, instead, the answer to give: the form with its
    errors beside the fields, or the payment of those invoices made a moment ago (a double click, another tab)."""
    form, rows = build_pay_form(client)
    checked = _checked(client, form)
    if checked is None:
        return form, rows, None, _already_paid(client, form) or _pay_page(client, form, rows, status=422)
    return form, rows, checked, None


@bp.post("/pay")
@client_required
def pay_now():
    online_or_404()
    client = my_client()
    form, rows, checked, answer = _posted(client)
    if answer is not None:
        return answer
    plan, tip = checked
    if form.method.data == "new":
        try:
            secret = cards.start_setup(client, "card", one_off=not form.keep.data)
        except DomainError as error:
            return _pay_page(client, form, rows, status=502, error=error.message)
        return render_page("portal/pay.html", "portal/_pay_card.html", **portal_context(client), form=form,
                           rows=rows, total=_total(client.id, form), pending=[], pay_error=None,
                           client_secret=secret, kind="card", card_step=True)
    method = _my_method(client, form.method.data)
    if method is None:
        form.method.errors = [_("Choose how to pay.")]
        return _pay_page(client, form, rows, status=422)
    return _charge(client, form, rows, plan, tip, method)


@bp.post("/pay/card")
@client_required
def pay_with_new_card():
    """After Stripe.js confirmed the new card (a SetupIntent): charge it; it is kept on file if the client asked
    (then it was entered on their customer at Stripe), else it was entered for this payment only."""
    online_or_404()
    client = my_client()
    form, rows, checked, answer = _posted(client)
    if answer is not None:
        return answer
    plan, tip = checked
    keep = bool(form.keep.data)
    try:
        method, waiting = cards.confirmed_method(client, request.form.get("setup_intent", ""), one_off=not keep)
    except DomainError as error:
        return _pay_page(client, form, rows, status=422, error=error.message)
    if waiting:
        return _pay_page(client, form, rows, status=422, error=_("That card was not confirmed. Please try again."))
    return _charge(client, form, rows, plan, tip, method, keep=keep)


def _already_paid(client, form):
    """A form naming invoices with nothing left to pay because a payment of them was made or started a moment ago
    (the first of a double click, another tab): that payment's page, not errors."""
    offered = {value for value, _label in form.invoices.choices}
    asked = [int(v) for v in request.form.getlist("invoices") if v.isdigit()]
    if not asked or (set(asked) <= offered and not form.invoices.errors):
        return None
    online = payments.recent_for(client.id, asked)
    return redirect(url_for("portal.payment", online_id=online.id), 303) if online else None


def _my_method(client, value: str) -> PaymentMethod | None:
    if not value.startswith("m") or not value[1:].isdigit():
        return None
    return next((m for m in client.payment_methods if m.id == int(value[1:]) and m.usable), None)


def _charge(client, form, rows, plan, tip, method, keep: bool = False):
    new_card = isinstance(method, dict)
    try:
        online = payments.start(client, plan, tip, method, "portal")
    except payments.AlreadyStarted as started:
        return redirect(url_for("portal.payment", online_id=started.online.id), 303)
    except payments.NothingDue as gone:
        fresh, rows = build_pay_form(client)
        return _pay_page(client, fresh, rows, status=409, error=gone.message)
    except payments.Declined as declined:
        form.method.errors = [declined.message]
        return _pay_page(client, form, rows, status=402, error=declined.message)
    except DomainError as error:
        return _pay_page(client, form, rows, status=502, error=error.message)
    if new_card and keep:
        cards.keep_method(client, method, "active")
    return _after(online)


def _after(online):
    """Paid: the receipt. Otherwise the payment's page: the bank's check, or pending (a bank debit)."""
    if online.status == "succeeded":
        return done(_("Thank you! We received %(amount)s.", amount=money(online.charge_cents)), _receipt_url(online))
    return redirect(url_for("portal.payment", online_id=online.id), 303)


def _receipt_url(online) -> str:
    """The receipt; the account page when the business shows clients no receipts."""
    if not get_settings().portal_payments:
        return url_for("portal.account")
    return url_for("portal.receipt", entry_id=payments.receipt_entry(online).id)


def _my_online(online_id: int):
    return or_404(payments.load_online(online_id, my_client().id))


@bp.get("/payments/<int:online_id>")
@client_required
def payment(online_id: int):
    """One payment started online, as it stands: paid (to its receipt), the bank's check to do, pending, or
    failed with why."""
    online_or_404()
    online = _my_online(online_id)
    if online.status == "succeeded":
        return redirect(_receipt_url(online), 303)
    secret, error = None, None
    # Staff viewing the portal see how it stands; asking Stripe for the check could cancel the payment there.
    if online.status == "requires_action" and not read_only():
        try:
            secret = payments.client_secret(online)
        except DomainError as failure:
            error = failure.message
        if online.status == "succeeded":  # the bank's check was done in another tab
            return redirect(url_for("portal.payment", online_id=online.id), 303)
    return render_page("portal/payment.html", "portal/_payment.html", **portal_context(my_client()),
                       online=online, client_secret=secret, pay_error=error)


@bp.post("/payments/<int:online_id>/check")
@client_required
def check_payment(online_id: int):
    """After Stripe.js ran the bank's check: ask Stripe how the payment stands (the page's word is not taken)."""
    online_or_404()
    online = _my_online(online_id)
    try:
        payments.check(online)
    except DomainError as error:
        return render_page("portal/payment.html", "portal/_payment.html", status=502, **portal_context(my_client()),
                           online=online, client_secret=None, pay_error=error.message)
    return _after(online)
