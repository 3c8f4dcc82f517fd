"""Messages and the newsletter as an attacker, a confused client and a sloppy staff member would try them: ids
beyond the database, text longer than a column once the email's words are added, line breaks in what becomes an
email header, a visitor typing a client's address, CSRF on every unsafe request but the deliberate exceptions, and
staff viewing a client's portal leaving nothing changed."""
import pytest
from sqlalchemy import select

from extensions import db
from models import Message, MessageThread, NewsletterCampaign, NewsletterSubscriber, OutboxMessage, Role
from services import messages, newsletter, outbox
from services.settings import get_settings
from tests.conftest import HX, at_once, smtp_config
from tests.test_messages import count, signed_in

BEYOND = 2**31  # one past the largest id a PostgreSQL integer column holds



@pytest.fixture
def app_config(smtp):
    return smtp_config(smtp)


@pytest.fixture
def no_wait(monkeypatch):
    monkeypatch.setattr(messages, "MIN_SECONDS", 0)
    monkeypatch.setattr(newsletter, "MIN_SECONDS", 0)



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


@pytest.mark.parametrize("url", [
    f"/messages/{BEYOND}", f"/messages/files/{BEYOND}", f"/messages/new/{BEYOND}",
    f"/newsletter/{BEYOND}", f"/newsletter/{BEYOND}/preview", f"/messages/?page={BEYOND}",
    f"/newsletter/subscribers?page={BEYOND}", f"/newsletter/audience?territory_id={BEYOND}&audience=territory",
])
def test_ids_beyond_the_database_answer_404_to_staff(app, make, url):
    office = signed_in(app, make.staff(Role.OWNER))
    assert office.get(url).status_code in (200, 404)


@pytest.mark.parametrize("url", [
    f"/messages/{BEYOND}", f"/messages/{BEYOND}/assign", f"/messages/new/{BEYOND}", f"/messages/visits/{BEYOND}",
    f"/newsletter/{BEYOND}", f"/newsletter/{BEYOND}/test", f"/newsletter/{BEYOND}/send",
    f"/newsletter/subscribers/{BEYOND}/unsubscribe",
])
def test_posts_to_ids_beyond_the_database_answer_4xx(app, make, url):
    """404, or 405 where a GET rule shares the path (the id converter refuses the id before methods are matched)."""
    office = signed_in(app, make.staff(Role.OWNER))
    assert office.post(url, data={"body": "x", "subject": "x", "assigned_to": "1"}).status_code in (404, 405)
    assert count(MessageThread) == count(NewsletterCampaign) == 0


@pytest.mark.parametrize("url", [f"/portal/messages/{BEYOND}", f"/portal/messages/files/{BEYOND}",
                                 f"/portal/visits/{BEYOND}/messages"])
def test_ids_beyond_the_database_answer_404_in_the_portal(portal, url):
    assert portal.get(url).status_code in (404, 405)
    assert portal.post(url, data={"body": "x"}).status_code in (404, 405)


def test_an_assignee_that_is_no_number_is_refused_beside_the_field(app, make):
    manager = make.staff(Role.MANAGER)
    thread = messages.start_with_client(make.client(email="c@example.com"), manager, "Hello", "Hi")
    db.session.commit()
    office = signed_in(app, manager)
    for junk in ("abc", str(BEYOND), "-1", "1e3"):
        answer = office.post(f"/messages/{thread.id}/assign", data={"assigned_to": junk}, headers=HX)
        assert answer.status_code == 422, junk
    db.session.expire_all()
    assert db.session.get(MessageThread, thread.id).assigned_to_id == manager.id


def test_a_visitor_typing_a_clients_address_reaches_none_of_the_clients_threads(app, make, me, portal, no_wait,
                                                                                  inbox):
    mine = messages.start_with_client(me.client, make.staff(Role.MANAGER), "Your keys", "The lockbox code is 1234")
    db.session.commit()
    stranger = app.test_client()
    sent = stranger.post("/contact", data=contact_data(stranger, email="  NIA@Example.COM ", subject="Pretending"))
    assert sent.status_code == 200
    visitor_thread = db.session.scalar(select(MessageThread).where(MessageThread.client_id.is_(None)))
    assert visitor_thread.contact_email == "nia@example.com"
    # The thread stays a visitor's: not in the client's portal, no portal link in the answer, and the stranger has
    # no session that opens the client's threads.
    assert "Pretending" not in portal.get("/portal/messages").get_data(as_text=True)
    assert portal.get(f"/portal/messages/{visitor_thread.id}").status_code == 404
    assert stranger.get(f"/portal/messages/{mine.id}").status_code in (302, 303)
    assert "lockbox" not in stranger.get(f"/portal/messages/{mine.id}", follow_redirects=True).get_data(as_text=True)
    # Staff see whose address it is, with the warning to check.
    office = signed_in(app, make.staff(Role.MANAGER))
    page = office.get(f"/messages/{visitor_thread.id}").get_data(as_text=True)
    assert "check before trusting it" in page
    office.post(f"/messages/{visitor_thread.id}", data={"body": "Who is this?"})
    outbox.deliver_all()
    answer = [m for m in inbox.to("nia@example.com") if "Who is this?" in inbox.text(m)]
    assert len(answer) == 1 and "/portal/" not in inbox.text(answer[0])


def test_staff_viewing_the_portal_change_nothing_by_looking(app, make, me):
    manager = make.staff(Role.MANAGER)
    thread = messages.start_with_client(me.client, manager, "Hello", "An answer")
    db.session.commit()
    before = db.session.get(MessageThread, thread.id).client_read_at
    office = signed_in(app, manager)
    office.post(f"/clients/{me.client.id}/portal")
    for url in ("/portal/", "/portal/messages", f"/portal/messages/{thread.id}",
                f"/portal/messages/files/{thread.messages[0].id}"):
        assert office.get(url).status_code in (200, 404), url
    assert office.post("/newsletter/me", data={"wanted": "y"}).status_code == 403
    db.session.expire_all()
    assert db.session.get(MessageThread, thread.id).client_read_at == before
    assert count(Message) == 1 and count(NewsletterSubscriber) == 0


def test_text_typed_by_strangers_is_escaped_in_the_inbox_and_thread(app, make, no_wait):
    visitor = app.test_client()
    evil = '<img src=x onerror=alert(1)>"\'><script>alert(2)</script>'
    visitor.post("/contact", data=contact_data(visitor, name=evil[:150], subject=evil, body=evil,
                                               phone='"><script>x</script>'[:40]))
    thread = db.session.scalar(select(MessageThread))
    office = signed_in(app, make.staff(Role.MANAGER))
    for page in (office.get("/messages/").get_data(as_text=True),
                 office.get(f"/messages/{thread.id}").get_data(as_text=True)):
        assert "<script>alert" not in page and "<img src=x" not in page and "<script>x" not in page


class TestWithCsrf:
    @pytest.fixture
    def app_config(self, smtp):
        return {**smtp_config(smtp), "WTF_CSRF_ENABLED": True}

    def test_every_unsafe_message_request_needs_the_token_but_the_contact_page(self, app, make, me, portal,
                                                                               no_wait):
        manager = make.staff(Role.MANAGER)
        sitter = make.staff(Role.SITTER)
        thread = messages.start_with_client(me.client, manager, "Hello", "Hi")
        db.session.commit()
        office = signed_in(app, manager)
        assert portal.post("/portal/messages", data={"subject": "x", "body": "y"}).status_code == 400
        assert portal.post(f"/portal/messages/{thread.id}", data={"body": "y"}).status_code == 400
        assert office.post(f"/messages/{thread.id}", data={"body": "y"}).status_code == 400
        assert office.post(f"/messages/{thread.id}/assign", data={"assigned_to": str(sitter.id)}).status_code == 400
        assert office.post(f"/messages/new/{me.client.id}", data={"subject": "x", "body": "y"}).status_code == 400
        assert count(Message) == 1 and count(MessageThread) == 1
        visitor = app.test_client()
        assert visitor.post("/contact", data=contact_data(visitor)).status_code == 200
        assert count(MessageThread) == 2


def test_message_us_sent_twice_makes_one_thread(app, me, portal, inbox):
    page = portal.get("/portal/messages").get_data(as_text=True)
    key = page.split('name="form_key" type="hidden" value="')[1].split('"')[0]
    data = {"subject": "Keys", "body": "Where do I leave the keys?", "form_key": key}
    first, second = portal.post("/portal/messages", data=data), portal.post("/portal/messages", data=data)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert count(MessageThread) == count(Message) == count(OutboxMessage) == 1
    # A key the portal never served (or another client's thread's) makes no thread of someone else's appear.
    assert portal.post("/portal/messages", data={**data, "form_key": "made-up"}).status_code == 303
    assert count(MessageThread) == 2


def test_message_us_sent_twice_at_once_makes_one_thread(app, me):
    key, login_id = messages.new_message_key(), me.id

    def write(i):
        from models import ClientLogin
        login = db.session.get(ClientLogin, login_id)
        return messages.write_to_business(login.client, login, "Keys", f"Note {i}", form_key=key).id

    outcomes = at_once(app, 2, write)
    assert len(set(outcomes)) == 1 and isinstance(outcomes[0], int), outcomes
    assert count(MessageThread) == count(Message) == 1
