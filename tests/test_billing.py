"""Billing's core: invoice runs, numbering, tax and rounding, issuing, voids, payments, credits, allocation,
refunds and reminders, with the ledger invariant checked after every operation (`books_agree`)."""
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from extensions import db
from models import (
    Allocation, Invoice, InvoiceLine, InvoiceReminder, InvoiceStatus, LedgerEntry, OutboxMessage, Payment, Visit,
    VisitStatus,
)
from services import billing, visits
from services.errors import DomainError, FieldErrors
from services.settings import get_settings

NY = ZoneInfo("America/New_York")


def books_agree(*clients) -> None:
    """The invariant the money tests check after every operation: ledger, invoices, payments, allocations."""
    db.session.flush()
    for client in clients:
        assert billing.check_ledger(client.id) == []


@pytest.fixture(autouse=True)
def books_checked_after(app):
    """After every money test, whatever it did: every client's books agree (the ledger invariant)."""
    yield
    db.session.rollback()
    from models import ClientProfile
    for client_id in db.session.scalars(select(ClientProfile.id)).all():
        assert billing.check_ledger(client_id) == [], client_id


def done_visit(client, service, day: date, price=2500, status=VisitStatus.COMPLETED, pets=()) -> Visit:
    start = datetime.combine(day, time(9), NY)
    visit = Visit(client=client, service=service, day=day, starts_at=start, ends_at=start + timedelta(minutes=30),
                  window="custom", price_cents=price, status=status, pets=list(pets), notes="",
                  late_cancellation=False, cancelled_by="", reason="")
    db.session.add(visit)
    db.session.commit()
    return visit


@pytest.fixture
def nia(make):
    return make.client(first_name="Nia", last_name="Reyes", email="nia@example.com")


@pytest.fixture
def monthly(app):
    settings = get_settings()
    settings.billing_mode, settings.billing_cycle, settings.billing_cycle_day = "cycle", "monthly", 1
    settings.payment_terms_days = 14
    db.session.commit()
    return settings


OCTOBER = (date(2026, 10, 1), date(2026, 10, 31))


def run_and_issue(manager, start, end, today=date(2026, 11, 2)) -> list[Invoice]:
    drafts = billing.create_drafts(start, end, manager)
    for invoice in drafts:
        billing.issue_invoice(invoice, manager, today=today)
    db.session.commit()
    return drafts


# ---- Runs -------------------------------------------------------------------------------------------------

def test_a_month_run_bills_each_done_visit_once_and_numbers_without_gaps(app, make, manager, walk, nia, monthly):
    rex = make.pet(nia, name="Rex")
    other = make.client(first_name="Ada", last_name="Byron")
    for day in (3, 10, 17):
        done_visit(nia, walk, date(2026, 10, day), pets=[rex])
    done_visit(nia, walk, date(2026, 10, 20), status=VisitStatus.UNRECORDED)
    done_visit(nia, walk, date(2026, 11, 2))  # next period
    done_visit(nia, walk, date(2026, 10, 24), status=VisitStatus.MISSED)  # not billed
    done_visit(other, walk, date(2026, 10, 5), price=4000)

    plans = billing.plan_run(*OCTOBER)
    assert [(p.client.name, p.count, p.total_cents) for p in plans] == [("Ada Byron", 1, 4000), ("Nia Reyes", 4, 10000)]
    assert db.session.scalar(select(func.count(Invoice.id))) == 0  # a preview creates nothing

    drafts = run_and_issue(manager, *OCTOBER)
    assert sorted(i.number for i in drafts) == ["INV-2026-00001", "INV-2026-00002"]
    nias = next(i for i in drafts if i.client_id == nia.id)
    assert [line.pets for line in nias.lines][:1] == ["Rex"]
    assert nias.due_on == date(2026, 11, 16) and nias.status == InvoiceStatus.SENT
    assert billing.plan_run(*OCTOBER) == []  # nothing left to bill
    assert billing.create_drafts(*OCTOBER, manager) == []
    assert billing.account(nia.id).balance_cents == 10000
    books_agree(nia, other)


def test_the_database_refuses_a_visit_billed_twice(app, manager, walk, nia, monthly):
    visit = done_visit(nia, walk, date(2026, 10, 3))
    billing.create_drafts(*OCTOBER, manager)
    db.session.commit()
    second = Invoice(client=nia, status=InvoiceStatus.DRAFT, notes="", void_reason="")
    second.lines.append(InvoiceLine(kind="visit", visit_id=visit.id, billed_visit_id=visit.id, description="again",
                                    amount_cents=2500))
    db.session.add(second)
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_per_visit_and_advance_modes(app, manager, walk, nia, monthly):
    a = done_visit(nia, walk, date(2026, 10, 3))
    b = done_visit(nia, walk, date(2026, 10, 4))
    ahead = done_visit(nia, walk, date(2026, 12, 8), status=VisitStatus.SCHEDULED)
    monthly.billing_mode = "per_visit"
    plans = billing.plan_run(None, date(2026, 10, 31))
    assert [[v.id for v in p.visits] for p in plans] == [[a.id], [b.id]]
    monthly.billing_mode = "advance"
    assert billing.default_period(date(2026, 11, 25)) == (date(2026, 12, 1), date(2026, 12, 31))
    plans = billing.plan_run(date(2026, 12, 1), date(2026, 12, 31))
    assert [[v.id for v in p.visits] for p in plans] == [[ahead.id]]


def test_periods_of_each_cycle(app, monthly):
    monthly.billing_cycle_day = 15
    assert billing.period_containing(date(2026, 11, 3)) == (date(2026, 10, 15), date(2026, 11, 14))
    assert billing.default_period(date(2026, 11, 25)) == (date(2026, 10, 15), date(2026, 11, 14))
    monthly.billing_cycle, monthly.billing_cycle_anchor = "weekly", date(2026, 11, 2)  # a Monday
    assert billing.period_containing(date(2026, 11, 25)) == (date(2026, 11, 23), date(2026, 11, 29))
    monthly.billing_cycle = "biweekly"
    assert billing.period_containing(date(2026, 11, 25)) == (date(2026, 11, 16), date(2026, 11, 29))
    assert billing.default_period(date(2026, 11, 25)) == (date(2026, 11, 2), date(2026, 11, 15))


# ---- Tax, discounts, drafts ---------------------------------------------------------------------------------

def test_tax_is_rounded_per_line_halves_away_from_zero(app, manager, walk, nia, monthly):
    assert billing.round_cents(Decimal("2.5")) == 3 and billing.round_cents(Decimal("-2.5")) == -3
    monthly.tax_rate_bp = 825  # 8.25%
    done_visit(nia, walk, date(2026, 10, 3), price=1000)  # 82.5 -> 83
    done_visit(nia, walk, date(2026, 10, 4), price=1006)  # 82.995 -> 83
    invoice = billing.create_drafts(*OCTOBER, manager)[0]
    assert [line.tax_cents for line in invoice.lines] == [83, 83]
    assert (invoice.subtotal_cents, invoice.tax_cents, invoice.total_cents) == (2006, 166, 2172)
    billing.add_line(invoice, "discount", "Loyalty", None, 1000, None)  # 10% of 2006 = 200.6 -> 201
    assert invoice.lines[-1].amount_cents == -201 and invoice.lines[-1].tax_cents == -17  # -16.58
    billing.add_line(invoice, "charge", "Extra key cut", 500, None, date(2026, 10, 5))
    assert invoice.total_cents == 2006 - 201 + 500 + (83 + 83 - 17 + 41)
    with pytest.raises(FieldErrors) as refused:
        billing.add_line(invoice, "discount", "Too much", 100000, None, None)
    assert "below zero" in refused.value.errors["amount"]
    db.session.rollback()


def test_only_drafts_change_and_a_cancelled_visit_leaves_its_draft(app, manager, walk, nia, monthly):
    visit = done_visit(nia, walk, date(2026, 10, 3), status=VisitStatus.SCHEDULED)
    monthly.billing_mode = "advance"
    invoice = billing.create_drafts(*OCTOBER, manager)[0]
    db.session.commit()
    visit.starts_at = datetime.now(NY) + timedelta(days=3)  # still ahead, so it can be cancelled
    db.session.commit()
    visits.cancel_visit(visit, manager, reason="Client away")
    db.session.commit()
    db.session.refresh(invoice)
    assert invoice.lines == [] and invoice.total_cents == 0
    with pytest.raises(DomainError):
        billing.issue_invoice(invoice, manager)
    db.session.rollback()


def test_an_invoiced_visit_cancelled_later_is_credited_on_the_next_invoice(app, manager, walk, nia, monthly):
    visit = done_visit(nia, walk, date(2026, 10, 3), status=VisitStatus.SCHEDULED, price=3000)
    monthly.billing_mode = "advance"
    run_and_issue(manager, *OCTOBER)
    visit.starts_at = datetime.now(NY) + timedelta(days=3)
    db.session.commit()
    visits.cancel_visit(visit, manager, reason="Client away")
    done_visit(nia, walk, date(2026, 11, 3), status=VisitStatus.SCHEDULED, price=5000)
    db.session.commit()
    nov = run_and_issue(manager, date(2026, 11, 1), date(2026, 11, 30))[0]
    assert [(line.kind, line.amount_cents) for line in nov.lines] == [("visit", 5000), ("credit", -3000)]
    assert nov.total_cents == 2000
    assert billing.plan_run(date(2026, 11, 1), date(2026, 11, 30)) == []  # credited once
    books_agree(nia)


# ---- Issue, void -------------------------------------------------------------------------------------------

def test_issue_twice_is_refused_and_void_reverses_and_frees_the_visits(app, manager, walk, nia, monthly):
    done_visit(nia, walk, date(2026, 10, 3))
    invoice = run_and_issue(manager, *OCTOBER)[0]
    with pytest.raises(DomainError):
        billing.issue_invoice(invoice, manager)
    db.session.rollback()
    billing.record_payment(nia, "cash", 1000, date(2026, 11, 3), "", "", manager)
    db.session.commit()
    assert invoice.status == InvoiceStatus.PARTLY_PAID
    with pytest.raises(FieldErrors):
        billing.void_invoice(invoice, manager, "  ")
    billing.void_invoice(invoice, manager, "Wrong client")
    db.session.commit()
    assert invoice.status == InvoiceStatus.VOID and invoice.paid_cents == 0
    summary = billing.account(nia.id)
    assert (summary.balance_cents, summary.credit_cents) == (-1000, 1000)
    kinds = db.session.scalars(select(LedgerEntry.kind).where(LedgerEntry.client_id == nia.id)
                               .order_by(LedgerEntry.id)).all()
    assert kinds == ["invoice", "payment", "void"]
    books_agree(nia)
    again = run_and_issue(manager, *OCTOBER, today=date(2026, 11, 5))[0]  # the visit is billable again
    assert again.number == "INV-2026-00002" and again.status == InvoiceStatus.PARTLY_PAID  # the credit applied
    books_agree(nia)


def test_ledger_entries_cannot_be_changed_or_deleted(app, manager, walk, nia, monthly):
    done_visit(nia, walk, date(2026, 10, 3))
    run_and_issue(manager, *OCTOBER)
    entry = db.session.scalars(select(LedgerEntry)).one()
    entry.amount_cents = 1
    with pytest.raises(RuntimeError):
        db.session.flush()
    db.session.rollback()
    db.session.delete(db.session.scalars(select(LedgerEntry)).one())
    with pytest.raises(RuntimeError):
        db.session.flush()
    db.session.rollback()


def test_a_client_with_billing_history_cannot_be_deleted_with_it(app, manager, walk, nia, monthly):
    done_visit(nia, walk, date(2026, 10, 3))
    run_and_issue(manager, *OCTOBER)
    with pytest.raises(IntegrityError):
        db.session.execute(ClientDelete.stmt(nia.id))
        db.session.flush()
    db.session.rollback()
    assert db.session.scalar(select(func.count(LedgerEntry.id))) == 1


class ClientDelete:
    @staticmethod
    def stmt(client_id):
        from sqlalchemy import delete

        from models import ClientProfile
        return delete(ClientProfile).where(ClientProfile.id == client_id)


# ---- Payments, credits, refunds ----------------------------------------------------------------------------

def test_payments_go_oldest_first_and_what_is_left_is_credit(app, manager, walk, nia, monthly):
    done_visit(nia, walk, date(2026, 9, 3), price=3000)
    first = run_and_issue(manager, date(2026, 9, 1), date(2026, 9, 30), today=date(2026, 10, 1))[0]
    done_visit(nia, walk, date(2026, 10, 3), price=2000)
    second = run_and_issue(manager, *OCTOBER)[0]
    payment = billing.record_payment(nia, "check", 6000, date(2026, 11, 3), "1042", "", manager)
    db.session.commit()
    assert (first.status, second.status) == (InvoiceStatus.PAID, InvoiceStatus.PAID)
    assert payment.unallocated_cents == 1000 and billing.account(nia.id).balance_cents == -1000
    books_agree(nia)
    done_visit(nia, walk, date(2026, 11, 3), price=2500)
    third = run_and_issue(manager, date(2026, 11, 1), date(2026, 11, 30), today=date(2026, 12, 1))[0]
    assert third.status == InvoiceStatus.PARTLY_PAID and third.due_cents == 1500
    books_agree(nia)


def test_a_check_needs_its_number_and_a_payment_may_be_allocated_as_chosen(app, manager, walk, nia, monthly):
    with pytest.raises(FieldErrors) as refused:
        billing.record_payment(nia, "check", 1000, date(2026, 11, 3), "", "", manager)
    assert set(refused.value.errors) == {"reference"}
    with pytest.raises(FieldErrors) as refused:
        billing.record_payment(nia, "cash", 0, date(2099, 1, 1), "", "", manager)
    assert set(refused.value.errors) == {"amount", "received_on"}
    done_visit(nia, walk, date(2026, 9, 3), price=3000)
    old = run_and_issue(manager, date(2026, 9, 1), date(2026, 9, 30), today=date(2026, 10, 1))[0]
    done_visit(nia, walk, date(2026, 10, 3), price=2000)
    new = run_and_issue(manager, *OCTOBER)[0]
    billing.record_payment(nia, "bank_transfer", 2000, date(2026, 11, 3), "", "", manager, chosen={new.id: 2000})
    db.session.commit()
    assert (old.status, new.status) == (InvoiceStatus.SENT, InvoiceStatus.PAID)
    books_agree(nia)


def test_credit_applies_by_itself_unless_kept_back(app, manager, walk, nia, monthly):
    kept = billing.add_credit(nia, 500, "prepaid", "Prepaid for December", manager, auto_apply=False)
    billing.add_credit(nia, 700, "goodwill", "Sorry for the late walk", manager)
    with pytest.raises(FieldErrors):
        billing.add_credit(nia, 700, "goodwill", "", manager)
    done_visit(nia, walk, date(2026, 10, 3), price=2000)
    invoice = run_and_issue(manager, *OCTOBER)[0]
    assert invoice.paid_cents == 700 and kept.unallocated_cents == 500
    billing.allocate(kept, invoice, 500, manager)
    db.session.commit()
    assert invoice.due_cents == 800
    books_agree(nia)


def test_refunds_never_exceed_the_payment_and_come_off_credit_first(app, manager, walk, nia, monthly):
    done_visit(nia, walk, date(2026, 10, 3), price=2000)
    invoice = run_and_issue(manager, *OCTOBER)[0]
    payment = billing.record_payment(nia, "cash", 3000, date(2026, 11, 3), "", "", manager)
    db.session.commit()
    billing.refund_payment(payment, 500, "Overpaid", manager)  # from the 1000 credit
    db.session.commit()
    assert invoice.status == InvoiceStatus.PAID
    books_agree(nia)
    billing.refund_payment(payment, 1500, "", manager)  # 500 credit left, then 1000 off the invoice
    db.session.commit()
    assert invoice.status == InvoiceStatus.PARTLY_PAID and invoice.due_cents == 1000
    with pytest.raises(FieldErrors) as refused:
        billing.refund_payment(payment, 1001, "", manager)
    assert "$10.00" in refused.value.errors["amount"]
    db.session.rollback()
    credit = billing.add_credit(nia, 100, "goodwill", "note", manager)
    with pytest.raises(DomainError):
        billing.refund_payment(credit, 100, "", manager)
    db.session.rollback()
    books_agree(nia)


# ---- Reminders ---------------------------------------------------------------------------------------------

def test_reminders_go_once_per_threshold(app, manager, walk, nia, monthly):
    monthly.reminder_days = [7, 30]
    done_visit(nia, walk, date(2026, 9, 3))
    invoice = run_and_issue(manager, date(2026, 9, 1), date(2026, 9, 30), today=date(2026, 10, 1))[0]
    due = invoice.due_on
    assert billing.send_reminders(due + timedelta(days=6)) == 0
    assert billing.send_reminders(due + timedelta(days=7)) == 1
    assert billing.send_reminders(due + timedelta(days=8)) == 0
    assert billing.send_reminders(due + timedelta(days=40)) == 1
    assert billing.send_reminders(due + timedelta(days=41)) == 0
    db.session.commit()
    assert db.session.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.kind == "invoice-reminder")) == 2
    assert sorted(db.session.scalars(select(InvoiceReminder.days))) == [7, 30]


def test_a_late_job_sends_one_reminder_for_the_highest_threshold(app, manager, walk, nia, monthly):
    monthly.reminder_days = [7, 30]
    done_visit(nia, walk, date(2026, 9, 3))
    invoice = run_and_issue(manager, date(2026, 9, 1), date(2026, 9, 30), today=date(2026, 10, 1))[0]
    assert billing.send_reminders(invoice.due_on + timedelta(days=45)) == 1
    assert billing.send_reminders(invoice.due_on + timedelta(days=46)) == 0
    billing.record_payment(nia, "cash", 2500, date(2026, 11, 3), "", "", manager)
    assert invoice.status == InvoiceStatus.PAID


def test_four_reminder_runs_at_once_remind_each_invoice_once(app, manager, walk, make, monthly):
    """`flask billing remind` on several hosts at once (the same timer everywhere): each overdue invoice gets one
    reminder, whichever run takes it, and no run fails for waiting on another's claim."""
    from tests.conftest import at_once

    monthly.reminder_days = [7, 30]
    for n in range(12):
        done_visit(make.client(first_name=f"Late{n}"), walk, date(2026, 9, 3))
    invoices = run_and_issue(manager, date(2026, 9, 1), date(2026, 9, 30), today=date(2026, 10, 1))
    late = invoices[0].due_on + timedelta(days=8)
    outcomes = at_once(app, 4, lambda _i: billing.send_reminders(late))
    assert all(isinstance(each, int) for each in outcomes), outcomes  # no run failed on a lock
    assert sum(outcomes) == 12, outcomes
    reminded = db.session.execute(select(OutboxMessage.recipients).where(OutboxMessage.kind == "invoice-reminder")).all()
    assert len(reminded) == 12 and len({tuple(row.recipients) for row in reminded}) == 12
    assert db.session.scalar(select(func.count(InvoiceReminder.id))) == 12


def test_ledger_pages_carry_the_running_balance(app, manager, nia):
    for n in range(1, 56):
        billing.add_credit(nia, n * 100, "goodwill", f"Credit {n}", manager)
    db.session.commit()
    first, more = billing.ledger(nia.id, 1, per_page=50)
    second, more_after = billing.ledger(nia.id, 2, per_page=50)
    assert more and not more_after and (len(first), len(second)) == (50, 5)
    assert first[0].balance_cents == billing.account(nia.id).balance_cents == -sum(n * 100 for n in range(1, 56))
    assert second[0].balance_cents == first[-1].balance_cents - first[-1].entry.amount_cents
    assert second[-1].balance_cents == second[-1].entry.amount_cents == -100  # the first entry ever
    books_agree(nia)


def test_a_run_reads_again_after_locking_what_changed_since_it_planned(app, manager, walk, nia, monthly):
    from sqlalchemy import update

    from models import utcnow
    kept = done_visit(nia, walk, date(2026, 10, 3))
    gone = done_visit(nia, walk, date(2026, 10, 4))
    fee = done_visit(nia, walk, date(2026, 10, 5), status=VisitStatus.CANCELLED)
    fee.late_fee_cents = 1250
    db.session.commit()
    plans = billing.plan_run(*OCTOBER)
    assert [(len(p.visits), len(p.fees)) for p in plans] == [(2, 1)]
    # Meanwhile (another request): one visit cancelled, the fee waived.
    db.session.execute(update(Visit).where(Visit.id == gone.id).values(status=VisitStatus.CANCELLED))
    db.session.execute(update(Visit).where(Visit.id == fee.id).values(fee_waived_at=utcnow()))
    [plan] = billing._still_billable(plans, "cycle")
    assert [v.id for v in plan.visits] == [kept.id] and plan.fees == []
    db.session.rollback()


def test_a_no_show_fee_says_so_on_the_invoice(app, manager, walk, nia, monthly):
    missed = done_visit(nia, walk, date(2026, 10, 5), status=VisitStatus.MISSED)
    missed.late_fee_cents = 2500
    db.session.commit()
    [invoice] = billing.create_drafts(*OCTOBER, manager)
    assert invoice.lines[0].description.startswith("No-show: Dog walk")
