"""The billing forms carry their CSRF tokens as rendered (the rest of the suite runs with CSRF off):
each form on the account and invoice pages posts with the token the page gave it, and without it gets 400."""
import re
from datetime import date

import pytest
from sqlalchemy import select

from extensions import db
from models import Invoice, InvoiceStatus, Payment
from services import billing
from tests.test_billing import done_visit


@pytest.fixture
def app_config():
    return {"WTF_CSRF_ENABLED": True}


def _form_fields(html: str, action: str) -> dict:
    """The hidden inputs of the form posting to `action`, as the browser would send them."""
    form = re.search(rf'<form[^>]*method="post"[^>]*action="{re.escape(action)}"[^>]*>(.*?)</form>', html, re.S)
    assert form, f"no form for {action}"
    fields = {}
    for tag in re.findall(r"<input[^>]*>", form.group(1)):
        attrs = dict(re.findall(r'(\w+)="([^"]*)"', tag))
        if attrs.get("type") == "hidden":
            fields[attrs["name"]] = attrs.get("value", "")
    return fields


def test_every_billing_form_posts_with_the_token_it_was_given(app, as_manager, manager, make):
    walk = make.service(name="Dog walk")
    nia = make.client(first_name="Nia", last_name="Reyes")
    done_visit(nia, walk, date(2026, 10, 3))
    preview = as_manager.get("/billing/run?start=2026-10-01&end=2026-10-31").get_data(as_text=True)
    fields = _form_fields(preview, "/billing/run")
    assert set(fields) == {"csrf_token", "start", "end"}
    assert as_manager.post("/billing/run", data={k: v for k, v in fields.items() if k != "csrf_token"}
                           ).status_code == 400
    assert as_manager.post("/billing/run", data=fields).status_code == 303

    invoice = db.session.scalars(select(Invoice)).one()
    page = as_manager.get(f"/billing/invoices/{invoice.id}").get_data(as_text=True)
    assert as_manager.post(f"/billing/invoices/{invoice.id}/send",
                           data=_form_fields(page, f"/billing/invoices/{invoice.id}/send")).status_code == 303
    db.session.expire_all()
    assert db.session.get(Invoice, invoice.id).status == InvoiceStatus.SENT

    account = as_manager.get(f"/billing/clients/{nia.id}").get_data(as_text=True)
    pay = _form_fields(account, f"/billing/clients/{nia.id}/payments")
    assert as_manager.post(f"/billing/clients/{nia.id}/payments",
                           data={**pay, "method": "cash", "amount": "40", "received_on": "2026-11-03",
                                 "allocate": "oldest"}).status_code == 303
    payment = db.session.scalars(select(Payment)).one()
    account = as_manager.get(f"/billing/clients/{nia.id}").get_data(as_text=True)
    refund_url = f"/billing/clients/{nia.id}/payments/{payment.id}/refund"
    refund = _form_fields(account, refund_url)
    assert as_manager.post(refund_url, data={f"refund{payment.id}-amount": "1"}).status_code == 400
    assert as_manager.post(refund_url, data={**refund, f"refund{payment.id}-amount": "1"}).status_code == 303
    db.session.expire_all()
    assert db.session.get(Payment, payment.id).refunded_cents == 100
    assert billing.check_ledger(nia.id) == []
