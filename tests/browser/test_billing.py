"""Billing in real Chromium: the office creates and sends last month's invoices, the client sees the balance
on a phone, opens the invoice and downloads its PDF, the office records a check, and the client sees it
paid; axe-core on every screen."""
import re
from datetime import timedelta

from playwright.sync_api import expect
from pypdf import PdfReader

from extensions import db
from filters import business_today
from models import Invoice, InvoiceStatus, Role, VisitStatus
from services.settings import get_settings
from tests.browser.conftest import accessible_context, assert_accessible, screenshot, staff_sign_in
from tests.conftest import PASSWORD
from tests.test_billing import done_visit


def _last_month() -> tuple:
    end = business_today().replace(day=1) - timedelta(days=1)
    return end.replace(day=1), end


def test_month_invoiced_sent_seen_by_the_client_paid_by_check(browser, live_server, me, make):
    manager = make.staff(Role.MANAGER, first_name="Marta")
    walk = make.service(name="Dog walk", base_price_cents=2500)
    rex = make.pet(me.client, name="Rex")
    me.client.address_line1, me.client.city, me.client.state, me.client.zip = "12 Elm St", "Springfield", "MA", "01101"
    settings = get_settings()
    settings.billing_mode, settings.billing_cycle, settings.billing_cycle_day = "cycle", "monthly", 1
    settings.payment_terms_days = 14
    settings.how_to_pay = "Checks to Pawtal Pet Care, or a bank transfer quoting the invoice number."
    db.session.commit()
    first, last = _last_month()
    for day in (first + timedelta(days=2), first + timedelta(days=9), last):
        done_visit(me.client, walk, day, pets=[rex], status=VisitStatus.COMPLETED)

    office = accessible_context(browser, viewport={"width": 1280, "height": 900})
    page = office.new_page()
    page.set_default_timeout(10_000)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    staff_sign_in(page, live_server, manager)
    page.get_by_role("link", name="Billing", exact=True).click()
    page.get_by_role("link", name="Create invoices").click()
    expect(page.get_by_label("From")).to_have_value(first.isoformat())  # last month is offered
    page.get_by_role("button", name="Preview").click()
    preview = page.get_by_role("table", name="The invoices this run would create")
    expect(preview).to_contain_text("Nia Reyes")
    expect(preview).to_contain_text("$75.00")
    assert_accessible(page)
    page.get_by_role("button", name="Create 1 draft").click()
    expect(page.get_by_text("1 draft invoice created")).to_be_visible()
    # The draft, with its line buttons and forms, before it goes: a discount refused, then a charge added.
    page.get_by_role("link", name=re.compile("Draft invoice")).click()
    page.get_by_label("Description").fill("Key copy")
    page.get_by_label("Amount", exact=True).fill("abc")
    page.get_by_role("button", name="Add line").click()
    expect(page.locator("#invoice-desk .error").first).to_be_visible()
    page.get_by_label("Amount", exact=True).fill("4.50")
    page.get_by_role("radio", name="Extra charge").check()
    page.get_by_role("button", name="Add line").click()
    expect(page.get_by_role("table", name="Invoice lines")).to_contain_text("Key copy")
    page.get_by_role("button", name=re.compile("Remove.*Key copy")).click()
    expect(page.get_by_role("table", name="Invoice lines")).not_to_contain_text("Key copy")
    assert_accessible(page)
    page.get_by_role("link", name="Back to billing").click()
    page.get_by_role("link", name="Drafts", exact=True).click()
    page.get_by_role("checkbox", name=re.compile("to Nia Reyes")).check()
    page.get_by_role("button", name="Send the ticked drafts").click()
    expect(page.get_by_text("1 invoice sent.")).to_be_visible()
    invoice = db.session.scalars(select_invoice()).one()
    assert invoice.status == InvoiceStatus.SENT and invoice.total_cents == 7500
    page.get_by_role("link", name="All", exact=True).click()
    expect(page.get_by_role("row", name=re.compile(invoice.number))).to_contain_text("Sent")
    assert_accessible(page)
    screenshot(page, "billing-desk")
    page.get_by_role("link", name=invoice.number).click()
    expect(page.get_by_role("heading", name=f"Invoice {invoice.number}")).to_be_visible()
    assert_accessible(page)

    phone = accessible_context(browser, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    client_page = phone.new_page()
    client_page.set_default_timeout(10_000)
    client_page.on("pageerror", lambda error: errors.append(str(error)))
    client_page.goto(f"{live_server}/login")
    client_page.get_by_label("Email").fill("nia@example.com")
    client_page.get_by_label("Password").fill(PASSWORD)
    client_page.get_by_role("button", name="Sign in").click()
    expect(client_page.get_by_role("heading", name="Welcome, Nia")).to_be_visible()
    client_page.goto(f"{live_server}/portal/account")
    expect(client_page.locator(".account-summary")).to_contain_text("$75.00")
    expect(client_page.locator(".account-summary")).to_contain_text("Checks to Pawtal Pet Care")
    assert_accessible(client_page)
    assert client_page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(client_page, "portal-account")
    client_page.get_by_role("link", name=invoice.number, exact=True).click()  # not "PDF of INV-..."
    expect(client_page.get_by_role("table", name="Invoice lines")).to_contain_text("Rex")
    assert client_page.evaluate("document.documentElement.scrollWidth") <= 390
    assert_accessible(client_page)
    with client_page.expect_download() as download:
        client_page.get_by_role("link", name="Download PDF").click()
    assert download.value.suggested_filename == f"{invoice.number}.pdf"
    with open(download.value.path(), "rb") as pdf:
        assert f"Invoice {invoice.number}" in PdfReader(pdf).pages[0].extract_text()

    page.goto(f"{live_server}/billing/clients/{me.client.id}")
    form = page.locator("#record-payment")
    form.get_by_label("Amount").fill("75")
    form.get_by_label("Method").select_option("check")
    form.get_by_role("button", name="Record payment").click()
    expect(form.get_by_text("Enter the check number.")).to_be_visible()  # swapped in beside the field
    form.get_by_label("Check number or reference").fill("1042")
    form.get_by_role("button", name="Record payment").click()
    expect(page.get_by_text("$75.00 recorded")).to_be_visible()
    expect(page.locator(".page-head .balance-badge")).to_have_text("Settled")
    # Credit kept back for later, and the payment's refund form: the page with every one of its forms.
    page.locator("#credit-amount").fill("10")
    page.locator("#credit-note").fill("Prepaid for December")
    page.get_by_label("Apply it to open and next invoices by itself, oldest first").uncheck()
    page.get_by_role("button", name="Add credit").click()
    expect(page.get_by_text("$10.00 credit added.")).to_be_visible()
    expect(page.locator(".page-head .balance-badge")).to_have_text("In credit $10.00")
    assert_accessible(page)
    assert_accessible(page)

    client_page.goto(f"{live_server}/portal/account")
    expect(client_page.locator(".invoice-list")).to_contain_text("Paid")
    expect(client_page.locator(".account-summary")).to_contain_text("$0.00")
    expect(client_page.get_by_role("link", name=re.compile("Payment · \\$75.00"))).to_be_visible()
    assert errors == []
    office.close()
    phone.close()


def select_invoice():
    from sqlalchemy import select

    return select(Invoice)
