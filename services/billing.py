"""Billing: invoices from visits, the client's ledger, payments and credits recorded by staff, refunds.

Every change of money locks the client's row first (`lock_client`), so two requests for one client
take turns on PostgreSQL (SQLite writes one transaction at a time anyway). The ledger is append-only:
an invoice issued, a payment, a credit, a refund, a void are each one new `LedgerEntry`; the balance is
their sum. A visit is billed at most once by a unique key in the database (`InvoiceLine.billed_visit_id`
with its kind), not by a check here, so two runs at once cannot both bill it.

Rounding: each line's tax is its amount times the rate, rounded to the nearest cent with halves away
from zero (a credit for a cancelled visit gives back the tax charged with it); the invoice's tax is the sum of
its lines' tax. A percent discount is the percent of the invoice's visit lines, rounded the same way.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import and_, bindparam, case, event, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from extensions import db
from filters import business_today, formatted, money
from filters import gettext as _
from models import (
    BILLING_CYCLES, INVOICE_PREFIX, ISSUED_INVOICE, MANUAL_METHODS, OPEN_INVOICE, PAYMENT_METHODS, Allocation,
    ClientProfile, Invoice, InvoiceLine, InvoiceReminder, InvoiceSequence, InvoiceStatus, LedgerEntry, Payment,
    StaffUser, Visit, VisitStatus, utcnow,
)
from services import emails, signals
from services.errors import DomainError, FieldErrors
from services.settings import get_settings
from services.texts import bytewise

# Visits a cycle bills once they are done, and the ones billing in advance takes while still ahead.
DONE = (VisitStatus.COMPLETED, VisitStatus.UNRECORDED)
AHEAD = (VisitStatus.SCHEDULED, VisitStatus.IN_PROGRESS, VisitStatus.COMPLETED, VisitStatus.UNRECORDED)
# Visits that may carry a fee instead of their price: cancelled late, or missed because of the client (no-show).
FEE_STATES = (VisitStatus.CANCELLED, VisitStatus.MISSED)
# Visits that did not happen: one already invoiced (billed in advance) is credited on the next invoice.
NOT_HAPPENED = (VisitStatus.CANCELLED, VisitStatus.MISSED)
# The most a single amount may be: $10,000,000.00 keeps sums far inside a 32-bit column.
MAX_CENTS = 1_000_000_000
REASON_MAX = 500


class BillingError(DomainError):
    """A billing rule refused the change."""


class RunCollision(BillingError):
    """Another invoice run billed some of the same visits first."""


def lock_client(client_id: int) -> None:
    """Hold the client's row until the request commits: money for one client changes one request at a time."""
    db.session.execute(select(ClientProfile.id).where(ClientProfile.id == client_id).with_for_update())


def round_cents(value: Decimal) -> int:
    """Nearest cent, halves away from zero (2.5 -> 3, -2.5 -> -3)."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def percent_of(cents: int, bp: int) -> int:
    """`bp` hundredths of a percent of `cents` (825 -> 8.25%), rounded as invoices round."""
    return round_cents(Decimal(cents) * bp / 10000)


# ---- Periods ----------------------------------------------------------------------------------------------

def period_containing(day: date) -> tuple[date, date]:
    """The billing period (first and last day) that `day` falls in, by the site's cycle."""
    settings = get_settings()
    if settings.billing_cycle == "monthly":
        start_day = max(1, min(settings.billing_cycle_day or 1, 28))
        start = day.replace(day=start_day) if day.day >= start_day else _add_months(day.replace(day=start_day), -1)
        return start, _add_months(start, 1) - timedelta(days=1)
    length = 14 if settings.billing_cycle == "biweekly" else 7
    anchor = settings.billing_cycle_anchor or date(2024, 1, 1)  # a Monday
    start = day - timedelta(days=(day - anchor).days % length)
    return start, start + timedelta(days=length - 1)


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))


def default_period(today: date | None = None) -> tuple[date, date]:
    """What "Create invoices" offers: the last whole period (cycle), the next one (in advance), or up to
    today (per visit)."""
    today = today or business_today()
    mode = get_settings().billing_mode
    if mode == "per_visit":
        return today - timedelta(days=30), today
    start, end = period_containing(today)
    if mode == "advance":
        return (start, end) if start == today else period_containing(end + timedelta(days=1))
    return period_containing(start - timedelta(days=1))


def cycle_label() -> str:
    settings = get_settings()
    return str(BILLING_CYCLES.get(settings.billing_cycle, settings.billing_cycle))


# ---- What a run would bill ---------------------------------------------------------------------------------

def _not_billed(kind: str):
    return ~exists().where(InvoiceLine.billed_visit_id == Visit.id, InvoiceLine.kind == kind)


@dataclass
class PlannedInvoice:
    """One invoice a run would create: the client and what goes on it."""

    client: ClientProfile
    visits: list[Visit] = field(default_factory=list)
    fees: list[Visit] = field(default_factory=list)
    credits: list[tuple[Visit, int]] = field(default_factory=list)  # (cancelled visit, its billed amount)
    credit_tax: dict[int, int] = field(default_factory=dict)  # visit id -> the tax charged with it, given back

    @property
    def lines_cents(self) -> int:
        return (sum(v.price_cents for v in self.visits) + sum(v.late_fee_cents for v in self.fees)
                - sum(amount for _visit, amount in self.credits))

    @property
    def total_cents(self) -> int:
        """The total with tax, as the draft will have it."""
        rate = get_settings().tax_rate_bp
        amounts = [v.price_cents for v in self.visits] + [v.late_fee_cents for v in self.fees]
        return (sum(amounts) + sum(percent_of(a, rate) for a in amounts)
                - sum(amount + self.credit_tax.get(visit.id, 0) for visit, amount in self.credits))

    @property
    def count(self) -> int:
        return len(self.visits) + len(self.fees) + len(self.credits)


def plan_run(start: date | None, end: date) -> list[PlannedInvoice]:
    """What "Create invoices" for the period would make, client by client (per-visit mode: one per visit).

    Visits not yet billed: done in the period (a cycle, or per visit), or booked in it (in advance).
    With them go the client's unbilled late cancellation fees and credits for invoiced visits that were
    cancelled or missed since; credits only as far as they leave the invoice above zero (the rest waits)."""
    settings = get_settings()
    statuses = AHEAD if settings.billing_mode == "advance" else DONE
    query = (select(Visit).where(Visit.status.in_(statuses), Visit.day <= end, _not_billed("visit"))
             .options(selectinload(Visit.pets), selectinload(Visit.service), selectinload(Visit.client))
             .order_by(Visit.client_id, Visit.starts_at, Visit.id))
    if start is not None:
        query = query.where(Visit.day >= start)
    visits = db.session.scalars(query).all()
    fees = db.session.scalars(
        select(Visit).where(Visit.status.in_(FEE_STATES), Visit.late_fee_cents > 0, Visit.fee_waived_at.is_(None),
                            Visit.day <= end, _not_billed("fee"))
        .options(selectinload(Visit.service), selectinload(Visit.client)).order_by(Visit.client_id, Visit.starts_at)
    ).all()
    billed = (select(InvoiceLine.billed_visit_id, InvoiceLine.amount_cents, InvoiceLine.tax_cents)
              .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
              .where(InvoiceLine.kind == "visit", Invoice.status.in_(ISSUED_INVOICE)).subquery())
    credits = db.session.execute(
        select(Visit, billed.c.amount_cents, billed.c.tax_cents).join(billed, billed.c.billed_visit_id == Visit.id)
        .where(Visit.status.in_(NOT_HAPPENED), _not_billed("credit"))
        .options(selectinload(Visit.service), selectinload(Visit.client)).order_by(Visit.client_id, Visit.starts_at)
    ).all()

    plans: list[PlannedInvoice] = []
    by_client: dict[int, PlannedInvoice] = {}

    def plan_for(client: ClientProfile) -> PlannedInvoice:
        if client.id not in by_client:
            by_client[client.id] = PlannedInvoice(client)
            plans.append(by_client[client.id])
        return by_client[client.id]

    if settings.billing_mode == "per_visit":
        for visit in visits:
            plan = PlannedInvoice(visit.client, visits=[visit])
            if visit.client_id not in by_client:
                by_client[visit.client_id] = plan  # the client's first invoice takes the fees and credits
            plans.append(plan)
    else:
        for visit in visits:
            plan_for(visit.client).visits.append(visit)
    for visit in fees:
        plan_for(visit.client).fees.append(visit)
    for visit, amount, tax in credits:
        plan = by_client.get(visit.client_id)
        if plan is not None and plan.total_cents - amount - tax >= 0:
            plan.credits.append((visit, amount))
            plan.credit_tax[visit.id] = tax
    plans = [p for p in plans if p.count]
    plans.sort(key=lambda p: (p.client.last_name.lower(), p.client.first_name.lower(), p.client.id))
    return plans


def create_drafts(start: date | None, end: date, staff: StaffUser) -> list[Invoice]:
    """Create the run's draft invoices. If another run billed any of the same visits first, nothing is
    created (RunCollision): the unique key on the billed visit refuses the second."""
    settings = get_settings()
    invoices = []
    plans = plan_run(start, end)
    plans = _still_billable(plans, settings.billing_mode)
    for plan in plans:
        invoice = Invoice(client=plan.client, status=InvoiceStatus.DRAFT, period_start=start, period_end=end,
                          terms_days=settings.payment_terms_days, tax_rate_bp=settings.tax_rate_bp,
                          tax_label=settings.tax_label or _("Tax"), created_by=staff, notes="", void_reason="",
                          paid_cents=0)
        position = 0
        for visit in plan.visits:
            position += 1
            invoice.lines.append(_visit_line(visit, position))
        for visit in plan.fees:
            position += 1
            what = (_("No-show: %(service)s, %(when)s", service=visit.service.name, when=visit.when)
                    if visit.status == VisitStatus.MISSED else
                    _("Late cancellation: %(service)s, %(when)s", service=visit.service.name, when=visit.when))
            invoice.lines.append(InvoiceLine(
                kind="fee", position=position, visit_id=visit.id, billed_visit_id=visit.id, day=visit.day,
                description=what, pets="", amount_cents=visit.late_fee_cents))
        for visit, amount in plan.credits:
            position += 1
            invoice.lines.append(InvoiceLine(
                kind="credit", position=position, visit_id=visit.id, billed_visit_id=visit.id, day=visit.day,
                description=(_("Credit: %(service)s, %(when)s, missed", service=visit.service.name, when=visit.when)
                             if visit.status == VisitStatus.MISSED else
                             _("Credit: %(service)s, %(when)s, cancelled", service=visit.service.name, when=visit.when)),
                pets="", amount_cents=-amount, tax_cents=-plan.credit_tax.get(visit.id, 0)))
        recompute(invoice)
        db.session.add(invoice)
        invoices.append(invoice)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise RunCollision(_("Another invoice run billed some of these visits at the same moment. "
                             "Nothing was created; look at the drafts and run again for what is left.")) from None
    return invoices


def _still_billable(plans: list[PlannedInvoice], mode: str) -> list[PlannedInvoice]:
    """Lock the clients of the run (in id order, one statement), then read again what may have changed
    between planning and now: a visit cancelled, a fee waived or an invoice voided (the credits for its visits)
    meanwhile leaves its plan. A waiver, a cancellation or a void that comes later waits for the run's commit
    (all lock the client) and then finds the line on a draft, which it takes off. (On SQLite writes take turns anyway; the window left there is
    between this read and the run's first write.)"""
    client_ids = sorted({plan.client.id for plan in plans})
    if not client_ids:
        return plans
    db.session.execute(select(ClientProfile.id).where(ClientProfile.id.in_(client_ids))
                       .order_by(ClientProfile.id).with_for_update())
    visit_ids = [v.id for plan in plans for v in plan.visits + plan.fees] + [v.id for plan in plans
                                                                             for v, _amount in plan.credits]
    now = {row.id: row for row in db.session.execute(
        select(Visit.id, Visit.status, Visit.late_fee_cents, Visit.fee_waived_at).where(Visit.id.in_(visit_ids)))}
    credited = {v.id for plan in plans for v, _amount in plan.credits}
    still_charged = set(db.session.scalars(
        select(InvoiceLine.billed_visit_id).join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(InvoiceLine.kind == "visit", InvoiceLine.billed_visit_id.in_(credited),
               Invoice.status.in_(ISSUED_INVOICE)))) if credited else set()
    billable = AHEAD if mode == "advance" else DONE
    for plan in plans:
        plan.visits = [v for v in plan.visits if now[v.id].status in billable]
        plan.fees = [v for v in plan.fees if now[v.id].fee_waived_at is None and now[v.id].late_fee_cents > 0
                     and now[v.id].status in FEE_STATES]
        plan.credits = [(v, amount) for v, amount in plan.credits
                        if now[v.id].status in NOT_HAPPENED and v.id in still_charged]
    return [plan for plan in plans if plan.count and plan.total_cents >= 0]


def _visit_line(visit: Visit, position: int) -> InvoiceLine:
    return InvoiceLine(kind="visit", position=position, visit_id=visit.id, billed_visit_id=visit.id, day=visit.day,
                       description=f"{visit.service.name}, {visit.when}",
                       pets=", ".join(p.name for p in visit.pets)[:300], amount_cents=visit.price_cents)


# ---- Drafts: totals and edits ------------------------------------------------------------------------------

def recompute(invoice: Invoice) -> None:
    """Percent discounts, each line's tax, subtotal, tax and total, from the lines."""
    visits = sum(line.amount_cents for line in invoice.lines if line.kind == "visit")
    for line in invoice.lines:
        if line.kind == "discount" and line.percent_bp:
            line.amount_cents = -percent_of(visits, line.percent_bp)
        if line.kind != "credit":  # a credit gives back the tax charged with the visit, at the rate of then
            line.tax_cents = percent_of(line.amount_cents, invoice.tax_rate_bp or 0)
    invoice.subtotal_cents = sum(line.amount_cents for line in invoice.lines)
    invoice.tax_cents = sum(line.tax_cents for line in invoice.lines)
    invoice.total_cents = invoice.subtotal_cents + invoice.tax_cents


def _editable(invoice: Invoice) -> None:
    """Refuse a change unless the invoice is a draft now: read again under the client's lock, so a draft sent by
    another request since this one loaded it is not changed after its total went to the ledger."""
    lock_client(invoice.client_id)
    db.session.refresh(invoice)
    if invoice.status != InvoiceStatus.DRAFT:
        raise BillingError(_("Only a draft can be changed; %(number)s is %(state)s.", number=invoice.title,
                             state=str(invoice.status.label).lower()))


def add_line(invoice: Invoice, kind: str, description: str, amount_cents: int | None, percent_bp: int | None,
             day: date | None) -> InvoiceLine:
    """Add a discount (an amount or a percent of the visits) or an extra charge to a draft."""
    _editable(invoice)
    description = " ".join((description or "").split())
    errors = {}
    if kind not in ("discount", "charge"):
        errors["kind"] = _("Choose a discount or an extra charge.")
    if not description:
        errors["description"] = _("Say what it is; the client reads it on the invoice.")
    elif len(description) > 300:
        errors["description"] = _("Keep it under 300 characters.")
    if kind == "discount" and percent_bp is not None:
        if amount_cents is not None:
            errors["amount"] = _("Give an amount or a percent, not both.")
        elif not 0 < percent_bp <= 10000:
            errors["percent"] = _("A percent between 0 and 100.")
    elif amount_cents is None:
        errors["amount"] = _("Enter the amount.")
    elif not 0 < amount_cents <= MAX_CENTS:
        errors["amount"] = _("Enter an amount above zero.")
    if errors:
        raise FieldErrors(errors)
    position = max((line.position for line in invoice.lines), default=0) + 1
    line = InvoiceLine(kind=kind, position=position, description=description, day=day, pets="",
                       percent_bp=percent_bp if kind == "discount" else None,
                       amount_cents=-(amount_cents or 0) if kind == "discount" else amount_cents)
    invoice.lines.append(line)
    recompute(invoice)
    if invoice.total_cents < 0:
        raise FieldErrors({"amount": _("The discount would take the invoice below zero (%(total)s).",
                                       total=money(invoice.total_cents - line.amount_cents - line.tax_cents))})
    if invoice.total_cents > MAX_CENTS:  # each line is capped; their sum must fit the books' columns too
        raise FieldErrors({"amount": _("An invoice comes to at most %(most)s.", most=money(MAX_CENTS))})
    return line


def remove_line(invoice: Invoice, line_id: int) -> None:
    """Take a line off a draft; a visit taken off is free to be billed again."""
    _editable(invoice)
    line = next((line for line in invoice.lines if line.id == line_id), None)
    if line is None:
        raise BillingError(_("That line is no longer on this invoice."))
    invoice.lines.remove(line)
    recompute(invoice)
    if invoice.total_cents < 0:
        raise BillingError(_("Without that line the invoice would be below zero; remove the credits or discounts "
                             "first."))


def set_notes(invoice: Invoice, notes: str) -> None:
    _editable(invoice)
    invoice.notes = (notes or "").strip()[:2000]


def _drafts_drop(visit: Visit, kind: str) -> list[Invoice]:
    """Take the visit's line of `kind` off any draft that carries it; the drafts changed, totals recomputed."""
    lines = db.session.scalars(
        select(InvoiceLine).join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(InvoiceLine.billed_visit_id == visit.id, InvoiceLine.kind == kind,
               Invoice.status == InvoiceStatus.DRAFT)).all()
    changed = []
    for line in lines:
        invoice = line.invoice
        invoice.lines.remove(line)
        recompute(invoice)
        changed.append(invoice)
    return changed


@signals.visit_cancelled.connect
def _take_off_drafts(visit: Visit, **_extra) -> None:
    """A visit cancelled while it sits on a draft leaves the draft; on an issued invoice it is credited on
    the client's next one (plan_run). The client's lock first: a draft being sent meanwhile is read as sent."""
    lock_client(visit.client_id)
    _drafts_drop(visit, "visit")


@signals.fee_waived.connect
def _drop_fee_from_drafts(visit: Visit, **_extra) -> None:
    """A fee waived while it sits on a draft leaves the draft (one on an issued invoice is never waived)."""
    for invoice in _drafts_drop(visit, "fee"):
        if invoice.total_cents < 0:
            raise BillingError(_("Without the fee %(number)s would be below zero; take its credits off first.",
                                 number=invoice.title))


# ---- Issuing ---------------------------------------------------------------------------------------------

def next_number(year: int) -> str:
    """The year's next invoice number, INV-2026-00042. One UPDATE ... RETURNING takes it: the row stays
    locked until the transaction ends, so concurrent issues wait and numbers have no gaps."""
    step = (update(InvoiceSequence).where(InvoiceSequence.year == year)
            .values(last_number=InvoiceSequence.last_number + 1).returning(InvoiceSequence.last_number))
    number = db.session.execute(step).scalar()
    if number is None:
        dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
        db.session.execute(dialect.insert(InvoiceSequence).values(year=year, last_number=0)
                           .on_conflict_do_nothing(index_elements=["year"]))
        number = db.session.execute(step).scalar()
    return f"{INVOICE_PREFIX}-{year}-{number:05d}"


def issue_invoice(invoice: Invoice, staff: StaffUser | None, today: date | None = None) -> Invoice:
    """Give a draft its number, issue and due dates, post it to the ledger, apply the client's credit, and
    email it (with its PDF) through the outbox. A second send of the same draft is refused."""
    today = today or business_today()
    lock_client(invoice.client_id)
    won = db.session.execute(
        update(Invoice).where(Invoice.id == invoice.id, Invoice.status == InvoiceStatus.DRAFT)
        .values(status=InvoiceStatus.SENT).execution_options(synchronize_session=False)).rowcount
    if won != 1:
        db.session.refresh(invoice)
        if invoice.status == InvoiceStatus.VOID:
            raise BillingError(_("%(number)s is void; it cannot be sent.", number=invoice.title))
        raise BillingError(_("%(number)s was sent already.", number=invoice.title))
    db.session.refresh(invoice)
    if not invoice.lines:
        raise BillingError(_("This draft has no lines; void it instead."))
    recompute(invoice)
    if invoice.total_cents < 0:  # a visit cancelled off the draft can leave its discounts or credits alone
        raise BillingError(_("This draft comes to %(total)s, below zero; remove discounts or credits first.",
                             total=money(invoice.total_cents)))
    invoice.number = next_number(today.year)
    invoice.issued_on = today
    invoice.due_on = today + timedelta(days=invoice.terms_days)
    invoice.sent_at = utcnow()
    db.session.add(LedgerEntry(client_id=invoice.client_id, kind="invoice", amount_cents=invoice.total_cents,
                               invoice=invoice, memo=invoice.number, created_by=staff))
    _settle_state(invoice)
    db.session.flush()
    apply_credit(invoice.client_id)
    emails.send_invoice_email(invoice)
    return invoice


def void_invoice(invoice: Invoice, staff: StaffUser, reason: str) -> Invoice:
    """Void an invoice with a reason. An issued one is reversed in the ledger and what was paid on it goes
    back to the client's credit (then on to other open invoices); its visits may be billed again."""
    reason = (reason or "").strip()
    if not reason:
        raise FieldErrors({"reason": _("Say why the invoice is voided; it stays on record.")})
    if len(reason) > REASON_MAX:
        raise FieldErrors({"reason": _("Keep the reason under %(n)s characters.", n=REASON_MAX)})
    lock_client(invoice.client_id)
    was = db.session.execute(select(Invoice.status).where(Invoice.id == invoice.id)).scalar_one()
    _take_back_credits_for(invoice)
    won = db.session.execute(
        update(Invoice).where(Invoice.id == invoice.id, Invoice.status != InvoiceStatus.VOID)
        .values(status=InvoiceStatus.VOID, voided_at=utcnow(), voided_by_id=staff.id, void_reason=reason)
        .execution_options(synchronize_session=False)).rowcount
    if won != 1:
        raise BillingError(_("This invoice was voided already."))
    db.session.refresh(invoice)
    if was != InvoiceStatus.DRAFT:
        posted = db.session.scalars(select(LedgerEntry).where(LedgerEntry.invoice_id == invoice.id,
                                                              LedgerEntry.kind == "invoice")).one()
        db.session.add(LedgerEntry(client_id=invoice.client_id, kind="void", amount_cents=-posted.amount_cents,
                                   invoice=invoice, reverses_id=posted.id, memo=reason, created_by=staff))
        for payment_id, amount in db.session.execute(
                select(Allocation.payment_id, func.sum(Allocation.amount_cents))
                .where(Allocation.invoice_id == invoice.id).group_by(Allocation.payment_id)).all():
            if amount:
                allocate_amount(db.session.get(Payment, payment_id), invoice, -amount)
    db.session.execute(update(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id)
                       .values(billed_visit_id=None).execution_options(synchronize_session=False))
    db.session.flush()
    db.session.expire(invoice, ["lines"])
    apply_credit(invoice.client_id)
    return invoice


def _take_back_credits_for(invoice: Invoice) -> None:
    """A visit of `invoice` cancelled and credited on a later invoice: with `invoice` void the client was never
    charged for it, so the credit goes too. Off a draft it is taken; a sent invoice's is refused (void that first)."""
    visit_ids = select(InvoiceLine.billed_visit_id).where(InvoiceLine.invoice_id == invoice.id,
                                                          InvoiceLine.kind == "visit")
    credits = db.session.scalars(
        select(InvoiceLine).join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(InvoiceLine.kind == "credit", InvoiceLine.billed_visit_id.in_(visit_ids), Invoice.id != invoice.id,
               Invoice.status != InvoiceStatus.VOID)).all()
    sent = sorted({line.invoice.title for line in credits if line.invoice.status != InvoiceStatus.DRAFT})
    if sent:
        raise BillingError(_("A visit on this invoice was cancelled and credited on %(numbers)s; void that first.",
                             numbers=", ".join(sent)))
    for line in credits:
        draft = line.invoice
        draft.lines.remove(line)
        recompute(draft)


# ---- Payments, credits, allocation ---------------------------------------------------------------------------

def _settle_state(invoice: Invoice) -> None:
    if invoice.status in (InvoiceStatus.DRAFT, InvoiceStatus.VOID):
        return
    if invoice.paid_cents >= invoice.total_cents:
        invoice.status = InvoiceStatus.PAID
    elif invoice.paid_cents > 0:
        invoice.status = InvoiceStatus.PARTLY_PAID
    else:
        invoice.status = InvoiceStatus.SENT


def allocate_amount(payment: Payment, invoice: Invoice, amount: int) -> None:
    """Put `amount` of the payment on the invoice (negative: take it back off)."""
    db.session.add(Allocation(payment=payment, invoice=invoice, amount_cents=amount))
    payment.allocated_cents += amount
    invoice.paid_cents += amount
    _settle_state(invoice)


def open_invoices(client_id: int, limit: int | None = None) -> list[Invoice]:
    """The client's invoices with something due, oldest first (the oldest `limit` when given)."""
    query = (select(Invoice).where(Invoice.client_id == client_id, Invoice.status.in_(OPEN_INVOICE))
             .order_by(Invoice.due_on, Invoice.issued_on, Invoice.id))
    return db.session.scalars(query.limit(limit) if limit else query).all()


def apply_credit(client_id: int) -> int:
    """Put the client's unallocated payments and credits (those not kept back) on their open invoices,
    oldest payment to oldest invoice. Returns the cents applied."""
    payments = db.session.scalars(
        select(Payment).where(Payment.client_id == client_id, Payment.auto_apply.is_(True),
                              Payment.amount_cents - Payment.refunded_cents - Payment.allocated_cents > 0)
        .order_by(Payment.received_on, Payment.id)).all()
    if not payments:
        return 0
    applied = 0
    invoices = open_invoices(client_id)
    for payment in payments:
        for invoice in invoices:
            amount = min(payment.unallocated_cents, invoice.due_cents)
            if amount > 0:
                allocate_amount(payment, invoice, amount)
                applied += amount
    return applied


def check_amount(amount_cents: int | None, errors: dict, name: str = "amount") -> None:
    if amount_cents is None:
        errors.setdefault(name, _("Enter the amount."))
    elif not 0 < amount_cents <= MAX_CENTS:
        errors.setdefault(name, _("Enter an amount above zero."))


def record_payment(client: ClientProfile, method: str, amount_cents: int | None, received_on: date | None,
                   reference: str, note: str, staff: StaffUser,
                   chosen: dict[int, int] | None = None) -> Payment:
    """Record money received. It goes to the invoices chosen (id -> cents) or else to the open invoices,
    oldest first; more than is owed stays as the client's credit. The client is emailed a receipt."""
    reference = " ".join((reference or "").split())
    errors: dict[str, str] = {}
    if method not in MANUAL_METHODS:
        errors["method"] = _("Choose how the client paid.")
    check_amount(amount_cents, errors)
    if received_on is None:
        errors["received_on"] = _("Enter the date the payment was received.")
    elif received_on > business_today():
        errors["received_on"] = _("A payment cannot be received in the future.")
    if method == "check" and not reference:
        errors["reference"] = _("Enter the check number.")
    if len(reference) > 80:
        errors["reference"] = _("Keep the reference under 80 characters.")
    if errors:
        raise FieldErrors(errors)
    lock_client(client.id)
    payment = Payment(client=client, method=method, reference=reference, received_on=received_on,
                      amount_cents=amount_cents, refunded_cents=0, allocated_cents=0, note=(note or "").strip()[:2000],
                      created_by=staff, auto_apply=True)
    db.session.add(payment)
    entry = LedgerEntry(client_id=client.id, kind="payment", amount_cents=-amount_cents, payment=payment,
                        memo=_payment_memo(payment), created_by=staff)
    db.session.add(entry)
    db.session.flush()
    if chosen:
        _allocate_chosen(payment, chosen)
    apply_credit(client.id)
    emails.send_receipt_email(entry)
    return payment


def _allocate_chosen(payment: Payment, chosen: dict[int, int]) -> None:
    invoices = {i.id: i for i in open_invoices(payment.client_id)}
    errors = {}
    total = 0
    for invoice_id, amount in chosen.items():
        invoice = invoices.get(invoice_id)
        if not amount:
            continue
        if invoice is None:
            errors[f"invoice_{invoice_id}"] = _("That invoice has nothing due any more.")
        elif not 0 < amount <= invoice.due_cents:
            errors[f"invoice_{invoice_id}"] = _("At most %(due)s is due on %(number)s.", due=money(invoice.due_cents),
                                                number=invoice.title)
        total += max(amount, 0)
    if total > payment.unallocated_cents:
        errors["amount"] = _("The invoices chosen add up to %(total)s, more than the payment.", total=money(total))
    if errors:
        raise FieldErrors(errors)
    for invoice_id, amount in chosen.items():
        if amount:
            allocate_amount(payment, invoices[invoice_id], amount)


def _payment_memo(payment: Payment) -> str:
    label = str(PAYMENT_METHODS[payment.method])
    return f"{label} {payment.reference}".strip() if payment.method != "credit" else label


def add_credit(client: ClientProfile, amount_cents: int | None, reason: str, note: str, staff: StaffUser,
               auto_apply: bool = True) -> Payment:
    """Give the client account credit (goodwill, prepaid) with a note. It applies to their open and next
    invoices by itself, oldest first, unless staff keep it back (auto_apply False)."""
    note = (note or "").strip()
    errors: dict[str, str] = {}
    check_amount(amount_cents, errors)
    if reason not in ("goodwill", "prepaid"):
        errors["reason"] = _("Choose why the credit is given.")
    if not note:
        errors["note"] = _("Add a note: what the credit is for.")
    if errors:
        raise FieldErrors(errors)
    lock_client(client.id)
    payment = Payment(client=client, method="credit", reference=reason, received_on=business_today(),
                      amount_cents=amount_cents, refunded_cents=0, allocated_cents=0, note=note[:2000],
                      created_by=staff, auto_apply=auto_apply)
    db.session.add(payment)
    db.session.add(LedgerEntry(client_id=client.id, kind="credit", amount_cents=-amount_cents, payment=payment,
                               memo=note[:200], created_by=staff))
    db.session.flush()
    if auto_apply:
        apply_credit(client.id)
    return payment


def allocate(payment: Payment, invoice: Invoice, amount_cents: int | None, staff: StaffUser) -> None:
    """Staff put part of a payment or credit that is left over on an invoice they choose."""
    errors: dict[str, str] = {}
    check_amount(amount_cents, errors)
    if errors:
        raise FieldErrors(errors)
    lock_client(payment.client_id)
    db.session.refresh(payment)
    db.session.refresh(invoice)
    if invoice.client_id != payment.client_id or invoice.status not in OPEN_INVOICE:
        raise FieldErrors({"invoice": _("Choose an open invoice of this client.")})
    if amount_cents > payment.unallocated_cents:
        raise FieldErrors({"amount": _("Only %(left)s of it is left.", left=money(payment.unallocated_cents))})
    if amount_cents > invoice.due_cents:
        raise FieldErrors({"amount": _("Only %(due)s is due on %(number)s.", due=money(invoice.due_cents),
                                       number=invoice.title)})
    allocate_amount(payment, invoice, amount_cents)


def refund_payment(payment: Payment, amount_cents: int | None, note: str, staff: StaffUser | None,
                   send_receipt: bool = True) -> LedgerEntry:
    """Pay back part or all of a recorded payment, never more than is left of it: a conditional UPDATE
    takes the amount, so two refunds at once cannot both pass. What the refund takes comes off the
    client's credit first, then off the invoices it paid, newest first. The client gets a receipt."""
    errors: dict[str, str] = {}
    check_amount(amount_cents, errors)
    if errors:
        raise FieldErrors(errors)
    if payment.is_credit:
        raise BillingError(_("Account credit is not money received; it cannot be refunded."))
    lock_client(payment.client_id)
    won = db.session.execute(
        update(Payment).where(Payment.id == payment.id,
                              Payment.refunded_cents + amount_cents <= Payment.amount_cents)
        .values(refunded_cents=Payment.refunded_cents + amount_cents)
        .execution_options(synchronize_session=False)).rowcount
    db.session.refresh(payment)
    if won != 1:
        raise FieldErrors({"amount": _("Only %(left)s of this payment is left to refund.",
                                       left=money(payment.amount_cents - payment.refunded_cents))})
    # The refund came out of what was unallocated; if that went below zero, take it back off invoices.
    shortfall = -(payment.amount_cents - payment.refunded_cents - payment.allocated_cents)
    if shortfall > 0:
        per_invoice = db.session.execute(
            select(Allocation.invoice_id, func.sum(Allocation.amount_cents).label("amount"), func.max(Allocation.id))
            .where(Allocation.payment_id == payment.id).group_by(Allocation.invoice_id)
            .order_by(func.max(Allocation.id).desc())).all()
        for invoice_id, amount, _last in per_invoice:
            take = min(amount, shortfall)
            if take > 0:
                allocate_amount(payment, db.session.get(Invoice, invoice_id), -take)
                shortfall -= take
            if shortfall <= 0:
                break
    entry = LedgerEntry(client_id=payment.client_id, kind="refund", amount_cents=amount_cents, payment=payment,
                        memo=(note or "").strip()[:200] or _("Refund of %(what)s", what=_payment_memo(payment)),
                        created_by=staff)
    db.session.add(entry)
    db.session.flush()
    if send_receipt:
        emails.send_receipt_email(entry)
    return entry


# ---- The account -------------------------------------------------------------------------------------------

@dataclass
class Account:
    balance_cents: int  # > 0 owed, < 0 in credit
    due_cents: int  # on open invoices
    credit_cents: int  # paid or credited and not yet on an invoice
    next_due_on: date | None
    last_payment: Payment | None

    @property
    def owes(self) -> bool:
        return self.balance_cents > 0

    @property
    def in_credit(self) -> bool:
        return self.balance_cents < 0


def account(client_id: int) -> Account:
    """The client's account summary in four aggregate queries, however long their history."""
    balance = db.session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0))
                                .where(LedgerEntry.client_id == client_id))
    due, next_due = db.session.execute(
        select(func.coalesce(func.sum(Invoice.total_cents - Invoice.paid_cents), 0), func.min(Invoice.due_on))
        .where(Invoice.client_id == client_id, Invoice.status.in_(OPEN_INVOICE))).one()
    credit = db.session.scalar(
        select(func.coalesce(func.sum(Payment.amount_cents - Payment.refunded_cents - Payment.allocated_cents), 0))
        .where(Payment.client_id == client_id))
    last = db.session.scalars(select(Payment).where(Payment.client_id == client_id, Payment.method != "credit")
                              .order_by(Payment.received_on.desc(), Payment.id.desc()).limit(1)).first()
    return Account(balance, due, credit, next_due, last)


def balances(client_ids: list[int]) -> dict[int, int]:
    """Balances of several clients in one query (the client table's badges)."""
    if not client_ids:
        return {}
    rows = db.session.execute(select(LedgerEntry.client_id, func.sum(LedgerEntry.amount_cents))
                              .where(LedgerEntry.client_id.in_(client_ids)).group_by(LedgerEntry.client_id))
    return {client_id: total for client_id, total in rows}


@dataclass
class LedgerRow:
    entry: LedgerEntry
    balance_cents: int


LEDGER_PAGE = 50


def ledger(client_id: int, page: int = 1, per_page: int = LEDGER_PAGE) -> tuple[list[LedgerRow], bool]:
    """One page of the client's ledger, newest first, each row with the balance after it; and whether older
    entries follow. The balance after the page's newest entry is the total less what came after it."""
    entries = db.session.scalars(
        select(LedgerEntry).where(LedgerEntry.client_id == client_id)
        .options(selectinload(LedgerEntry.invoice), selectinload(LedgerEntry.payment),
                 selectinload(LedgerEntry.created_by))
        .order_by(LedgerEntry.at.desc(), LedgerEntry.id.desc()).limit(per_page + 1).offset((page - 1) * per_page)
    ).all()
    more = len(entries) > per_page
    entries = entries[:per_page]
    running = balance(client_id)
    if page > 1:
        newer = (select(LedgerEntry.amount_cents).where(LedgerEntry.client_id == client_id)
                 .order_by(LedgerEntry.at.desc(), LedgerEntry.id.desc()).limit((page - 1) * per_page).subquery())
        running -= db.session.scalar(select(func.coalesce(func.sum(newer.c.amount_cents), 0)))
    rows = []
    for entry in entries:
        rows.append(LedgerRow(entry, running))
        running -= entry.amount_cents
    return rows, more


def check_ledger(client_id: int) -> list[str]:
    """What disagrees in the client's books (empty when all is well). The suite's money tests call it
    after every operation: the ledger, the invoices, the payments and the allocations must tell one story."""
    problems = []
    ledger_sum = db.session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0))
                                   .where(LedgerEntry.client_id == client_id))
    issued = db.session.scalar(select(func.coalesce(func.sum(Invoice.total_cents), 0))
                               .where(Invoice.client_id == client_id, Invoice.status.in_(ISSUED_INVOICE)))
    received = db.session.scalar(select(func.coalesce(func.sum(Payment.amount_cents - Payment.refunded_cents), 0))
                                 .where(Payment.client_id == client_id))
    if ledger_sum != issued - received:
        problems.append(f"ledger {ledger_sum} != issued invoices {issued} - payments net of refunds {received}")
    summary = account(client_id)
    if ledger_sum != summary.due_cents - summary.credit_cents:
        problems.append(f"ledger {ledger_sum} != due {summary.due_cents} - credit {summary.credit_cents}")
    for invoice in db.session.scalars(select(Invoice).where(Invoice.client_id == client_id)):
        allocated = db.session.scalar(select(func.coalesce(func.sum(Allocation.amount_cents), 0))
                                      .where(Allocation.invoice_id == invoice.id))
        if allocated != invoice.paid_cents:
            problems.append(f"{invoice.title}: allocations {allocated} != paid {invoice.paid_cents}")
        if invoice.status == InvoiceStatus.VOID and invoice.paid_cents:
            problems.append(f"{invoice.title}: void with {invoice.paid_cents} paid")
        if invoice.status in ISSUED_INVOICE and not 0 <= invoice.paid_cents <= invoice.total_cents:
            problems.append(f"{invoice.title}: paid {invoice.paid_cents} of {invoice.total_cents}")
        lines = sum(line.amount_cents + line.tax_cents for line in invoice.lines)
        if invoice.status != InvoiceStatus.DRAFT and lines != invoice.total_cents:
            problems.append(f"{invoice.title}: lines {lines} != total {invoice.total_cents}")
    for payment in db.session.scalars(select(Payment).where(Payment.client_id == client_id)):
        allocated = db.session.scalar(select(func.coalesce(func.sum(Allocation.amount_cents), 0))
                                      .where(Allocation.payment_id == payment.id))
        if allocated != payment.allocated_cents:
            problems.append(f"payment {payment.id}: allocations {allocated} != allocated {payment.allocated_cents}")
        if not 0 <= payment.refunded_cents <= payment.amount_cents or payment.unallocated_cents < 0:
            problems.append(f"payment {payment.id}: refunded {payment.refunded_cents}, left {payment.unallocated_cents}")
    return problems


# ---- Reminders ---------------------------------------------------------------------------------------------

def send_reminders(today: date | None = None) -> int:
    """Email an overdue reminder for each open invoice past a threshold (days after its due date) that it
    has not had yet. An invoice past several thresholds at once gets one email, for the highest; the
    lower ones are marked passed. A unique (invoice, threshold) row makes two runs at once send once."""
    today = today or business_today()
    thresholds = sorted({int(d) for d in (get_settings().reminder_days or []) if int(d) > 0})
    if not thresholds:
        return 0
    sent = 0
    candidates = db.session.scalars(
        select(Invoice).where(Invoice.status.in_(OPEN_INVOICE), Invoice.due_on <= today - timedelta(days=thresholds[0]))
        .options(selectinload(Invoice.client)).order_by(Invoice.due_on, Invoice.id)).all()
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    for invoice in candidates:
        passed = [d for d in thresholds if invoice.due_on <= today - timedelta(days=d)]
        taken = [db.session.execute(dialect.insert(InvoiceReminder)
                                    .values(invoice_id=invoice.id, days=days, sent_at=utcnow())
                                    .on_conflict_do_nothing(index_elements=["invoice_id", "days"])
                                    .returning(InvoiceReminder.id)).scalar() is not None
                 for days in passed]
        if taken and taken[-1]:
            emails.send_invoice_reminder_email(invoice, (today - invoice.due_on).days)
            sent += 1
    return sent


# ---- The desk ----------------------------------------------------------------------------------------------

INVOICE_FILTERS = ("all", "draft", "sent", "overdue", "paid", "void")
INVOICE_SORTS = {"number": (Invoice.number, Invoice.id), "issued": (Invoice.issued_on, Invoice.id),
                 "due": (Invoice.due_on, Invoice.id), "total": (Invoice.total_cents, Invoice.id),
                 "client": (ClientProfile.last_name, ClientProfile.first_name, Invoice.id)}


def search_invoices(state: str, q: str, sort: str, descending: bool, page: int, per_page: int = 50,
                    today: date | None = None) -> tuple[list[Invoice], int]:
    """The billing desk's list: one state, a search by number or client name, sorted, one page."""
    today = today or business_today()
    query = select(Invoice).join(ClientProfile, ClientProfile.id == Invoice.client_id)
    if state == "draft":
        query = query.where(Invoice.status == InvoiceStatus.DRAFT)
    elif state == "sent":
        query = query.where(Invoice.status.in_(OPEN_INVOICE))
    elif state == "overdue":
        query = query.where(Invoice.status.in_(OPEN_INVOICE), Invoice.due_on < today)
    elif state == "paid":
        query = query.where(Invoice.status == InvoiceStatus.PAID)
    elif state == "void":
        query = query.where(Invoice.status == InvoiceStatus.VOID)
    words = (q or "").strip().lower()
    if words:
        like = f"%{words}%"
        query = query.where(or_(func.lower(Invoice.number).like(like), bytewise(ClientProfile.search_text).like(like)))
    count = db.session.scalar(select(func.count()).select_from(query.subquery()))
    columns = INVOICE_SORTS.get(sort, INVOICE_SORTS["issued"])
    order = [c.desc() for c in columns] if descending else list(columns)
    if sort in ("issued", "due", "number"):
        order.insert(0, columns[0].is_(None).desc() if descending else columns[0].is_(None))
    rows = db.session.scalars(query.options(selectinload(Invoice.client)).order_by(*order)
                              .limit(per_page).offset((page - 1) * per_page)).all()
    return rows, count


AGING_BUCKETS = (("current", 0, 0), ("1_30", 1, 30), ("31_60", 31, 60), ("61_90", 61, 90), ("over_90", 91, None))


AGING_PAGE = 100


def aging(today: date | None = None, page: int = 1, per_page: int = AGING_PAGE) -> tuple[list[dict], dict]:
    """What clients owe by how late it is: one page of clients (largest balance first) from one grouped
    query over the open invoices, and the totals over all of them from one more."""
    today = today or business_today()
    late = func.julianday(today) - func.julianday(Invoice.due_on) if db.session.get_bind().dialect.name == "sqlite" \
        else (today - Invoice.due_on)
    due = Invoice.total_cents - Invoice.paid_cents
    columns = []
    for name, low, high in AGING_BUCKETS:
        if name == "current":
            cond = late <= 0
        elif high is None:
            cond = late >= low
        else:
            cond = and_(late >= low, late <= high)
        columns.append(func.coalesce(func.sum(case((cond, due), else_=0)), 0).label(name))
    rows = db.session.execute(
        select(ClientProfile.id, ClientProfile.first_name, ClientProfile.last_name, *columns,
               func.sum(due).label("total"))
        .join(Invoice, Invoice.client_id == ClientProfile.id)
        .where(Invoice.status.in_(OPEN_INVOICE))
        .group_by(ClientProfile.id, ClientProfile.first_name, ClientProfile.last_name)
        .order_by(func.sum(due).desc(), ClientProfile.id).limit(per_page).offset((page - 1) * per_page)).all()
    out = [{"client_id": r.id, "name": f"{r.first_name} {r.last_name}".strip(), "total": r.total,
            **{name: getattr(r, name) for name, *_ in AGING_BUCKETS}} for r in rows]
    every = db.session.execute(
        select(*columns, func.coalesce(func.sum(due), 0).label("total"),
               func.count(func.distinct(Invoice.client_id)).label("clients"))
        .where(Invoice.status.in_(OPEN_INVOICE))).one()
    totals = {name: getattr(every, name) for name, *_ in AGING_BUCKETS}
    totals.update(total=every.total, clients=every.clients)
    return out, totals


def invoice_summary(invoice: Invoice) -> str:
    return _("%(number)s, %(total)s, due %(due)s", number=invoice.title, total=money(invoice.total_cents),
             due=formatted(invoice.due_on) if invoice.due_on else "—")


@event.listens_for(Session, "before_flush")
def _ledger_is_append_only(session, _context, _instances) -> None:
    """A ledger entry, once written, is never changed or removed: corrections are new entries."""
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, LedgerEntry) and (obj in session.deleted or session.is_modified(obj)):
            raise RuntimeError(f"ledger entry {obj.id} may not be changed or deleted; add a reversing entry")


# ---- Loaders: who sees which invoice and receipt -------------------------------------------------------------

def load_invoice(invoice_id: int, viewer) -> Invoice | None:
    """An invoice for `viewer`: owners and managers see every one; a client login only its own issued ones
    (not drafts, nor a draft voided before it was sent: it has no number); sitters none."""
    invoice = db.session.get(Invoice, invoice_id)
    if invoice is None:
        return None
    if getattr(viewer, "is_staff", False):
        return invoice if viewer.can_manage else None
    if invoice.client_id != viewer.client_id or invoice.status == InvoiceStatus.DRAFT or invoice.number is None:
        return None
    return invoice


def load_receipt(entry_id: int, viewer) -> LedgerEntry | None:
    """A payment or refund entry (a receipt) for `viewer`, with the same rule as invoices."""
    entry = db.session.get(LedgerEntry, entry_id)
    if entry is None or entry.kind not in ("payment", "refund"):
        return None
    if getattr(viewer, "is_staff", False):
        return entry if viewer.can_manage else None
    return entry if entry.client_id == viewer.client_id else None


def load_payment(payment_id: int, client_id: int) -> Payment | None:
    payment = db.session.get(Payment, payment_id)
    return payment if payment is not None and payment.client_id == client_id else None


def has_invoices_before(client_id: int, day: date) -> bool:
    return db.session.scalar(select(exists().where(Invoice.client_id == client_id, Invoice.status != InvoiceStatus.DRAFT,
                                                   Invoice.issued_on < day)))


def client_invoices(client_id: int, since: date | None) -> list[Invoice]:
    """A client's issued and voided invoices (not drafts, nor drafts voided unsent), newest first; from `since` on
    when given."""
    query = (select(Invoice).where(Invoice.client_id == client_id, Invoice.status != InvoiceStatus.DRAFT,
                                   Invoice.number.is_not(None))
             .order_by(Invoice.issued_on.desc(), Invoice.id.desc()))
    if since is not None:
        query = query.where(Invoice.issued_on >= since)
    return db.session.scalars(query).all()


def client_receipts(client_id: int) -> list[LedgerEntry]:
    """A client's payments and refunds, newest first (credits given by staff are on the ledger, not here)."""
    return db.session.scalars(
        select(LedgerEntry).where(LedgerEntry.client_id == client_id, LedgerEntry.kind.in_(("payment", "refund")))
        .options(selectinload(LedgerEntry.payment)).order_by(LedgerEntry.at.desc(), LedgerEntry.id.desc())).all()


def issue_many(invoice_ids: list[int], staff: StaffUser) -> tuple[int, list[str]]:
    """Send several drafts (the desk's batch send). Each is issued in a savepoint of its own: a draft that
    is refused (sent meanwhile, emptied) is named and the others go."""
    sent, refused = 0, []
    for invoice_id in dict.fromkeys(invoice_ids):
        invoice = db.session.get(Invoice, invoice_id)
        if invoice is None:
            continue
        try:
            with db.session.begin_nested():
                issue_invoice(invoice, staff)
        except BillingError as error:
            refused.append(f"{invoice.title}: {error.message}")
        else:
            sent += 1
    return sent, refused


def client_payments(client_id: int, limit: int | None = 20) -> tuple[list[Payment], int]:
    """The client's payments and credits, newest first, with what was put on which invoice (the newest
    `limit`, or all), and how many there are."""
    query = (select(Payment).where(Payment.client_id == client_id)
             .options(selectinload(Payment.allocations).selectinload(Allocation.invoice), selectinload(Payment.created_by),
                      selectinload(Payment.online), selectinload(Payment.tips))
             .order_by(Payment.received_on.desc(), Payment.id.desc()))
    count = db.session.scalar(select(func.count(Payment.id)).where(Payment.client_id == client_id))
    return db.session.scalars(query.limit(limit) if limit else query).all(), count


def client_drafts(client_id: int) -> list[Invoice]:
    return db.session.scalars(select(Invoice).where(Invoice.client_id == client_id,
                                                    Invoice.status == InvoiceStatus.DRAFT)
                              .order_by(Invoice.id)).all()


def balance(client_id: int) -> int:
    """The client's balance (one query): above zero they owe, below zero they are in credit."""
    return db.session.scalar(_BALANCE, {"client_id": client_id})


# Built once: the profile's Account badge asks on every load.
_BALANCE = select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0)).where(
    LedgerEntry.client_id == bindparam("client_id"))
