"""Messages and the newsletter as an attacker, a confused client and a sloppy staff member would try them: ids
beyond the database, text longer than a column once the email's words are added, line breaks in what becomes an
email header, a visitor typing a client's address, CSRF on every unsafe request but the deliberate exceptions, and
staff viewing a client's portal leaving nothing changed."""
import pytest
from sqlalchemy import func, select

from extensions import db
from models import MessageThread, NewsletterCampaign, NewsletterSubscriber, OutboxMessage, Role
from services import messages, outbox
from services.settings import get_settings
from tests.conftest import login_as, smtp_config



@pytest.fixture
def app_config(smtp):
    return smtp_config(smtp)


@pytest.fixture
def no_wait(monkeypatch):
    monkeypatch.setattr(messages, "MIN_SECONDS", 0)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def signed_in(app, account):
    browser = app.test_client()
    login_as(browser, account)
    return browser


def contact_data(visitor, **changes) -> dict:
    page = visitor.get("/contact").get_data(as_text=True)
    key = page.split('name="form_key" type="hidden" value="')[1].split('"')[0]
    return {"name": "Sam Lee", "email": "sam@example.com", "phone": "", "subject": "Cat sitting?",
            "body": "Do you look after cats?", "website": "", "form_key": key, **changes}


def test_a_full_length_name_and_subject_from_the_contact_page_reach_the_office(app, no_wait, inbox):
    """The office's email says "Message from <name>: <subject>": both at their longest overflow the outbox's
    subject column (a DataError, a 500 on PostgreSQL) unless the subject is cut to fit."""
    visitor = app.test_client()
    sent = visitor.post("/contact", data=contact_data(visitor, name="N" * 160, subject="S" * 160))
    assert sent.status_code == 200 and count(MessageThread) == 1
    subject = db.session.scalar(select(OutboxMessage.subject))
    assert subject.startswith("Message from NNNN") and subject.endswith("SSS…") and len(subject) == 200
    assert outbox.deliver_all() == (1, 0)


def test_a_client_with_a_long_name_and_subject_reaches_the_office(app, me, portal, inbox):
    me.first_name, me.last_name = "F" * 80, "L" * 80
    db.session.commit()
    sent = portal.post("/portal/messages", data={"subject": "S" * 160, "body": "Hello"})
    assert sent.status_code == 303 and count(MessageThread) == 1
    assert len(db.session.scalar(select(OutboxMessage.subject))) <= 200


def test_line_breaks_in_a_contact_name_and_subject_never_reach_a_header(app, no_wait, inbox):
    visitor = app.test_client()
    data = contact_data(visitor, name="Sam\r\nBcc: victim@example.com", subject="Hi\nBcc: victim@example.com")
    assert visitor.post("/contact", data=data).status_code == 200
    thread = db.session.scalar(select(MessageThread))
    assert "\n" not in thread.contact_name and "\n" not in thread.subject
    assert outbox.deliver_all() == (1, 0)
    [told] = inbox.messages
    assert told["Bcc"] is None and inbox.to("victim@example.com") == []


def test_a_newsletter_subject_with_a_line_break_is_one_line_and_is_delivered(app, make, inbox):
    manager = make.staff(Role.MANAGER, email="maya@example.com")
    office = signed_in(app, manager)
    saved = office.post("/newsletter/new", data={"subject": "News\r\nBcc: victim@example.com", "body_markdown": "Hi",
                                                 "audience": "all"})
    assert saved.status_code == 303
    campaign = db.session.scalar(select(NewsletterCampaign))
    assert campaign.subject == "News Bcc: victim@example.com"
    assert office.post(f"/newsletter/{campaign.id}/test").status_code == 303
    assert outbox.deliver_all() == (1, 0)  # not refused by the mailer (BadHeaderError) and retried for ever
    [test] = inbox.to("maya@example.com")
    assert test["Bcc"] is None and test["Subject"] == "[Test] News Bcc: victim@example.com"


def test_a_portal_sign_up_with_a_full_length_name_is_kept(app, me, portal):
    """A login's name is up to 80 + 1 + 80 characters; the subscriber's name column holds 160."""
    me.first_name, me.last_name = "F" * 80, "L" * 80
    db.session.commit()
    assert portal.post("/newsletter/me", data={"wanted": "y"}).status_code == 303
    found = db.session.scalar(select(NewsletterSubscriber))
    assert found.state == "pending" and len(found.name) <= 160


def test_with_the_portals_messages_off_the_clients_email_links_to_no_page_that_answers_404(app, make, me, portal,
                                                                                           inbox):
    get_settings().portal_messages = False
    db.session.commit()
    thread = messages.start_with_client(me.client, make.staff(Role.MANAGER), "Keys", "We have your keys.")
    db.session.commit()
    assert portal.get(f"/portal/messages/{thread.id}").status_code == 404
    outbox.deliver_all()
    [told] = inbox.to("nia@example.com")
    assert "We have your keys." in inbox.text(told) and "/portal/" not in inbox.text(told)
    assert "/portal/" not in inbox.html(told)
