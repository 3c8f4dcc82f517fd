"""The client's account in the portal: balance, invoices (with their PDF), payments and refunds with their
receipts. Invoices sit behind the Invoices switch, payments and receipts behind the Payments switch; only
the client's own issued invoices and own receipts are found (another client's ids answer 404). Autopay is
turned on (agreeing to its terms) and off here."""
from __future__ import annotations

from datetime import timedelta

from flask import abort, request, url_for
from flask_wtf import FlaskForm

from access import client_required, feature_required, invoice_or_404, my_client, receipt_or_404
from blueprints.portal.base import bp, portal_context
from blueprints.portal.pay import online_or_404
from filters import business_today
from filters import gettext as _
from forms.payments import AutopayForm
from rendering import done, render_page, send_pdf
from services import billing, payments
from services.errors import DomainError
from services.invoice_pdf import pdf_filename, render_pdf
from services.settings import get_settings


@bp.get("/account")
@client_required
def account():
    """Balance due, credit, next due date, last payment; invoices of the last 12 months (?all=1: every one);
    payments and refunds. 404 when the business shows clients neither invoices nor payments."""
    return account_page()


def account_page(status: int = 200, autopay_form=None):
    settings = get_settings()
    if not (settings.portal_invoices or settings.portal_payments):
        abort(404)
    client = my_client()
    show_all = request.args.get("all") == "1"
    since = None if show_all else business_today() - timedelta(days=365)
    invoices = billing.client_invoices(client.id, since) if settings.portal_invoices else []
    older = not show_all and settings.portal_invoices and billing.has_invoices_before(client.id, since)
    return render_page("portal/account.html", "portal/_account.html", **portal_context(client),
                       summary=billing.account(client.id), invoices=invoices, show_all=show_all, older=older,
                       receipts=billing.client_receipts(client.id) if settings.portal_payments else [],
                       how_to_pay=settings.how_to_pay, status=status, **account_payments(client, autopay_form))


@bp.get("/invoices/<int:invoice_id>")
@client_required
@feature_required("invoices")
def invoice(invoice_id: int):
    client = my_client()
    shown = invoice_or_404(invoice_id)
    return render_page("portal/invoice.html", "billing/_invoice_document.html", **portal_context(client),
                       invoice=shown, how_to_pay=get_settings().how_to_pay,
                       can_pay_online=payments.online_available())


@bp.get("/invoices/<int:invoice_id>.pdf")
@client_required
@feature_required("invoices")
def invoice_pdf(invoice_id: int):
    """The invoice as a PDF download: the client's own issued invoices only (drafts and others' answer 404)."""
    shown = invoice_or_404(invoice_id)
    return send_pdf(render_pdf(shown), pdf_filename(shown))


@bp.get("/receipts/<int:entry_id>")
@client_required
@feature_required("payments")
def receipt(entry_id: int):
    client = my_client()
    return render_page("portal/receipt.html", "portal/_receipt.html", **portal_context(client),
                       entry=receipt_or_404(entry_id))


# ---- Autopay -----------------------------------------------------------------------------------------------

@bp.post("/autopay")
@client_required
def autopay_on():
    """Turn autopay on, agreeing to the terms shown (kept with the time)."""
    online_or_404()
    client = my_client()
    form = AutopayForm()
    if not form.validate_on_submit():
        return account_page(422, autopay_form=form)
    try:
        payments.set_autopay(client, True)
    except DomainError as error:
        return done(error.message, url_for("portal.account"), category="error", status=409)
    return done(_("Autopay is on: each invoice is charged on its due date."), url_for("portal.account"))


@bp.post("/autopay/off")
@client_required
def autopay_off():
    online_or_404()
    if not FlaskForm().validate_on_submit():
        abort(400)
    try:
        payments.set_autopay(my_client(), False)
    except DomainError as error:
        return done(error.message, url_for("portal.account"), category="error", status=409)
    return done(_("Autopay is off. Invoices are no longer charged by themselves."), url_for("portal.account"))


def account_payments(client, autopay_form: AutopayForm | None = None) -> dict:
    """What the account page shows of paying online: whether it can, pending bank debits, autopay."""
    settings = get_settings()
    if not payments.online_available(settings):
        return {"can_pay_online": False}
    method = next((m for m in client.payment_methods if m.usable), None)
    return {"can_pay_online": settings.portal_invoices, "pending": payments.pending_payments(client.id),
            "autopay_mode": settings.autopay_mode, "autopay_on": payments.autopay_on(client),
            "autopay_terms": payments.autopay_text(client, method), "autopay_method": method,
            "autopay_form": autopay_form or AutopayForm(formdata=None)}
