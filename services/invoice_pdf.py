"""Invoices as PDF: WeasyPrint prints the same invoice template the office and the portal show
(templates/billing/_invoice_document.html) inside a print wrapper (templates/billing/invoice_pdf.html).

Nothing is fetched while rendering except the business's logo file: the URL fetcher refuses every other
URL, on the network or on disk, so no text on an invoice can make the server fetch anything.
"""
from __future__ import annotations

import mimetypes
import os
import re
from functools import cache

from flask import render_template
from markupsafe import Markup

from extensions import db
from filters import gettext as _
from filters import locale
from models import Invoice
from services import outbox
from services.settings import business as business_details
from services.settings import get_settings

# Where paper is US Letter (CLDR's paperSize data); everywhere else prints on A4.
LETTER_TERRITORIES = frozenset({"US", "CA", "MX", "PH", "CL", "CO", "VE", "PR", "GT", "CR", "PA", "SV", "DO", "NI",
                                "BZ"})


def render_pdf(invoice, business: dict | None = None) -> bytes:
    """The invoice as a PDF document, for the client's download, the office and the invoice email.

    `business` is the business's details as templates get them (name, email, phone; address, tax_number
    and logo_path when known); by default the ones the emails use."""
    # Imported on first use: loading WeasyPrint (and Pango through it) takes about a second, and only
    # PDFs need it, so the app and its commands start without it.
    from weasyprint import HTML

    source = business if business is not None else business_details()
    details = dict(source) if isinstance(source, dict) else {
        name: getattr(source, name) for name in ("name", "address", "phone", "email", "tax_number", "website",
                                                 "logo_path")}
    logo = details.get("logo_path")
    fetcher = logo_fetcher(logo if logo and os.path.isfile(logo) else None)
    # The screens' logo address is a route of the app; the PDF reads the file itself, or shows none.
    details["logo_url"] = fetcher.logo_url
    html = render_template("billing/invoice_pdf.html", invoice=invoice, business=details,
                           how_to_pay=get_settings().how_to_pay, paper=paper_size(), page_label=page_label(),
                           lang=locale().language)
    return HTML(string=html, url_fetcher=fetcher).write_pdf()


def email_attachment(invoice) -> outbox.MadeWhenSent:
    """The invoice's PDF for its email, rendered when the outbox sends the message: sending a hundred
    drafts at once queues their emails in a second or two instead of rendering a hundred PDFs in the request."""
    return outbox.MadeWhenSent(pdf_filename(invoice), "application/pdf", "invoice-pdf", {"invoice_id": invoice.id})


@outbox.attachment_maker("invoice-pdf")
def _pdf_for_email(invoice_id: int) -> bytes:
    """The invoice as it is when its email goes out (normally the moment after it was sent)."""
    invoice = db.session.get(Invoice, invoice_id)
    if invoice is None:
        raise LookupError(f"invoice {invoice_id} is gone")
    return render_pdf(invoice)


def pdf_filename(invoice) -> str:
    """The file name a PDF is downloaded or attached as: INV-2026-00042.pdf."""
    name = invoice.number or f"invoice-draft-{invoice.id}"
    return re.sub(r"[^A-Za-z0-9._-]", "-", name) + ".pdf"


def paper_size() -> str:
    """Letter where the business's locale prints on Letter, else A4."""
    return "letter" if locale().territory in LETTER_TERRITORIES else "A4"


def page_label() -> Markup:
    """"Page 1 of 2" in the business's language, as a CSS `content` value around the page counters."""
    text = _("Page %(page)s of %(pages)s", page="\x00", pages="\x01")
    parts = []
    for piece in re.split("([\x00\x01])", text):
        if piece == "\x00":
            parts.append("counter(page)")
        elif piece == "\x01":
            parts.append("counter(pages)")
        elif piece:
            parts.append(_css_string(piece))
    return Markup(" ".join(parts))


def _css_string(text: str) -> str:
    """A CSS string literal: anything but letters, digits and spaces written as an escape."""
    return '"' + "".join(ch if ch.isalnum() or ch == " " else f"\\{ord(ch):x} " for ch in text) + '"'


def logo_fetcher(logo_path: str | None):
    """WeasyPrint's URL fetcher for one invoice: it serves the logo file, and refuses any other URL."""
    return _fetcher_class()(logo_path)


@cache
def _fetcher_class():
    from weasyprint.urls import URLFetcher, URLFetcherResponse, path2url

    class LogoOnlyFetcher(URLFetcher):
        """Fetches the business's logo from disk and nothing else: no network, no other file."""

        def __init__(self, logo_path: str | None):
            super().__init__(allowed_protocols=("file",), allow_redirects=False)
            self.logo_path = logo_path
            self.logo_url = path2url(logo_path) if logo_path else None

        def fetch(self, url, headers=None):
            if self.logo_url is None or url != self.logo_url:
                raise ValueError(f"An invoice fetches nothing but the logo; refused {url[:200]!r}")
            with open(self.logo_path, "rb") as logo:
                data = logo.read()
            content_type = mimetypes.guess_type(self.logo_path)[0] or "application/octet-stream"
            return URLFetcherResponse(url, data, {"Content-Type": content_type})

    return LogoOnlyFetcher
