"""The client's account in the portal: balance, invoices (with their PDF), payments and refunds with their
receipts. Invoices sit behind the Invoices switch, payments and receipts behind the Payments switch; only
the client's own issued invoices and own receipts are found (another client's ids answer 404)."""
from __future__ import annotations

from datetime import timedelta

from flask import abort, request

from access import client_required, feature_required, invoice_or_404, my_client, receipt_or_404
from blueprints.portal.base import bp, portal_context
from filters import business_today
from rendering import render_page, send_pdf
from services import billing
from services.invoice_pdf import pdf_filename, render_pdf
from services.settings import get_settings


@bp.get("/account")
@client_required
def account():
    """Balance due, credit, next due date, last payment; invoices of the last 12 months (?all=1: every one);
    payments and refunds. 404 when the business shows clients neither invoices nor payments."""
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
                       how_to_pay=settings.how_to_pay)


@bp.get("/invoices/<int:invoice_id>")
@client_required
@feature_required("invoices")
def invoice(invoice_id: int):
    client = my_client()
    shown = invoice_or_404(invoice_id)
    return render_page("portal/invoice.html", "billing/_invoice_document.html", **portal_context(client),
                       invoice=shown, how_to_pay=get_settings().how_to_pay)


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
