"""The billing desk and the client's account on the web: pages and fragments, the run, sending, voids,
payments, credits and refunds through forms, concurrency (numbers, runs, refunds), exports, aging, who
may see what (sitters 403, another client's invoice or receipt 404), and flat query counts."""
import csv
import io
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from extensions import db
from filters import business_today
from models import ClientLogin, Invoice, InvoiceStatus, LedgerEntry, Payment, Role, StaffUser
from services import billing, outbox
from tests.conftest import HX, at_once, login_as, smtp_config
from tests.test_billing import OCTOBER, books_agree, books_checked_after, done_visit, run_and_issue  # noqa: F401

pytestmark = pytest.mark.usefixtures("monthly")


@pytest.fixture
def app_config(smtp):
    return smtp_config(smtp)


@pytest.fixture
def nia(me):
    return me.client


@pytest.fixture
def monthly(app):
    from services.settings import get_settings

    settings = get_settings()
    settings.billing_mode, settings.billing_cycle, settings.billing_cycle_day = "cycle", "monthly", 1
    settings.payment_terms_days = 14
    db.session.commit()
    return settings


def issued(manager, client, walk, price=2500, day=date(2026, 10, 3)) -> Invoice:
    done_visit(client, walk, day, price=price)
    return run_and_issue(manager, day.replace(day=1), day.replace(day=28))[0]


# ---- Pages -------------------------------------------------------------------------------------------------

def test_the_list_is_a_page_or_its_fragment_and_filters_sort_and_search(app, as_manager, manager, make, walk, nia):
    first = issued(manager, nia, walk)
    other = make.client(first_name="Zed", last_name="Quill")
    second = issued(manager, other, walk, price=9900, day=date(2026, 9, 3))
    page = as_manager.get("/billing/")
    assert page.status_code == 200 and b"<html" in page.data and b"INV-2026-00001" in page.data
    fragment = as_manager.get("/billing/?q=quill", headers=HX)
    assert b"<html" not in fragment.data and "HX-Request" in fragment.headers["Vary"]
    assert second.number.encode() in fragment.data and first.number.encode() not in fragment.data
    by_total = as_manager.get("/billing/?sort=total&dir=desc").data.decode()
    assert by_total.index(second.number) < by_total.index(first.number)
    assert b"No drafts" in as_manager.get("/billing/?state=draft").data
    today = business_today()
    overdue = as_manager.get("/billing/?state=overdue").data
    assert (first.number.encode() in overdue) == (first.due_on < today)


def test_preview_creates_nothing_then_the_run_creates_drafts(app, as_manager, walk, nia):
    done_visit(nia, walk, date(2026, 10, 3))
    preview = as_manager.get("/billing/run?start=2026-10-01&end=2026-10-31")
    assert preview.status_code == 200 and b"Nia Reyes" in preview.data and b"$25.00" in preview.data
    assert db.session.scalar(select(func.count(Invoice.id))) == 0
    bad = as_manager.get("/billing/run?start=2026-10-31&end=2026-10-01", headers=HX)
    assert bad.status_code == 422 and b"ends before it starts" in bad.data
    created = as_manager.post("/billing/run", data={"start": "2026-10-01", "end": "2026-10-31"})
    assert created.status_code == 303 and "state=draft" in created.headers["Location"]
    assert db.session.scalars(select(Invoice.status)).all() == [InvoiceStatus.DRAFT]
    again = as_manager.post("/billing/run", data={"start": "2026-10-01", "end": "2026-10-31"}, follow_redirects=True)
    assert b"Nothing to bill" in again.data


def test_a_draft_is_edited_then_sent_once_and_voided_with_a_reason(app, as_manager, walk, nia, inbox):
    done_visit(nia, walk, date(2026, 10, 3))
    as_manager.post("/billing/run", data={"start": "2026-10-01", "end": "2026-10-31"})
    invoice = db.session.scalars(select(Invoice)).one()
    url = f"/billing/invoices/{invoice.id}"
    refused = as_manager.post(f"{url}/lines", data={"kind": "discount", "description": "Both", "amount": "5",
                                                    "percent": "10"}, headers=HX)
    assert refused.status_code == 422 and b"not both" in refused.data and b"<html" not in refused.data
    assert as_manager.post(f"{url}/lines", data={"kind": "discount", "description": "Bad", "percent": "abc"}
                           ).status_code == 422
    assert as_manager.post(f"{url}/lines", data={"kind": "charge", "description": "Key copy", "amount": "4.50"}
                           ).status_code == 303
    assert as_manager.post(f"{url}/send").status_code == 303
    db.session.expire_all()
    invoice = db.session.get(Invoice, invoice.id)
    assert invoice.total_cents == 2950 and invoice.number == f"INV-{business_today().year}-00001"
    twice = as_manager.post(f"{url}/send", headers=HX)
    assert twice.status_code == 409 and b"was sent already" in twice.data
    assert as_manager.post(f"{url}/lines", data={"kind": "charge", "description": "Late", "amount": "1"}
                           ).status_code == 422  # only drafts change
    no_reason = as_manager.post(f"{url}/void", data={"reason": " "}, headers=HX)
    assert no_reason.status_code == 422 and b"Say why" in no_reason.data
    assert as_manager.post(f"{url}/void", data={"reason": "Billed the wrong month"}).status_code == 303
    db.session.expire_all()
    assert db.session.get(Invoice, invoice.id).status == InvoiceStatus.VOID
    books_agree(nia)
    outbox.deliver_all()
    [sent] = inbox.to("nia@example.com")
    assert invoice.number in sent["Subject"] and "$29.50" in inbox.text(sent)


def test_batch_send_sends_the_ticked_drafts(app, as_manager, make, walk, nia):
    other = make.client(first_name="Ada", last_name="Byron")
    done_visit(nia, walk, date(2026, 10, 3))
    done_visit(other, walk, date(2026, 10, 4))
    as_manager.post("/billing/run", data={"start": "2026-10-01", "end": "2026-10-31"})
    ids = db.session.scalars(select(Invoice.id).order_by(Invoice.id)).all()
    assert b"Tick the drafts" in as_manager.post("/billing/send", data={}, follow_redirects=True).data
    answer = as_manager.post("/billing/send", data={"invoice": [str(i) for i in ids] + ["x"]}, follow_redirects=True)
    assert b"2 invoices sent" in answer.data
    assert sorted(db.session.scalars(select(Invoice.number))) == [f"INV-{business_today().year}-0000{n}"
                                                                  for n in (1, 2)]


# ---- The client's account ----------------------------------------------------------------------------------

def test_payment_form_says_what_is_wrong_beside_each_field(app, as_manager, manager, walk, nia):
    invoice = issued(manager, nia, walk)
    url = f"/billing/clients/{nia.id}/payments"
    answer = as_manager.post(url, data={"method": "check", "amount": "€5", "received_on": "2026-11-03",
                                        "allocate": "oldest"}, headers=HX)
    assert answer.status_code == 422 and b"<html" not in answer.data
    assert b"Amounts are in $" in answer.data
    answer = as_manager.post(url, data={"method": "check", "amount": "5", "received_on": "2026-11-03",
                                        "allocate": "oldest"}, headers=HX)
    assert answer.status_code == 422 and b"Enter the check number." in answer.data
    answer = as_manager.post(url, data={"method": "cash", "amount": "50", "received_on": "2026-11-03",
                                        "allocate": "chosen", f"invoice_{invoice.id}": "30"}, headers=HX)
    assert answer.status_code == 422 and b"At most $25.00 is due" in answer.data
    assert db.session.scalar(select(func.count(Payment.id))) == 0  # nothing half-saved
    assert as_manager.post(url, data={"method": "check", "reference": "1042", "amount": "40",
                                      "received_on": "2026-11-03", "allocate": "oldest"}).status_code == 303
    db.session.expire_all()
    assert db.session.get(Invoice, invoice.id).status == InvoiceStatus.PAID
    assert billing.account(nia.id).credit_cents == 1500
    page = as_manager.get(f"/billing/clients/{nia.id}").data
    assert b"In credit $15.00" in page and b"Check 1042" in page
    books_agree(nia)


def test_credit_and_refund_through_the_forms_with_a_receipt_by_email(app, as_manager, manager, walk, nia, inbox):
    invoice = issued(manager, nia, walk)
    assert as_manager.post(f"/billing/clients/{nia.id}/credits", data={
        "credit-amount": "5", "credit-reason": "goodwill", "credit-note": ""}).status_code == 422
    assert as_manager.post(f"/billing/clients/{nia.id}/credits", data={
        "credit-amount": "5", "credit-reason": "goodwill", "credit-note": "Late walk", "credit-auto_apply": "y"}
    ).status_code == 303
    billing.record_payment(nia, "cash", 2000, date(2026, 11, 3), "", "", manager)
    db.session.commit()
    payment = db.session.scalars(select(Payment).where(Payment.method == "cash")).one()
    url = f"/billing/clients/{nia.id}/payments/{payment.id}/refund"
    too_much = as_manager.post(url, data={f"refund{payment.id}-amount": "20.01"}, headers=HX)
    assert too_much.status_code == 422 and b"Only $20.00 of this payment is left to refund." in too_much.data
    assert as_manager.post(url, data={f"refund{payment.id}-amount": "7.50", f"refund{payment.id}-note": "Sorry"}
                           ).status_code == 303
    db.session.expire_all()
    assert db.session.get(Invoice, invoice.id).due_cents == 750
    books_agree(nia)
    outbox.deliver_all()
    subjects = sorted(m["Subject"] for m in inbox.to("nia@example.com"))
    assert any("Refund receipt" in s for s in subjects) and any("Payment receipt" in s for s in subjects)
    refund_mail = next(m for m in inbox.to("nia@example.com") if "Refund receipt" in m["Subject"])
    assert "$7.50" in inbox.text(refund_mail)


# ---- Concurrency -------------------------------------------------------------------------------------------


def test_twenty_invoices_issued_at_once_are_numbered_without_gaps(app, manager, make, walk):
    clients = [make.client(first_name=f"C{i}") for i in range(20)]
    for client in clients:
        done_visit(client, walk, date(2026, 10, 3))
    ids = [i.id for i in billing.create_drafts(*OCTOBER, manager)]
    db.session.commit()
    manager_id = manager.id

    def issue(i):
        return billing.issue_invoice(db.session.get(Invoice, ids[i]), db.session.get(StaffUser, manager_id),
                                     today=date(2026, 11, 2)).number

    numbers = at_once(app, 20, issue)
    assert sorted(numbers) == [f"INV-2026-{n:05d}" for n in range(1, 21)], numbers
    db.session.expire_all()
    assert sorted(db.session.scalars(select(Invoice.number))) == sorted(numbers)


def test_two_runs_at_once_bill_each_visit_once(app, manager, make, walk):
    for i in range(6):
        done_visit(make.client(first_name=f"R{i}"), walk, date(2026, 10, 3 + i))
    manager_id = manager.id
    outcomes = at_once(app, 2, lambda i: len(billing.create_drafts(*OCTOBER,
                                                                       db.session.get(StaffUser, manager_id))))
    db.session.expire_all()
    lines = db.session.scalar(select(func.count()).select_from(select(Invoice.id).join(Invoice.lines).subquery()))
    assert lines == 6, outcomes
    assert sorted(map(str, outcomes)) in (["0", "6"], ["6", "RunCollision"]), outcomes


def test_two_refunds_at_once_never_return_more_than_was_paid(app, manager, walk, nia):
    issued(manager, nia, walk)
    payment_id = billing.record_payment(nia, "cash", 3000, date(2026, 11, 3), "", "", manager).id
    db.session.commit()
    manager_id = manager.id

    def refund(i):
        billing.refund_payment(db.session.get(Payment, payment_id), 2000, "", db.session.get(StaffUser, manager_id))
        return "refunded"

    outcomes = at_once(app, 2, refund)
    assert sorted(outcomes) == ["FieldErrors", "refunded"], outcomes
    db.session.expire_all()
    assert db.session.get(Payment, payment_id).refunded_cents == 2000
    books_agree(nia)


# ---- Who sees what -----------------------------------------------------------------------------------------

BILLING_PAGES = ["/billing/", "/billing/run", "/billing/aging", "/billing/exports", "/billing/exports/invoices.csv",
                 "/billing/invoices/{invoice}", "/billing/invoices/{invoice}.pdf", "/billing/clients/{client}", "/billing/receipts/{entry}"]
BILLING_POSTS = ["/billing/send", "/billing/run", "/billing/invoices/{invoice}/lines",
                 "/billing/invoices/{invoice}/lines/1/remove", "/billing/invoices/{invoice}/notes",
                 "/billing/invoices/{invoice}/send", "/billing/invoices/{invoice}/void",
                 "/billing/clients/{client}/payments", "/billing/clients/{client}/credits",
                 "/billing/clients/{client}/payments/{payment}/refund",
                 "/billing/clients/{client}/payments/{payment}/allocate"]


def test_sitters_never_see_money(app, make, manager, walk, nia):
    invoice = issued(manager, nia, walk)
    payment = billing.record_payment(nia, "cash", 100, date(2026, 11, 3), "", "", manager)
    db.session.commit()
    entry = db.session.scalars(select(LedgerEntry).where(LedgerEntry.kind == "payment")).one()
    ids = {"invoice": invoice.id, "client": nia.id, "entry": entry.id, "payment": payment.id}
    sitter = make.staff(Role.SITTER)
    browser = app.test_client()
    login_as(browser, sitter)
    for url in BILLING_PAGES:
        assert browser.get(url.format(**ids)).status_code == 403, url
    for url in BILLING_POSTS:
        assert browser.post(url.format(**ids), data={"amount": "1", "reason": "x"}).status_code == 403, url
    assert b"/billing/" not in browser.get("/today/").data  # no Billing in a sitter's menu
    before = billing.account(nia.id).balance_cents
    assert before == 2400


def test_a_client_sees_only_their_own_issued_invoices_and_receipts(app, portal, make, manager, walk, nia):
    mine = issued(manager, nia, walk)
    other = make.client(first_name="Ada", last_name="Byron")
    theirs = issued(manager, other, walk, day=date(2026, 9, 3))
    draft = Invoice(client=nia, status=InvoiceStatus.DRAFT, notes="", void_reason="", paid_cents=0)
    db.session.add(draft)
    billing.record_payment(nia, "cash", 500, date(2026, 11, 3), "", "", manager)
    billing.record_payment(other, "cash", 700, date(2026, 11, 3), "", "", manager)
    db.session.commit()
    my_entry, their_entry = (db.session.scalars(select(LedgerEntry.id).where(LedgerEntry.kind == "payment",
                                                                             LedgerEntry.client_id == c.id)).one()
                             for c in (nia, other))
    account = portal.get("/portal/account")
    assert account.status_code == 200 and mine.number.encode() in account.data
    assert theirs.number.encode() not in account.data and b"$20.00" in account.data  # due after the $5 payment
    assert portal.get(f"/portal/invoices/{mine.id}").status_code == 200
    assert portal.get(f"/portal/invoices/{theirs.id}").status_code == 404
    assert portal.get(f"/portal/invoices/{draft.id}").status_code == 404
    assert portal.get(f"/portal/receipts/{my_entry}").status_code == 200
    assert portal.get(f"/portal/receipts/{their_entry}").status_code == 404
    invoice_entry = db.session.scalars(select(LedgerEntry.id).where(LedgerEntry.kind == "invoice",
                                                                    LedgerEntry.client_id == nia.id)).one()
    assert portal.get(f"/portal/receipts/{invoice_entry}").status_code == 404  # not a receipt
    assert portal.get("/billing/").status_code == 403


def test_the_switches_hide_invoices_and_payments(app, portal, manager, walk, nia, monthly):
    invoice = issued(manager, nia, walk)
    monthly.portal_invoices = False
    db.session.commit()
    assert portal.get(f"/portal/invoices/{invoice.id}").status_code == 404
    page = portal.get("/portal/account").data
    assert invoice.number.encode() not in page and b"Payments and refunds" in page
    monthly.portal_payments = False
    db.session.commit()
    assert portal.get("/portal/account").status_code == 404
    assert b"/portal/account" not in portal.get("/portal/").data


def test_older_invoices_on_request(app, portal, manager, walk, nia):
    old = issued(manager, nia, walk, day=date(2024, 3, 3))
    old.issued_on = date(2024, 4, 1)
    db.session.commit()
    assert old.number.encode() not in portal.get("/portal/account").data
    assert b"Show older invoices" in portal.get("/portal/account").data
    assert old.number.encode() in portal.get("/portal/account?all=1").data


# ---- Exports and aging -------------------------------------------------------------------------------------

def test_exports_escape_formulas_and_write_plain_amounts(app, as_manager, manager, make, walk):
    evil = make.client(first_name="=HYPERLINK(\"http://x\")", last_name="")
    invoice = issued(manager, evil, walk, price=-0 + 1234)
    billing.record_payment(evil, "check", 1234, date(2026, 11, 3), "@SUM(A1)", "", manager)
    db.session.commit()
    year = business_today().year
    rows = list(csv.reader(io.StringIO(as_manager.get(
        f"/billing/exports/invoices.csv?start={year}-01-01&end={year}-12-31").data.decode())))
    assert rows[0][:3] == ["InvoiceNo", "Customer", "CustomerId"]
    assert rows[1][0] == invoice.number and rows[1][1].startswith("'=HYPERLINK") and rows[1][8] == "12.34"
    payments = list(csv.reader(io.StringIO(as_manager.get(
        "/billing/exports/payments.csv?start=2026-11-01&end=2026-11-30").data.decode())))
    assert payments[1][5] == "'@SUM(A1)" and payments[1][6] == "12.34"
    lines = as_manager.get(f"/billing/exports/lines.csv?start={year}-01-01&end={year}-12-31")
    assert lines.headers["Content-Type"].startswith("text/csv") and b"Dog walk" in lines.data
    assert as_manager.get("/billing/exports/secrets.csv").status_code == 404


def test_aging_puts_each_open_invoice_in_its_bucket(app, as_manager, manager, make, walk):
    today = business_today()
    ages = {"Current": 0, "Late20": 20, "Late45": 45, "Late100": 100}
    for name, late in ages.items():
        client = make.client(first_name=name, last_name="Aged")
        invoice = issued(manager, client, walk, price=1000 + late)
        invoice.due_on = today - timedelta(days=late)
    db.session.commit()
    rows, totals = billing.aging()
    by_name = {row["name"]: row for row in rows}
    assert by_name["Current Aged"]["current"] == 1000
    assert by_name["Late20 Aged"]["1_30"] == 1020
    assert by_name["Late45 Aged"]["31_60"] == 1045
    assert by_name["Late100 Aged"]["over_90"] == 1100
    assert totals["total"] == 4165 and totals["61_90"] == 0
    assert b"Late100 Aged" in as_manager.get("/billing/aging").data


# ---- Query counts ------------------------------------------------------------------------------------------

def test_desk_account_and_portal_pages_read_a_flat_number_of_queries(app, as_manager, portal, manager, walk, nia,
                                                                      count_queries):
    def counts():
        found = {}
        for url, browser in (("/billing/", as_manager), ("/billing/aging", as_manager),
                             (f"/billing/clients/{nia.id}", as_manager), ("/portal/account", portal)):
            with count_queries() as counter:
                assert browser.get(url).status_code == 200
            found[url] = counter.count
        return found

    issued(manager, nia, walk, day=date(2026, 1, 3))
    billing.record_payment(nia, "cash", 500, date(2026, 11, 3), "", "", manager)
    db.session.commit()
    few = counts()
    for month in range(2, 12):
        issued(manager, nia, walk, day=date(2026, month, 3))
        billing.record_payment(nia, "cash", 500, date(2026, 11, 3), "", "", manager)
    db.session.commit()
    assert counts() == few


def test_a_client_login_cannot_use_a_staff_money_route(app, portal, me):
    assert isinstance(me, ClientLogin)
    assert portal.post(f"/billing/clients/{me.client_id}/credits", data={"amount": "5"}).status_code == 403


def test_a_client_with_only_billing_history_is_kept_not_deleted(app, as_manager, manager, make):
    client = make.client(first_name="Cred", last_name="Only")
    billing.add_credit(client, 500, "prepaid", "Paid ahead", manager)
    db.session.commit()
    answer = as_manager.post(f"/clients/{client.id}/delete", follow_redirects=True)
    assert answer.status_code == 409 and b"billing on record" in answer.data
    db.session.expire_all()
    assert db.session.get(type(client), client.id) is not None
    assert billing.account(client.id).credit_cents == 500


def test_aging_pages_its_clients_and_totals_all_of_them(app, as_manager, manager, make, walk):
    for n in range(3):
        issued(manager, make.client(first_name=f"P{n}", last_name="Aged"), walk, price=1000 * (n + 1))
    rows, totals = billing.aging(page=1, per_page=2)
    assert [row["total"] for row in rows] == [3000, 2000] and totals["total"] == 6000 and totals["clients"] == 3
    rows, _totals = billing.aging(page=2, per_page=2)
    assert [row["total"] for row in rows] == [1000]


def test_credit_kept_back_is_put_on_an_invoice_of_the_managers_choice(app, as_manager, manager, walk, nia):
    invoice = issued(manager, nia, walk)
    credit = billing.add_credit(nia, 1000, "prepaid", "Paid ahead", manager, auto_apply=False)
    db.session.commit()
    page = as_manager.get(f"/billing/clients/{nia.id}").get_data(as_text=True)
    assert f'id="alloc{credit.id}-amount"' in page and f'for="alloc{credit.id}-amount"' in page
    url = f"/billing/clients/{nia.id}/payments/{credit.id}/allocate"
    nothing = as_manager.post(url, data={f"alloc{credit.id}-invoice": "", f"alloc{credit.id}-amount": "5"}, headers=HX)
    assert nothing.status_code == 422 and b"Choose an open invoice" in nothing.data
    too_much = as_manager.post(url, data={f"alloc{credit.id}-invoice": str(invoice.id),
                                          f"alloc{credit.id}-amount": "10.01"}, headers=HX)
    assert too_much.status_code == 422 and b"Only $10.00 of it is left." in too_much.data
    assert as_manager.post(url, data={f"alloc{credit.id}-invoice": str(invoice.id),
                                      f"alloc{credit.id}-amount": "10"}).status_code == 303
    db.session.expire_all()
    assert db.session.get(Invoice, invoice.id).due_cents == 1500
    books_agree(nia)
