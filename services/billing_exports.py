"""CSV exports of invoices, invoice lines and payments for an accountant, and of tips for paying the sitters.

Columns are those accounting packages import (QuickBooks Online and Xero take a date, a number, a
customer, amounts in the currency's decimal form without symbols). A cell a spreadsheet would run as a
formula (starting with =, +, -, @, a tab or a carriage return) is prefixed with an apostrophe (OWASP's
advice on CSV injection); amounts are written as plain numbers, so a negative amount is not text.
"""
from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from extensions import db
from filters import business_today, local_zone
from models import Invoice, InvoiceStatus, LedgerEntry, Payment, Tip, as_utc

KINDS = ("invoices", "lines", "payments", "tips")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def default_range(today: date | None = None) -> tuple[date, date]:
    """Last month, whole."""
    today = today or business_today()
    end = today.replace(day=1) - timedelta(days=1)
    return end.replace(day=1), end


def parse_range(start: str | None, end: str | None) -> tuple[date, date]:
    first, last = default_range()
    try:
        first = date.fromisoformat(start) if start else first
        last = date.fromisoformat(end) if end else last
    except ValueError:
        pass
    if last < first:
        first, last = last, first
    return first, last


def safe(value) -> object:
    """A text cell that a spreadsheet would run as a formula, made inert."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def amount(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def export_csv(kind: str, start: date, end: date) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    currency = current_app.config["BUSINESS_CURRENCY"]
    if kind == "invoices":
        writer.writerow(["InvoiceNo", "Customer", "CustomerId", "InvoiceDate", "DueDate", "Status", "Subtotal", "Tax",
                         "Total", "Paid", "Due", "Currency", "VoidReason"])
        for inv in _invoices(start, end):
            writer.writerow([safe(inv.number), safe(inv.client.name), inv.client_id, inv.issued_on.isoformat(),
                             inv.due_on.isoformat(), inv.status.value, amount(inv.subtotal_cents), amount(inv.tax_cents),
                             amount(inv.total_cents), amount(inv.paid_cents), amount(inv.due_cents), currency,
                             safe(inv.void_reason)])
    elif kind == "lines":
        writer.writerow(["InvoiceNo", "Customer", "InvoiceDate", "LineDate", "Kind", "Description", "Pets", "Amount",
                         "Tax", "Currency"])
        for inv in _invoices(start, end, lines=True):
            for line in inv.lines:
                writer.writerow([safe(inv.number), safe(inv.client.name), inv.issued_on.isoformat(),
                                 line.day.isoformat() if line.day else "", line.kind, safe(line.description),
                                 safe(line.pets), amount(line.amount_cents), amount(line.tax_cents), currency])
    elif kind == "tips":
        writer.writerow(["Date", "Sitter", "Customer", "CustomerId", "Amount", "Refunded", "Currency", "PaymentId"])
        query = (select(Tip).join(Payment, Payment.id == Tip.payment_id)
                 .where(Payment.received_on >= start, Payment.received_on <= end)
                 .options(selectinload(Tip.sitter), selectinload(Tip.payment).selectinload(Payment.client),
                          selectinload(Tip.payment).selectinload(Payment.online))
                 .order_by(Payment.received_on, Tip.id))
        for tip in db.session.scalars(query):
            payment, online = tip.payment, tip.payment.online
            # A tip refunded in part is shown on each sitter's row in proportion, so the column adds up.
            refunded = (tip.amount_cents * online.tip_refunded_cents // online.tip_cents
                        if online is not None and online.tip_cents else 0)
            writer.writerow([payment.received_on.isoformat(), safe(tip.sitter.name if tip.sitter else "(the business)"),
                             safe(payment.client.name), payment.client_id, amount(tip.amount_cents), amount(refunded),
                             currency, payment.id])
    else:
        writer.writerow(["Date", "Kind", "Customer", "CustomerId", "Method", "Reference", "Amount", "ReceiptNo",
                         "Currency", "Memo"])
        zone = local_zone()
        received = (select(LedgerEntry).join(Payment, Payment.id == LedgerEntry.payment_id)
                    .where(LedgerEntry.kind.in_(("payment", "credit")), Payment.received_on >= start,
                           Payment.received_on <= end))
        refunded = select(LedgerEntry).where(LedgerEntry.kind == "refund")
        since, until = _midnight(start, zone), _midnight(end, zone, days_after=1)
        if since is not None:
            refunded = refunded.where(LedgerEntry.at >= since)
        if until is not None:
            refunded = refunded.where(LedgerEntry.at < until)
        rows = []
        for query in (received, refunded):
            for entry in db.session.scalars(query.options(selectinload(LedgerEntry.payment)
                                                          .selectinload(Payment.client))):
                payment = entry.payment
                day = as_utc(entry.at).astimezone(zone).date() if entry.kind == "refund" else payment.received_on
                rows.append((day, entry.id, entry, payment))
        for day, _id, entry, payment in sorted(rows, key=lambda row: (row[0], row[1])):
            writer.writerow([day.isoformat(), entry.kind, safe(payment.client.name), payment.client_id, payment.method,
                             safe(payment.reference), amount(-entry.amount_cents), f"R-{entry.id}", currency,
                             safe(entry.memo)])
    return out.getvalue()


def _midnight(day: date, zone, days_after: int = 0) -> datetime | None:
    """The moment `day` (plus `days_after`) begins where the business is; None past the calendar's first or last
    day (9999-12-31 has no next day), where the range has no bound on that side."""
    try:
        return datetime.combine(day + timedelta(days=days_after), time(), zone)
    except OverflowError:
        return None


def _invoices(start: date, end: date, lines: bool = False):
    query = (select(Invoice).where(Invoice.status != InvoiceStatus.DRAFT, Invoice.issued_on >= start,
                                   Invoice.issued_on <= end)
             .options(selectinload(Invoice.client)).order_by(Invoice.issued_on, Invoice.number))
    if lines:
        query = query.options(selectinload(Invoice.lines))
    return db.session.scalars(query)

