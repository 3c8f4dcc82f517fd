"""Invoice PDFs: WeasyPrint prints the invoice the screens show, read back with pypdf; the invoice email
carries it through the real outbox to a loopback SMTP server; the portal's download; `flask billing remind`."""
import io
import re
import socket
from datetime import date, timedelta

import pytest
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import select

from extensions import db
from filters import business_today, money
from models import Invoice, InvoiceStatus, OutboxMessage
from services.settings import business
from services import billing, invoice_pdf, outbox
from services.settings import get_settings
from tests.conftest import smtp_config
from tests.test_billing import done_visit

OCTOBER = (date(2026, 10, 1), date(2026, 10, 31))


def pdf_text(pdf: bytes) -> list[str]:
    """Each page's text, with any run of spaces (Babel puts narrow no-break ones in times) as one space."""
    assert pdf.startswith(b"%PDF-")
    return [re.sub(r"\s+", " ", page.extract_text()) for page in PdfReader(io.BytesIO(pdf)).pages]


def one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.fixture
def taxed(app):
    settings = get_settings()
    settings.billing_mode, settings.billing_cycle, settings.billing_cycle_day = "cycle", "monthly", 1
    settings.payment_terms_days, settings.tax_rate_bp, settings.tax_label = 14, 825, "Sales tax"
    settings.how_to_pay = "Checks to Pawtal Pet Care"
    db.session.commit()
    return settings


def october_invoice(client, walk, manager, days=(3, 10), prices=(2500, 3000), pets=()) -> Invoice:
    """A draft for the client's October visits (done), not yet issued."""
    for day, price in zip(days, prices):
        done_visit(client, walk, date(2026, 10, day), price=price, pets=list(pets))
    [invoice] = billing.create_drafts(*OCTOBER, manager)
    db.session.commit()
    return invoice


@pytest.fixture
def nias_invoice(make, manager, walk, taxed):
    """Nia's issued October invoice: two visits with her pets, a 10% discount, an extra charge, 8.25% tax."""
    nia = make.client(first_name="Nia", last_name="Reyes", email="nia@example.com", address_line1="12 Elm St",
                      city="Cambridge", state="MA", zip="02139")
    pets = [make.pet(nia, name="Rex"), make.pet(nia, name="Bella")]
    invoice = october_invoice(nia, walk, manager, pets=pets)
    billing.add_line(invoice, "discount", "Loyal client", None, 1000, None)
    billing.add_line(invoice, "charge", "Spare key cut", 1500, None, None)
    billing.set_notes(invoice, "Thank you!")
    billing.issue_invoice(invoice, manager, today=date(2026, 11, 2))
    db.session.commit()
    return invoice


def test_the_pdf_has_the_number_each_line_and_the_totals(app, nias_invoice):
    invoice = nias_invoice
    # 2500 + 3000 - 550 (10% of the visits) + 1500; tax per line 206 + 248 - 45 + 124.
    assert (invoice.subtotal_cents, invoice.tax_cents, invoice.total_cents) == (6450, 533, 6983)
    [page] = pdf_text(invoice_pdf.render_pdf(invoice))
    assert "Invoice INV-2026-00001" in page and "Pawtal Pet Care" in page and "hello@example.com" in page
    assert "Nia Reyes" in page and "12 Elm St" in page and "Cambridge, MA 02139" in page
    assert "Status Issued Due Period" in page and "2 Nov 2026" in page and "16 Nov 2026" in page  # issued, due
    visits, discount, charge = invoice.lines[:2], invoice.lines[2], invoice.lines[3]
    for line, amount in zip(visits, ("$25.00", "$30.00")):
        assert line.pets == "Bella, Rex" and f"{one_line(line.description)} Bella, Rex {amount}" in page
    assert "Loyal client (Discount, 10.0%) -$5.50" in page
    assert "Spare key cut (Extra charge) $15.00" in page
    assert "Subtotal $64.50" in page and "Sales tax (8.25%) $5.33" in page and "Total $69.83" in page
    assert "Paid $0.00" in page and page.count("$69.83") == 2  # the total and what is due
    assert "Thank you!" in page and "How to pay Checks to Pawtal Pet Care" in page
    assert "Page 1 of 1" in page
    assert invoice_pdf.pdf_filename(invoice) == "INV-2026-00001.pdf"


def test_a_long_invoice_runs_over_pages_with_its_header_on_each_and_page_numbers(app, make, manager, walk, taxed):
    client = make.client(first_name="Long", last_name="Stay")
    days = [1 + i % 31 for i in range(64)]
    invoice = october_invoice(client, walk, manager, days=days, prices=[1000 + i for i in range(64)])
    billing.issue_invoice(invoice, manager, today=date(2026, 11, 2))
    db.session.commit()
    pages = pdf_text(invoice_pdf.render_pdf(invoice))
    assert len(pages) >= 2
    for number, page in enumerate(pages, 1):
        assert f"Page {number} of {len(pages)}" in page
        assert "Date Description Amount" in page  # the table's header again on every page
    first, last = invoice.lines[0], invoice.lines[-1]
    assert f"{one_line(first.description)} {money(first.amount_cents)}" in pages[0]
    assert f"{one_line(last.description)} {money(last.amount_cents)}" in pages[-1]
    assert "Subtotal" not in "".join(pages[:-1])  # the totals come once, after the last line
    assert f"Total {money(invoice.total_cents)}" in pages[-1]


def png(path, colour=(23, 84, 63)) -> str:
    Image.new("RGB", (120, 40), colour).save(path, "PNG")
    return str(path)


def images(pdf: bytes) -> int:
    return sum(len(page.images) for page in PdfReader(io.BytesIO(pdf)).pages)


@pytest.fixture
def listener():
    """A loopback port that would notice any connection: the PDF must never open one."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        server.setblocking(False)
        yield server


def connections(server) -> int:
    count = 0
    while True:
        try:
            server.accept()[0].close()
            count += 1
        except BlockingIOError:
            return count


def test_the_logo_comes_from_its_file_and_nothing_else_is_fetched(app, make, manager, walk, taxed, tmp_path,
                                                                  listener):
    remote = "http://127.0.0.1:%d/x.png" % listener.getsockname()[1]
    client = make.client(first_name="Ada", last_name="Byron")
    invoice = october_invoice(client, walk, manager)
    billing.add_line(invoice, "charge", f"<img src={remote}>", 100, None, None)
    billing.set_notes(invoice, f'<img src={remote}> <link rel="stylesheet" href="{remote}">')
    billing.issue_invoice(invoice, manager, today=date(2026, 11, 2))
    db.session.commit()
    logo = png(tmp_path / "logo.png")
    # The screens' logo address (a route, or anything else) is never what the PDF loads.
    stored = business()
    details = {"name": stored.name, "phone": stored.phone, "email": stored.email, "logo_path": logo,
               "logo_url": remote}

    with_logo = invoice_pdf.render_pdf(invoice, details)
    without = invoice_pdf.render_pdf(invoice, {**details, "logo_path": None})
    missing = invoice_pdf.render_pdf(invoice, {**details, "logo_path": str(tmp_path / "gone.png")})
    assert images(with_logo) == 1 and images(without) == 0 and images(missing) == 0
    [page] = pdf_text(with_logo)
    assert f"<img src={remote}>" in page  # what was typed is printed as text, never loaded
    assert connections(listener) == 0

    fetcher = invoice_pdf.logo_fetcher(logo)
    assert fetcher.fetch(fetcher.logo_url).read() == open(logo, "rb").read()
    other = png(tmp_path / "other.png")
    for url in (remote, "file://" + other, "file:///etc/hostname", fetcher.logo_url + "?x", "data:image/png;base64,AA"):
        with pytest.raises(ValueError):
            fetcher.fetch(url)
    with pytest.raises(ValueError):
        invoice_pdf.logo_fetcher(None).fetch(remote)
    assert connections(listener) == 0


class TestTheInvoiceEmail:
    @pytest.fixture
    def app_config(self, smtp):
        return smtp_config(smtp)

    def test_issuing_emails_the_pdf_and_the_outbox_forgets_the_file_once_delivered(self, app, nias_invoice, inbox,
                                                                                    as_manager):
        message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "invoice"))
        # Sending the invoice did not render it: the PDF is made when the outbox sends the email.
        assert message.attachments == [{"filename": "INV-2026-00001.pdf", "content_type": "application/pdf",
                                        "make": "invoice-pdf", "args": {"invoice_id": nias_invoice.id}}]
        assert "Attached: INV-2026-00001.pdf" in as_manager.get("/outbox/").get_data(as_text=True)

        assert outbox.deliver_all() == (1, 0)
        [mail] = inbox.to("nia@example.com")
        assert "Here is invoice INV-2026-00001" in inbox.text(mail)
        [attached] = list(mail.iter_attachments())
        assert attached.get_content_type() == "application/pdf"
        assert attached.get_filename() == "INV-2026-00001.pdf"
        assert attached.get_content_disposition() == "attachment"
        pdf = attached.get_content()
        [page] = pdf_text(pdf)
        assert "Invoice INV-2026-00001" in page and "Total $69.83" in page

        db.session.expire_all()
        assert message.sent_at is not None
        assert message.attachments == [{"filename": "INV-2026-00001.pdf", "content_type": "application/pdf",
                                        "size": len(pdf)}]
        page = as_manager.get("/outbox/").get_data(as_text=True)
        assert "Attached: INV-2026-00001.pdf (the files are removed after delivery)" in page

    def test_a_file_given_as_bytes_is_kept_until_delivered_then_erased(self, app, inbox):
        outbox.queue_email("test", ["files@example.com"], "Your file", "password_unknown",
                           attachments=[("notes.txt", "text/plain", b"Walk Rex at nine.")],
                           address="files@example.com", desk_url="http://localhost/clients/")
        db.session.commit()
        message = db.session.scalar(select(OutboxMessage))
        assert message.attachments == [{"filename": "notes.txt", "content_type": "text/plain", "size": 17,
                                        "data": "V2FsayBSZXggYXQgbmluZS4="}]
        assert outbox.deliver_all() == (1, 0)
        [attached] = list(inbox.to("files@example.com")[0].iter_attachments())
        assert attached.get_filename() == "notes.txt" and attached.get_content() == "Walk Rex at nine."
        db.session.expire_all()
        assert message.attachments == [{"filename": "notes.txt", "content_type": "text/plain", "size": 17}]

    def test_a_file_that_cannot_be_made_leaves_its_message_waiting(self, app, inbox):
        outbox.attachment_maker("test-broken")(lambda: 1 / 0)
        try:
            outbox.queue_email("test", ["wait@example.com"], "Your file", "password_unknown",
                               attachments=[outbox.MadeWhenSent("x.pdf", "application/pdf", "test-broken")],
                               address="wait@example.com", desk_url="http://localhost/clients/")
            db.session.commit()
            assert outbox.deliver_due() == (0, 1)
        finally:
            outbox._makers.pop("test-broken")
        message = db.session.scalar(select(OutboxMessage))
        assert message.sent_at is None and "ZeroDivisionError" in message.last_error
        assert message.attachments[0]["make"] == "test-broken" and inbox.to("wait@example.com") == []
        with pytest.raises(ValueError, match="no attachment maker 'misspelt'"):  # refused when queued, not later
            outbox.queue_email("test", ["wait@example.com"], "Your file", "password_unknown",
                               attachments=[outbox.MadeWhenSent("x.pdf", "application/pdf", "misspelt")],
                               address="wait@example.com", desk_url="http://localhost/clients/")


def test_a_message_without_attachments_stores_none(app, make):
    from services.invites import send_invitations

    send_invitations([make.client()], None)
    db.session.commit()
    assert db.session.scalar(select(OutboxMessage.attachments)) is None


@pytest.fixture
def my_invoice(me, make, manager, walk, taxed):
    return october_invoice(me.client, walk, manager)


def test_the_client_downloads_her_own_issued_invoice_as_a_pdf(app, portal, my_invoice, manager):
    url = f"/portal/invoices/{my_invoice.id}.pdf"
    assert portal.get(url).status_code == 404  # a draft is not hers to see yet
    billing.issue_invoice(my_invoice, manager, today=date(2026, 11, 2))
    db.session.commit()

    response = portal.get(url)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == "attachment; filename=INV-2026-00001.pdf"
    assert response.headers["Cache-Control"] == "private, no-store"
    [page] = pdf_text(response.data)
    assert "Invoice INV-2026-00001" in page and "Nia Reyes" in page
    assert f'href="{url}"' in portal.get("/portal/account").get_data(as_text=True)
    assert f'href="{url}"' in portal.get(f"/portal/invoices/{my_invoice.id}").get_data(as_text=True)

    get_settings().portal_invoices = False
    db.session.commit()
    assert portal.get(url).status_code == 404


def test_another_clients_invoice_pdf_answers_404(app, portal, make, manager, walk, taxed):
    other = make.client(first_name="Ada", last_name="Byron")
    invoice = october_invoice(other, walk, manager)
    billing.issue_invoice(invoice, manager, today=date(2026, 11, 2))
    db.session.commit()
    assert portal.get(f"/portal/invoices/{invoice.id}.pdf").status_code == 404
    assert portal.get(f"/portal/invoices/{invoice.id + 1000}.pdf").status_code == 404


class TestRemindCommand:
    @pytest.fixture
    def app_config(self):
        # The app's own sender is on, as in production: the command must not start one of its own.
        return {"OUTBOX_WORKER": True, "OUTBOX_POLL_SECONDS": 3600}

    def test_flask_billing_remind_queues_each_reminder_once(self, app, runner, make, manager, walk, taxed):
        taxed.reminder_days = [7, 30]
        db.session.commit()
        client = make.client(email="late@example.com")
        invoice = october_invoice(client, walk, manager)
        billing.issue_invoice(invoice, manager, today=business_today() - timedelta(days=30))  # due 16 days ago
        db.session.commit()

        first = runner.invoke(args=["billing", "remind"])
        assert first.exit_code == 0, first.output
        assert "Queued 1 overdue reminder; the outbox delivers them" in first.output
        second = runner.invoke(args=["billing", "remind"])
        assert second.exit_code == 0 and "Queued 0 overdue reminders;" in second.output

        db.session.expire_all()
        [reminder] = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "invoice-reminder")).all()
        assert reminder.recipients == ["late@example.com"] and reminder.sent_at is None
        assert app.extensions["pawtal_outbox"]._thread is None  # left for the running app's sender
        assert db.session.get(Invoice, invoice.id).status == InvoiceStatus.SENT


def test_the_logo_and_address_saved_in_site_options_are_on_the_pdf(app, make, manager, walk, tmp_path):
    from werkzeug.datastructures import FileStorage

    from services.settings import update_business
    buffer = io.BytesIO()
    Image.new("RGB", (200, 60), (23, 84, 63)).save(buffer, "PNG")
    buffer.seek(0)
    update_business({"name": "Happy Tails LLC", "phone": "(555) 010-7777", "email": "billing@happytails.example",
                     "address": "9 Harbor Rd\nSalem, MA 01970", "tax_number": "EIN 12-3456789", "website": ""},
                     FileStorage(buffer, "logo.png", content_type="image/png"))
    db.session.commit()
    client = make.client(first_name="Ada", last_name="Byron")
    invoice = october_invoice(client, walk, manager)
    billing.issue_invoice(invoice, manager, today=date(2026, 11, 2))
    db.session.commit()
    pdf = invoice_pdf.render_pdf(invoice)
    assert images(pdf) == 1
    [page] = pdf_text(pdf)
    for text in ("Happy Tails LLC", "9 Harbor Rd", "Salem, MA 01970", "EIN 12-3456789", "(555) 010-7777"):
        assert text in page, text


def test_the_office_downloads_any_invoice_pdf_a_draft_included(app, as_manager, make, manager, walk):
    client = make.client(first_name="Ada", last_name="Byron")
    invoice = october_invoice(client, walk, manager)
    draft = as_manager.get(f"/billing/invoices/{invoice.id}.pdf")
    assert draft.status_code == 200 and draft.mimetype == "application/pdf"
    assert "Draft invoice" in pdf_text(draft.data)[0]
    billing.issue_invoice(invoice, manager, today=date(2026, 11, 2))
    db.session.commit()
    sent = as_manager.get(f"/billing/invoices/{invoice.id}.pdf")
    assert f'filename={invoice.number}.pdf' in sent.headers["Content-Disposition"]
    assert invoice.number in pdf_text(sent.data)[0] and sent.headers["Cache-Control"] == "private, no-store"
    assert as_manager.get("/billing/invoices/999999.pdf").status_code == 404
