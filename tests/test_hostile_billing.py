"""A hostile review of billing: each test is a way found to break it (money created or lost, a 500 from odd
input, a client seeing what is not theirs), kept so it stays fixed."""
import threading
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from extensions import db
from models import Invoice, InvoiceStatus, LedgerEntry, StaffUser, VisitStatus
from services import billing, visits
from services.errors import DomainError
from tests.test_billing import (  # noqa: F401
    NY, OCTOBER, books_agree, books_checked_after, done_visit, monthly, nia, run_and_issue,
)

NOVEMBER = (date(2026, 11, 1), date(2026, 11, 30))


def _cancel_ahead(visit, manager):
    """Cancel a visit (moved ahead first, so that it can be)."""
    visit.starts_at = datetime.now(NY) + timedelta(days=3)
    db.session.commit()
    visits.cancel_visit(visit, manager, reason="Client away")
    db.session.commit()


def test_a_draft_left_below_zero_by_a_cancellation_is_not_sent(app, manager, walk, nia, monthly):
    # Billing in advance: a booked visit sits on a draft with a $10 discount; the visit is cancelled, leaves the
    # draft, and the discount alone is left. Sending it posted a negative invoice "paid 0 of -1000".
    monthly.billing_mode = "advance"
    visit = done_visit(nia, walk, date(2026, 10, 3), status=VisitStatus.SCHEDULED, price=3000)
    draft = billing.create_drafts(*OCTOBER, manager)[0]
    billing.add_line(draft, "discount", "Friends and family", 1000, None, None)
    db.session.commit()
    _cancel_ahead(visit, manager)
    db.session.refresh(draft)
    assert draft.total_cents < 0
    with pytest.raises(DomainError, match="below zero"):
        billing.issue_invoice(draft, manager)
    db.session.rollback()
    assert db.session.get(Invoice, draft.id).status == InvoiceStatus.DRAFT
    assert db.session.scalar(select(func.count(LedgerEntry.id))) == 0
    books_agree(nia)


@pytest.mark.parametrize("kind", ["invoices", "lines", "payments"])
@pytest.mark.parametrize("query", ["start=0001-01-01&end=9999-12-31", "start=9999-12-31&end=9999-12-31",
                                   "start=0001-01-01&end=0001-01-01", "start=9999-12-31&end=0001-01-01"])
def test_exports_take_the_calendar_s_first_and_last_days(app, as_manager, manager, walk, nia, monthly, kind, query):
    # The payments export looked for refunds before the day after `end`: 9999-12-31 overflowed into a 500.
    run_and_issue(manager, *OCTOBER)
    answer = as_manager.get(f"/billing/exports/{kind}.csv?{query}")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"


def test_a_refund_late_in_the_evening_is_exported_on_its_own_day(app, as_manager, manager, walk, nia, monthly):
    # The refunds' bounds were local midnights compared as they were against the stored UTC moments on SQLite, so
    # a refund at 21:30 in New York on 30 November (02:30 UTC on 1 December) was in December's file and not November's.
    payment = billing.record_payment(nia, "cash", 2000, date(2026, 11, 3), "", "", manager)
    entry = billing.refund_payment(payment, 500, "", manager)
    db.session.commit()
    evening = datetime(2026, 11, 30, 21, 30, tzinfo=NY)
    db.session.execute(LedgerEntry.__table__.update().where(LedgerEntry.id == entry.id).values(at=evening))
    db.session.commit()

    def refunds(start, end):
        body = as_manager.get(f"/billing/exports/payments.csv?start={start}&end={end}").get_data(as_text=True)
        return [line for line in body.splitlines() if ",refund," in line]

    assert [line.split(",")[0] for line in refunds("2026-11-01", "2026-11-30")] == ["2026-11-30"]
    assert refunds("2026-12-01", "2026-12-31") == []


def _credited_on_the_next(manager, nia, walk, monthly):
    """October's invoice bills a visit (3000) that is then cancelled; November's draft has a 5000 visit and the
    credit for the cancelled one."""
    monthly.billing_mode = "advance"
    visit = done_visit(nia, walk, date(2026, 10, 3), status=VisitStatus.SCHEDULED, price=3000)
    [october] = run_and_issue(manager, *OCTOBER)
    _cancel_ahead(visit, manager)
    done_visit(nia, walk, date(2026, 11, 3), status=VisitStatus.SCHEDULED, price=5000)
    [november] = billing.create_drafts(*NOVEMBER, manager)
    db.session.commit()
    assert [(line.kind, line.amount_cents) for line in november.lines] == [("visit", 5000), ("credit", -3000)]
    return october, november


def test_voiding_an_invoice_takes_the_credit_for_its_visits_off_drafts(app, manager, walk, nia, monthly):
    # The credit was for a visit charged on October's invoice; with that invoice voided the client was never charged
    # for it, yet the credit stayed on the draft and was sent: the client paid 2000 for a 5000 visit.
    october, november = _credited_on_the_next(manager, nia, walk, monthly)
    billing.void_invoice(october, manager, "Billed the wrong month")
    db.session.commit()
    db.session.refresh(november)
    assert [(line.kind, line.amount_cents) for line in november.lines] == [("visit", 5000)]
    billing.issue_invoice(november, manager)
    db.session.commit()
    assert billing.balance(nia.id) == 5000
    books_agree(nia)


def test_an_invoice_whose_visit_was_credited_on_a_sent_one_is_not_voided_alone(app, manager, walk, nia, monthly):
    # The same, with November's invoice sent: voiding October's left the client 3000 of credit for nothing.
    october, november = _credited_on_the_next(manager, nia, walk, monthly)
    billing.issue_invoice(november, manager)
    db.session.commit()
    with pytest.raises(DomainError, match=november.number):
        billing.void_invoice(october, manager, "Billed the wrong month")
    db.session.rollback()
    assert db.session.get(Invoice, october.id).status == InvoiceStatus.SENT
    billing.void_invoice(november, manager, "Redo both")  # the later one first, then the first goes
    billing.void_invoice(october, manager, "Redo both")
    db.session.commit()
    assert billing.balance(nia.id) == 0
    books_agree(nia)


def test_extra_charges_cannot_take_an_invoice_past_the_largest_amount(app, as_manager, manager, walk, nia, monthly):
    # Each charge was capped at $9,999,999.99 but their sum was not: three of them made a total past a 32-bit
    # column, a 500 on PostgreSQL (and a total no column of the books can hold on SQLite).
    done_visit(nia, walk, date(2026, 10, 3))
    [draft] = billing.create_drafts(*OCTOBER, manager)
    db.session.commit()
    url = f"/billing/invoices/{draft.id}/lines"
    assert as_manager.post(url, data={"kind": "charge", "description": "Big", "amount": "9,999,974.99"}
                           ).status_code == 303
    for amount in ("0.02", "9,999,999.99"):
        refused = as_manager.post(url, data={"kind": "charge", "description": "Big", "amount": amount})
        assert refused.status_code == 422 and b"at most $10,000,000.00" in refused.data
    db.session.expire_all()
    assert db.session.get(Invoice, draft.id).total_cents == billing.MAX_CENTS - 1
    assert len(db.session.get(Invoice, draft.id).lines) == 2


def _elsewhere(app, work) -> None:
    """Run `work()` as another request would: its own session, committed before this one goes on."""
    failed = []

    def run():
        with app.app_context():
            try:
                work()
                db.session.commit()
            except Exception as error:  # noqa: BLE001 - reported to the test below
                failed.append(error)
            finally:
                db.session.remove()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(60)
    assert not failed, failed


@pytest.mark.parametrize("change", ["add", "remove"])
def test_a_draft_sent_meanwhile_is_not_changed_by_a_page_loaded_before(app, manager, walk, nia, monthly, change):
    # One manager has the draft open and adds a discount (or removes a line) while another sends it. The edit
    # checked the status it had loaded, not the one committed meanwhile: the sent invoice's lines and total
    # changed after its amount was posted to the ledger.
    done_visit(nia, walk, date(2026, 10, 3))
    done_visit(nia, walk, date(2026, 10, 4))
    [draft] = billing.create_drafts(*OCTOBER, manager)
    db.session.commit()
    line_id = draft.lines[0].id
    manager_id = manager.id
    assert draft.status == InvoiceStatus.DRAFT  # as the first manager's request loaded it

    _elsewhere(app, lambda: billing.issue_invoice(db.session.get(Invoice, draft.id),
                                                  db.session.get(StaffUser, manager_id)))
    with pytest.raises(DomainError, match="Only a draft"):
        if change == "add":
            billing.add_line(draft, "discount", "Late", 1000, None, None)
        else:
            billing.remove_line(draft, line_id)
    db.session.rollback()
    db.session.expire_all()
    assert db.session.get(Invoice, draft.id).total_cents == 5000
    books_agree(nia)


def test_a_visit_cancelled_while_its_draft_is_being_sent_is_credited_not_taken_off(app, manager, walk, nia, monthly):
    # Billing in advance, a client cancels a booked visit at the moment a manager sends the draft it is on. The
    # cancellation took no lock: it read the draft as a draft before the send committed, then took the line off the
    # invoice the send had just posted, and the books no longer agreed. (On SQLite, which writes one at a time, the
    # cancellation waits for the send's commit: the same outcome is asserted.)
    monthly.billing_mode = "advance"
    visit = done_visit(nia, walk, date(2026, 10, 3), status=VisitStatus.SCHEDULED, price=3000)
    done_visit(nia, walk, date(2026, 10, 4), status=VisitStatus.SCHEDULED, price=2000)
    [draft] = billing.create_drafts(*OCTOBER, manager)
    visit.starts_at = datetime.now(NY) + timedelta(days=3)
    db.session.commit()
    manager_id, issued, go_on = manager.id, threading.Event(), threading.Event()

    def send():
        with app.app_context():
            try:
                billing.issue_invoice(db.session.get(Invoice, draft.id), db.session.get(StaffUser, manager_id))
                db.session.flush()
                issued.set()
                go_on.wait(1)  # the cancellation starts while the send has not committed yet
                db.session.commit()
            finally:
                issued.set()
                db.session.remove()

    sender = threading.Thread(target=send)
    sender.start()
    assert issued.wait(30)
    canceller = threading.Timer(0.5, go_on.set)
    canceller.start()
    visits.cancel_visit(visit, manager, reason="Client away")
    db.session.commit()
    sender.join(30)
    db.session.expire_all()
    sent = db.session.get(Invoice, draft.id)
    assert sent.status == InvoiceStatus.SENT and sent.total_cents == 5000 and len(sent.lines) == 2
    books_agree(nia)


@pytest.mark.parametrize("no_show", [False, True])
def test_a_visit_billed_in_advance_then_missed_is_credited(app, manager, walk, nia, monthly, no_show):
    # Billing in advance, a booked visit is invoiced, then did not happen. Missed "costs the client nothing" and a
    # no-show costs the no-show fee (as in a cycle, where neither is billed as a visit); but only cancelled visits
    # were credited, so the client paid the full price for a missed visit, and price plus fee for a no-show.
    from services import checkins
    from services.settings import get_settings

    get_settings().late_fee_tiers = [{"hours": 2, "percent": 100}]
    monthly.billing_mode = "advance"
    visit = done_visit(nia, walk, date(2026, 10, 3), status=VisitStatus.SCHEDULED, price=3000)
    run_and_issue(manager, *OCTOBER)
    checkins.mark_missed(visit, manager, "Nobody home" if no_show else "Sitter ill", no_show=no_show)
    done_visit(nia, walk, date(2026, 11, 3), status=VisitStatus.SCHEDULED, price=5000)
    [november] = run_and_issue(manager, *NOVEMBER)
    kinds = [(line.kind, line.amount_cents) for line in november.lines]
    expected = [("visit", 5000), ("fee", 3000), ("credit", -3000)] if no_show else [("visit", 5000), ("credit", -3000)]
    assert kinds == expected
    assert "missed" in november.lines[-1].description
    assert billing.balance(nia.id) == 3000 + 5000 + (3000 if no_show else 0) - 3000
    assert billing.plan_run(*NOVEMBER) == []  # credited once
    books_agree(nia)


def test_a_run_drops_a_credit_whose_invoice_was_voided_after_it_planned(app, manager, walk, nia, monthly):
    # The run plans (October's invoice issued: its cancelled visit is credited), then another request voids
    # October's invoice before the run locks the client. The run read again only the visits' states, so it still
    # put the credit on November's draft for a visit that is now charged nowhere.
    monthly.billing_mode = "advance"
    visit = done_visit(nia, walk, date(2026, 10, 3), status=VisitStatus.SCHEDULED, price=3000)
    [october] = run_and_issue(manager, *OCTOBER)
    _cancel_ahead(visit, manager)
    done_visit(nia, walk, date(2026, 11, 3), status=VisitStatus.SCHEDULED, price=5000)
    plans = billing.plan_run(*NOVEMBER)
    assert [len(plan.credits) for plan in plans] == [1]
    manager_id = manager.id
    _elsewhere(app, lambda: billing.void_invoice(db.session.get(Invoice, october.id),
                                                 db.session.get(StaffUser, manager_id), "Wrong month"))
    [plan] = billing._still_billable(plans, "advance")
    assert plan.credits == [] and [v.price_cents for v in plan.visits] == [5000]
    db.session.rollback()


def test_a_credit_gives_back_the_tax_that_was_charged_not_today_s(app, manager, walk, nia, monthly):
    # A visit charged with 8.25% tax (30.00 + 2.48), cancelled after the tax rate changed to 10%: the credit took
    # today's rate (30.00 + 3.00), giving back 0.52 more than the client paid (and less when the rate went down).
    monthly.billing_mode = "advance"
    monthly.tax_rate_bp = 825
    visit = done_visit(nia, walk, date(2026, 10, 3), status=VisitStatus.SCHEDULED, price=3000)
    [october] = run_and_issue(manager, *OCTOBER)
    assert october.total_cents == 3248
    monthly.tax_rate_bp = 1000
    _cancel_ahead(visit, manager)
    done_visit(nia, walk, date(2026, 11, 3), status=VisitStatus.SCHEDULED, price=5000)
    [november] = run_and_issue(manager, *NOVEMBER)
    credit = next(line for line in november.lines if line.kind == "credit")
    assert (credit.amount_cents, credit.tax_cents) == (-3000, -248)
    assert november.total_cents == 5500 - 3248
    assert billing.balance(nia.id) == 5500
    books_agree(nia)


def test_a_credit_with_more_tax_than_the_next_invoice_s_waits(app, manager, walk, nia, monthly):
    # The same credit (30.00 + 2.48 tax) against a next visit of 30.00 once the tax is gone: it would leave the draft
    # at -2.48, a draft that could not be sent; it waits for an invoice it fits on.
    monthly.billing_mode = "advance"
    monthly.tax_rate_bp = 825
    visit = done_visit(nia, walk, date(2026, 10, 3), status=VisitStatus.SCHEDULED, price=3000)
    run_and_issue(manager, *OCTOBER)
    monthly.tax_rate_bp = 0
    _cancel_ahead(visit, manager)
    done_visit(nia, walk, date(2026, 11, 3), status=VisitStatus.SCHEDULED, price=3000)
    [plan] = billing.plan_run(*NOVEMBER)
    assert plan.credits == [] and plan.total_cents == 3000
    [november] = run_and_issue(manager, *NOVEMBER)
    assert [line.kind for line in november.lines] == ["visit"]
    books_agree(nia)


def test_a_voided_draft_is_not_said_to_be_sent(app, as_manager, manager, walk, nia, monthly):
    # A draft voided by one manager and then ticked for sending by another was refused as "sent already".
    done_visit(nia, walk, date(2026, 10, 3))
    [draft] = billing.create_drafts(*OCTOBER, manager)
    billing.void_invoice(draft, manager, "Duplicate")
    db.session.commit()
    answer = as_manager.post("/billing/send", data={"invoice": [str(draft.id)]}, follow_redirects=True)
    assert b"is void" in answer.data and b"sent already" not in answer.data
    assert db.session.scalar(select(func.count(LedgerEntry.id))) == 0


@pytest.fixture
def mine(me):
    return me.client


def test_a_draft_voided_before_it_was_sent_stays_out_of_the_portal(app, portal, manager, walk, mine, monthly):
    # A draft the office voided was never sent, yet as "void" it was no longer a draft: the client found it in
    # the account's list and could open it and its PDF (with whatever note the office had been writing).
    done_visit(mine, walk, date(2026, 10, 3))
    [draft] = billing.create_drafts(*OCTOBER, manager)
    billing.set_notes(draft, "Office only: check the dog's name")
    billing.void_invoice(draft, manager, "Wrong client")
    db.session.commit()
    assert portal.get(f"/portal/invoices/{draft.id}").status_code == 404
    assert portal.get(f"/portal/invoices/{draft.id}.pdf").status_code == 404
    assert draft.title.encode() not in portal.get("/portal/account?all=1").data
    assert billing.client_invoices(mine.id, None) == []
