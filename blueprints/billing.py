"""The office's billing desk (owners and managers; sitters never see money): invoices with filters, the
invoice run with its preview, drafts, sending, voids, the aging report, exports for the accountant, and
each client's account (ledger, payments, credits, refunds)."""
from __future__ import annotations

from secrets import token_hex

from flask import Blueprint, Response, abort, request, url_for
from flask_login import current_user

from access import client_or_404, invoice_or_404, manager_required, or_404, receipt_or_404
from filters import business_today, money
from filters import gettext as _
from filters import ngettext
from forms.billing import (
    AllocateForm, CreditForm, EmptyForm, LineForm, NotesForm, PaymentForm, RefundForm, RunForm, VoidForm,
)
from forms.errors import show_errors
from forms.fields import parse_money
from models import InvoiceStatus, parse_id
from rendering import done, render_page, send_pdf, submit
from forms.payments import ChargeForm
from services import billing, billing_exports, payments
from services import invoice_pdf as invoice_pdfs
from services.errors import DomainError
from services.settings import get_settings

bp = Blueprint("billing", __name__, url_prefix="/billing")

SORTS = tuple(billing.INVOICE_SORTS)
# An account page lists this many open invoices, oldest first (payments still go to all of them).
OPEN_SHOWN = 25


def _page_number() -> int:
    value = request.args.get("page", "1")
    return int(value) if value.isdigit() and 0 < int(value) < 100000 else 1


@bp.get("/")
@manager_required
def index():
    state = request.args.get("state", "all")
    state = state if state in billing.INVOICE_FILTERS else "all"
    sort = request.args.get("sort", "issued")
    sort = sort if sort in SORTS else "issued"
    descending = request.args.get("dir", "desc" if sort in ("issued", "number", "due", "total") else "asc") == "desc"
    q = request.args.get("q", "").strip()[:100]
    page = _page_number()
    invoices, count = billing.search_invoices(state, q, sort, descending, page)
    return render_page("billing/index.html", "billing/_invoices.html", invoices=invoices, count=count, state=state,
                       sort=sort, descending=descending, q=q, page=page, per_page=50, send_form=EmptyForm(),
                       today=business_today(), autopay_failures=payments.autopay_failures(),
                       disputes=payments.disputes())


@bp.post("/send")
@manager_required
def send_batch():
    """Send the drafts ticked on the list; each is issued on its own, so one refused draft stops none of the others."""
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    ids = [i for i in (parse_id(v) for v in request.form.getlist("invoice")) if i is not None]
    if not ids:
        return done(_("Tick the drafts to send first."), url_for("billing.index", state="draft"), category="error")
    sent, refused = billing.issue_many(ids, current_user)
    message = ngettext("%(num)d invoice sent.", "%(num)d invoices sent.", sent)
    if refused:
        message += " " + _("Not sent: %(which)s.", which="; ".join(refused))
    return done(message, url_for("billing.index", state="sent" if sent else "draft"),
                category="success" if sent and not refused else "error")


# ---- The run ---------------------------------------------------------------------------------------------

@bp.route("/run", methods=["GET", "POST"])
@manager_required
def run():
    """GET: the period form, and with ?start&end the preview (client, visits, total). POST: create the drafts."""
    settings = get_settings()
    start, end = billing.default_period()
    if request.method == "POST":
        form = RunForm()
    elif "start" in request.args or "end" in request.args:
        form = RunForm(formdata=request.args, meta={"csrf": False})
    else:
        form = RunForm(formdata=None, start=start, end=end)
    plans = None
    status = 200
    if request.method == "GET" and ("start" in request.args or "end" in request.args):
        if form.validate():
            plans = billing.plan_run(form.start.data, form.end.data)
        else:
            status = 422
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                drafts = billing.create_drafts(form.start.data, form.end.data, current_user)
            except billing.RunCollision as error:
                show_errors(form, error)
                status = 409
            else:
                message = (ngettext("%(num)d draft invoice created: check them, then send.",
                                   "%(num)d draft invoices created: check them, then send.", len(drafts))
                           if drafts else _("Nothing to bill in that period: no draft was created."))
                return done(message, url_for("billing.index", state="draft"))
        else:
            status = 422
    return render_page("billing/run.html", "billing/_run.html", status=status, form=form, plans=plans,
                       settings=settings, mode=settings.billing_mode, cycle=billing.cycle_label())


# ---- One invoice ------------------------------------------------------------------------------------------

def _desk_context(invoice, **forms) -> dict:
    draft = invoice.status == InvoiceStatus.DRAFT
    return {
        "invoice": invoice, "how_to_pay": get_settings().how_to_pay,
        "line_form": forms.get("line_form") or (LineForm(formdata=None) if draft else None),
        "notes_form": forms.get("notes_form") or (NotesForm(formdata=None, notes=invoice.notes) if draft else None),
        "void_form": forms.get("void_form") or VoidForm(formdata=None),
        "button": EmptyForm(formdata=None),
    }


def _invoice_page(invoice, status: int = 200, **forms):
    return render_page("billing/invoice.html", "billing/_invoice_desk.html", status=status,
                       **_desk_context(invoice, **forms))


@bp.get("/invoices/<int:invoice_id>")
@manager_required
def invoice(invoice_id: int):
    return _invoice_page(invoice_or_404(invoice_id))


@bp.get("/invoices/<int:invoice_id>.pdf")
@manager_required
def invoice_pdf(invoice_id: int):
    """The invoice as its client gets it (a draft too, to check it before sending)."""
    shown = invoice_or_404(invoice_id)
    return send_pdf(invoice_pdfs.render_pdf(shown), invoice_pdfs.pdf_filename(shown))


@bp.post("/invoices/<int:invoice_id>/lines")
@manager_required
def add_line(invoice_id: int):
    shown = invoice_or_404(invoice_id)
    form = LineForm()
    return submit(form, lambda: billing.add_line(shown, form.kind.data, form.description.data, form.amount.data,
                                                 form.percent.data, form.day.data),
                  lambda _line: done(_("Line added."), url_for("billing.invoice", invoice_id=shown.id)),
                  lambda status: _invoice_page(shown, status, line_form=form),
                  aliases={"percent": "percent"})


@bp.post("/invoices/<int:invoice_id>/lines/<int:line_id>/remove")
@manager_required
def remove_line(invoice_id: int, line_id: int):
    shown = invoice_or_404(invoice_id)
    form = EmptyForm()
    return submit(form, lambda: billing.remove_line(shown, line_id),
                  lambda _none: done(_("Line removed."), url_for("billing.invoice", invoice_id=shown.id)),
                  lambda status: _refused(form, shown, status))


@bp.post("/invoices/<int:invoice_id>/notes")
@manager_required
def save_notes(invoice_id: int):
    shown = invoice_or_404(invoice_id)
    form = NotesForm()
    return submit(form, lambda: billing.set_notes(shown, form.notes.data),
                  lambda _none: done(_("Note saved."), url_for("billing.invoice", invoice_id=shown.id)),
                  lambda status: _invoice_page(shown, status, notes_form=form))


@bp.post("/invoices/<int:invoice_id>/send")
@manager_required
def send(invoice_id: int):
    shown = invoice_or_404(invoice_id)
    form = EmptyForm()
    return submit(form, lambda: billing.issue_invoice(shown, current_user),
                  lambda sent: done(_("%(number)s sent to %(name)s.", number=sent.number, name=sent.client.name),
                                    url_for("billing.invoice", invoice_id=sent.id)),
                  lambda status: _refused(form, shown, status))


@bp.post("/invoices/<int:invoice_id>/void")
@manager_required
def void(invoice_id: int):
    shown = invoice_or_404(invoice_id)
    form = VoidForm()
    return submit(form, lambda: billing.void_invoice(shown, current_user, form.reason.data),
                  lambda voided: done(_("%(number)s voided.", number=voided.title),
                                      url_for("billing.invoice", invoice_id=voided.id)),
                  lambda status: _invoice_page(shown, 409 if form.refusal is not None and not
                                               getattr(form.refusal, "errors", None) else status, void_form=form))


def _refused(form, shown, status: int):
    """A button the service refused (sent already, not a draft): the page again with the reason, 409."""
    if form.refusal is None:
        abort(400)  # no CSRF token: the form did not come from our page
    return done(form.refusal.message, url_for("billing.invoice", invoice_id=shown.id), category="error",
                status=409, fragment="billing/_invoice_desk.html", **_desk_context(shown))


# ---- Reports and exports ----------------------------------------------------------------------------------

@bp.get("/aging")
@manager_required
def aging():
    page = _page_number()
    rows, totals = billing.aging(page=page)
    return render_page("billing/aging.html", "billing/_aging.html", rows=rows, totals=totals, page=page,
                       per_page=billing.AGING_PAGE, buckets=billing.AGING_BUCKETS)


@bp.get("/exports")
@manager_required
def exports():
    start, end = billing_exports.default_range()
    return render_page("billing/exports.html", "billing/_exports.html", start=start, end=end,
                       kinds=billing_exports.KINDS)


@bp.get("/exports/<kind>.csv")
@manager_required
def export(kind: str):
    if kind not in billing_exports.KINDS:
        abort(404)
    start, end = billing_exports.parse_range(request.args.get("start"), request.args.get("end"))
    body = billing_exports.export_csv(kind, start, end)
    name = f"pawtal-{kind}-{start.isoformat()}-{end.isoformat()}.csv"
    return Response(body, mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"',
                                                        "Cache-Control": "private, no-store"})


# ---- A client's account -----------------------------------------------------------------------------------

def _account_page(client, status: int = 200, **forms):
    open_invoices = billing.open_invoices(client.id, limit=OPEN_SHOWN + 1)
    more_open = len(open_invoices) > OPEN_SHOWN
    open_invoices = open_invoices[:OPEN_SHOWN]
    all_payments = request.args.get("payments") == "all"
    shown_payments, payment_count = billing.client_payments(client.id, None if all_payments else 20)
    page = _page_number()
    ledger, older = billing.ledger(client.id, page)
    choices = [(None, _("Choose an invoice"))] + [(i.id, f"{i.title} · {money(i.due_cents)}") for i in open_invoices]
    allocate_forms = {p.id: AllocateForm(formdata=None, prefix=f"alloc{p.id}") for p in shown_payments
                      if p.unallocated_cents}
    allocate_forms.update(forms.get("allocate_forms") or {})
    for form in allocate_forms.values():
        form.invoice.choices = choices
    context = {
        "client": client, "summary": billing.account(client.id), "ledger": ledger, "older": older, "page": page,
        "open_invoices": open_invoices, "more_open": more_open, "payments": shown_payments,
        "payment_count": payment_count,
        "drafts": billing.client_drafts(client.id),
        "payment_form": forms.get("payment_form") or PaymentForm(formdata=None, received_on=business_today()),
        "credit_form": forms.get("credit_form") or CreditForm(formdata=None, prefix="credit"),
        "refund_forms": forms.get("refund_forms") or {},
        "allocate_forms": allocate_forms, "chosen": forms.get("chosen") or {},
        "chosen_errors": forms.get("chosen_errors") or {},
        "card_on_file": next((m for m in client.payment_methods if m.usable), None)
        if payments.online_available() else None,
        "charge_form": forms.get("charge_form") or ChargeForm(formdata=None, prefix="charge", key=token_hex(10),
                                                              amount=billing.account(client.id).due_cents or None),
        "pending": payments.pending_payments(client.id),
    }
    return render_page("billing/account.html", "billing/_account.html", status=status, **context)


@bp.get("/clients/<int:client_id>")
@manager_required
def account(client_id: int):
    return _account_page(client_or_404(client_id))


def _chosen_amounts() -> tuple[dict[int, int], dict[int, str], dict[int, str]]:
    """The per-invoice amounts of "as chosen": (id -> cents, id -> text typed, id -> error)."""
    amounts, typed, errors = {}, {}, {}
    for name, value in request.form.items():
        if not name.startswith("invoice_"):
            continue
        invoice_id = parse_id(name.removeprefix("invoice_"))
        if invoice_id is None:
            continue
        typed[invoice_id] = value
        try:
            cents = parse_money(value)
        except ValueError as error:
            errors[invoice_id] = str(error)
            continue
        if cents:
            amounts[invoice_id] = cents
    return amounts, typed, errors


@bp.post("/clients/<int:client_id>/payments")
@manager_required
def record_payment(client_id: int):
    client = client_or_404(client_id)
    form = PaymentForm()
    chosen, typed, chosen_errors = _chosen_amounts() if form.allocate.data == "chosen" else ({}, {}, {})

    def work():
        if chosen_errors:
            raise DomainError(_("Correct the amounts per invoice."))
        if form.allocate.data == "chosen" and not chosen:
            raise DomainError(_("Enter how much goes to each invoice, or choose oldest first."))
        return billing.record_payment(client, form.method.data, form.amount.data, form.received_on.data,
                                      form.reference.data, form.note.data, current_user, chosen=chosen or None)

    def again(status):
        if form.refusal is not None and getattr(form.refusal, "errors", None):
            for key, message in form.refusal.errors.items():
                if key.startswith("invoice_") and (invoice_id := parse_id(key.removeprefix("invoice_"))):
                    chosen_errors[invoice_id] = message
        return _account_page(client, status, payment_form=form, chosen=typed, chosen_errors=chosen_errors)

    return submit(form, work, lambda payment: done(
        _("%(amount)s recorded; a receipt was emailed to %(name)s.", amount=money(payment.amount_cents),
          name=client.name), url_for("billing.account", client_id=client.id)), again)


@bp.post("/clients/<int:client_id>/credits")
@manager_required
def add_credit(client_id: int):
    client = client_or_404(client_id)
    form = CreditForm(prefix="credit")
    return submit(form, lambda: billing.add_credit(client, form.amount.data, form.reason.data, form.note.data,
                                                   current_user, auto_apply=form.auto_apply.data),
                  lambda credit: done(_("%(amount)s credit added.", amount=money(credit.amount_cents)),
                                      url_for("billing.account", client_id=client.id)),
                  lambda status: _account_page(client, status, credit_form=form))


@bp.post("/clients/<int:client_id>/payments/<int:payment_id>/refund")
@manager_required
def refund(client_id: int, payment_id: int):
    client = client_or_404(client_id)
    payment = or_404(billing.load_payment(payment_id, client.id))
    form = RefundForm(prefix=f"refund{payment.id}")
    # A card or bank payment made online is refunded through Stripe; others are paid back by hand.
    return submit(form, lambda: payments.refund(payment, form.amount.data, form.note.data, current_user),
                  lambda entry: done(_("%(amount)s refunded; a receipt was emailed.", amount=money(form.amount.data))
                                     if entry is not None else _("%(amount)s of the tip refunded.",
                                                                 amount=money(form.amount.data)),
                                     url_for("billing.account", client_id=client.id)),
                  lambda status: _account_page(client, status, refund_forms={payment.id: form}))


@bp.post("/clients/<int:client_id>/charge")
@manager_required
def charge(client_id: int):
    """Charge the client's card on file, with their authorisation (who did it is recorded)."""
    client = client_or_404(client_id)
    if not payments.online_available():
        abort(404)
    form = ChargeForm(prefix="charge")

    def charged(online):
        if online.status == "processing":
            return done(_("%(amount)s is on its way from the bank account; it is recorded when it arrives.",
                          amount=money(online.charge_cents)), url_for("billing.account", client_id=client.id))
        return done(_("%(amount)s charged to %(method)s; a receipt was emailed to %(name)s.",
                      amount=money(online.charge_cents), method=online.method_label, name=client.name),
                    url_for("billing.account", client_id=client.id))

    return submit(form, lambda: payments.charge_on_file(client, form.amount.data, form.authorisation.data,
                                                        current_user, form_key=(form.key.data or "")[:40]), charged,
                  lambda status: _account_page(client, status, charge_form=form), aliases={"amount": "amount"})


@bp.post("/clients/<int:client_id>/payments/<int:payment_id>/allocate")
@manager_required
def allocate(client_id: int, payment_id: int):
    client = client_or_404(client_id)
    payment = or_404(billing.load_payment(payment_id, client.id))
    form = AllocateForm(prefix=f"alloc{payment.id}")
    form.invoice.choices = [(None, _("Choose an invoice"))] + [
        (i.id, i.title) for i in billing.open_invoices(client.id, limit=OPEN_SHOWN)]
    chosen = billing.load_invoice(form.invoice.data, current_user) if form.invoice.data else None

    def work():
        if chosen is None:
            raise DomainError(_("Choose an open invoice of this client."), field="invoice")
        return billing.allocate(payment, chosen, form.amount.data, current_user)

    return submit(form, work, lambda _none: done(_("Put towards %(number)s.", number=chosen.title),
                                                 url_for("billing.account", client_id=client.id)),
                  lambda status: _account_page(client, status, allocate_forms={payment.id: form}))


@bp.get("/receipts/<int:entry_id>")
@manager_required
def receipt(entry_id: int):
    entry = receipt_or_404(entry_id)
    return render_page("billing/receipt.html", "portal/_receipt.html", entry=entry)
