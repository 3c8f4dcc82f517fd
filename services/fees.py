"""Late cancellation and no-show fees: the tiers (site option `late_fee_tiers`), what cancelling a visit
would cost now, the fee a no-show costs, and waiving a fee with a reason.

Time left is the visit's start minus the moment of the cancellation, both absolute UTC moments: real
hours, so a daylight-saving change between them moves no one into or out of a tier by an hour. A fee
is a percent of the visit's price, rounded as invoices round (`billing.percent_of`).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from babel import numbers
from sqlalchemy import select, update

from extensions import db
from filters import duration, formatted, locale, money, ngettext
from filters import gettext as _
from models import ISSUED_INVOICE, Invoice, InvoiceLine, InvoiceStatus, StaffUser, Visit, VisitStatus, as_utc, utcnow
from services import signals
from services.billing import REASON_MAX, lock_client, percent_of
from services.errors import DomainError, FieldErrors
from services.settings import get_settings


@dataclass(frozen=True)
class Tier:
    """Cancelling less than `hours` before a visit costs `percent` of its price."""

    hours: Decimal
    percent: Decimal

    @property
    def span(self) -> timedelta:
        return timedelta(hours=float(self.hours))


@dataclass(frozen=True)
class Quote:
    """What a cancellation (or a no-show) costs: `cents`, `percent` of `price_cents`, by `tier` (None: free)."""

    percent: Decimal
    cents: int
    price_cents: int
    tier: Tier | None = None

    @property
    def free(self) -> bool:
        return self.cents <= 0

    @property
    def percent_words(self) -> str:
        return percent_words(self.percent)

    @property
    def when_words(self) -> str:
        """ "less than 24 hours before the visit", from the tier."""
        return before_words(self.tier) if self.tier else ""


FREE = Quote(Decimal(0), 0, 0)


def _number(value) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def tiers() -> list[Tier]:
    """The site's tiers, tightest (fewest hours) first; an entry that makes no sense is left out."""
    found = []
    for entry in get_settings().late_fee_tiers or []:
        if not isinstance(entry, dict):
            continue
        hours, percent = _number(entry.get("hours")), _number(entry.get("percent"))
        if hours is None or percent is None or not 0 < hours <= 24 * 366 or not 0 <= percent <= 100:
            continue
        found.append(Tier(hours, percent))
    return sorted(found, key=lambda tier: tier.hours)


def _priced(tier: Tier | None, price_cents: int) -> Quote:
    if tier is None:
        return Quote(Decimal(0), 0, price_cents)
    return Quote(tier.percent, percent_of(price_cents, int(tier.percent * 100)), price_cents, tier)


def fee_between(price_cents: int, starts_at: datetime, at: datetime) -> Quote:
    """The fee for cancelling at `at` a visit that starts at `starts_at`: the tightest tier whose hours are
    more than the time left applies; none, and it is free."""
    left = as_utc(starts_at) - as_utc(at)
    return _priced(next((tier for tier in tiers() if left < tier.span), None), price_cents)


def quote(visit: Visit, now: datetime | None = None) -> Quote:
    """What the client would pay to cancel `visit` now. Only a booked (scheduled) visit costs anything: a
    request not yet approved is free to withdraw."""
    if visit.status != VisitStatus.SCHEDULED:
        return Quote(Decimal(0), 0, visit.price_cents)
    return fee_between(visit.price_cents, visit.starts_at, now or utcnow())


def late_fee(visit: Visit, now: datetime | None = None) -> tuple[Decimal, int]:
    """(percent, cents) that cancelling `visit` at `now` costs the client; (0, 0) when it is free."""
    charged = quote(visit, now)
    return charged.percent, charged.cents


def charged(visit: Visit) -> Quote:
    """The fee a client's cancellation cost, worked out again from the moment it was made (for the words
    around it: the cents stored on the visit are what is billed)."""
    if visit.cancelled_at is None or visit.late_fee_cents <= 0:
        return Quote(Decimal(0), 0, visit.price_cents)
    return fee_between(visit.price_cents, visit.starts_at, visit.cancelled_at)


def no_show_fee(visit: Visit) -> Quote:
    """What a no-show costs (the client was not there, or turned the sitter away): the tightest tier's
    percent, as if cancelled at the last moment; free when the site has no tiers."""
    found = tiers()
    return _priced(found[0] if found else None, visit.price_cents)


def percent_words(percent: Decimal) -> str:
    """50%, 12.5%, in the business's locale."""
    return numbers.format_percent(Decimal(percent) / 100, "#,##0.##%", locale=locale())


def before_words(tier: Tier) -> str:
    if tier.hours == tier.hours.to_integral_value():
        return ngettext("less than %(num)d hour before the visit", "less than %(num)d hours before the visit",
                        int(tier.hours))
    return _("less than %(span)s before the visit", span=duration(tier.span))


def fee_invoice(visit: Visit) -> Invoice | None:
    """The invoice (draft or issued, not void) that carries the visit's fee, if one does."""
    return db.session.scalar(
        select(Invoice).join(InvoiceLine, InvoiceLine.invoice_id == Invoice.id)
        .where(InvoiceLine.billed_visit_id == visit.id, InvoiceLine.kind == "fee", Invoice.status != InvoiceStatus.VOID)
        .limit(1))


class FeeOnInvoice(DomainError):
    """The fee is on an issued invoice: it is corrected there (a void or a credit), not waived here."""


def waive_fee(visit: Visit, staff: StaffUser, reason: str, now: datetime | None = None) -> Visit:
    """An owner or manager waives a visit's fee, with a reason; who and when are kept. A fee on a draft
    leaves the draft (billing listens to `fee_waived`); one on an issued invoice is refused."""
    if not staff.can_manage:
        raise DomainError(_("Only owners and managers can waive a fee."))
    reason = " ".join((reason or "").split())
    if not reason:
        raise FieldErrors({"reason": _("Say why the fee is waived; it stays on record.")})
    if len(reason) > REASON_MAX:
        raise FieldErrors({"reason": _("Keep the reason under %(n)s characters.", n=REASON_MAX)})
    if visit.late_fee_cents <= 0:
        raise DomainError(_("This visit has no fee to waive."))
    lock_client(visit.client_id)  # an invoice being issued for this client waits, or has finished
    db.session.refresh(visit)
    if visit.fee_waived_at is not None:
        raise DomainError(_("This fee was waived already, on %(day)s.", day=formatted(visit.fee_waived_at)))
    invoice = fee_invoice(visit)
    if invoice is not None and invoice.status in ISSUED_INVOICE:
        raise FeeOnInvoice(_("It is on %(number)s already; void that invoice or give credit.", number=invoice.title))
    won = db.session.execute(
        update(Visit).where(Visit.id == visit.id, Visit.fee_waived_at.is_(None), Visit.late_fee_cents > 0)
        .values(fee_waived_at=now or utcnow(), fee_waived_by_id=staff.id, fee_waive_reason=reason)
        .execution_options(synchronize_session=False)).rowcount
    if won != 1:
        raise DomainError(_("This fee was waived a moment ago."))
    db.session.refresh(visit)
    signals.fee_waived.send(visit)
    return visit


def fee_words(quote_: Quote) -> str:
    """ "$12.50 (50% of $25.00)": a fee and how it came."""
    return _("%(fee)s (%(percent)s of %(price)s)", fee=money(quote_.cents), percent=quote_.percent_words,
             price=money(quote_.price_cents))
