"""Messages: a client writes from the portal ("Message us", with a photo or PDF), anyone from the Contact page (spam
guards), staff read and answer in the inbox (unread counts, assigning), the client is emailed and reads the thread in
the portal; a visit's own thread between the client, its sitter and the office. Who may read which thread, and the
text shown escaped with its links clickable."""
import io
import re

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from extensions import db
from models import Message, MessageThread, OutboxMessage, Role
from services import messages, outbox
from services.settings import get_settings
from tests.conftest import HX, at_once, login_as, smtp_config
from tests.test_checkins import book
from tests.test_pets import png_bytes

PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


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


def menu_count(page: str) -> str | None:
    found = re.search(r'Messages <span class="count">(\d+)', page)
    return found.group(1) if found else None


def test_a_client_writes_staff_answer_and_the_client_reads_the_answer_in_the_portal(app, make, me, portal, inbox):
    manager = make.staff(Role.MANAGER, first_name="Maya")
    sent = portal.post("/portal/messages", data={"subject": "Vet papers", "body": "Here are Rex's papers.",
                                                 "attachment": (io.BytesIO(PDF), "rex papers.pdf")})
    assert sent.status_code == 303
    [thread] = db.session.scalars(select(MessageThread)).all()
    assert sent.headers["Location"].endswith(f"/portal/messages/{thread.id}")
    [message] = thread.messages
    assert (message.author, message.login_id, message.attachment_name, message.attachment_type) == (
        "client", me.id, "rex papers.pdf", "application/pdf")
    # The office is told (no one is assigned yet: the business's address), and the menu counts it as unread.
    office = signed_in(app, manager)
    assert menu_count(office.get("/messages/").get_data(as_text=True)) == "1"
    page = office.get(f"/messages/{thread.id}").get_data(as_text=True)
    assert "Here are Rex&#39;s papers." in page or "Here are Rex's papers." in page
    assert menu_count(office.get("/messages/").get_data(as_text=True)) is None  # read now
    pdf = office.get(f"/messages/files/{message.id}")
    assert pdf.status_code == 200 and pdf.data == PDF and "attachment" in pdf.headers["Content-Disposition"]
    answer = office.post(f"/messages/{thread.id}", data={"body": "Thanks, filed. See https://vet.example/rex"},
                         headers=HX)
    assert answer.status_code == 200 and "Message sent." in answer.get_data(as_text=True)
    db.session.expire_all()
    assert [m.author for m in thread.messages] == ["client", "staff"]
    outbox.deliver_all()
    [told] = inbox.to(app.config["BUSINESS_EMAIL"])  # nobody assigned: the business's address
    assert told["Subject"] == "Message from Nia: Vet papers"
    assert "Here are Rex's papers." in inbox.text(told) and told["Auto-Submitted"] == "auto-generated"
    [reply] = inbox.to("nia@example.com")
    assert reply["Subject"] == "Re: Vet papers" and "Thanks, filed." in inbox.text(reply)
    assert reply["Auto-Submitted"] is None  # a person wrote it: vacation responders may answer
    assert f"/portal/messages/{thread.id}" in inbox.text(reply)
    # The portal shows the answer as new until the client reads it; its link is clickable and safe.
    assert menu_count(portal.get("/portal/messages").get_data(as_text=True)) == "1"
    shown = portal.get(f"/portal/messages/{thread.id}").get_data(as_text=True)
    assert ('<a href="https://vet.example/rex" rel="noopener noreferrer nofollow">https://vet.example/rex</a>'
            in shown)
    assert menu_count(portal.get("/portal/messages").get_data(as_text=True)) is None
    # The client answers in the thread; the office sees it unread again.
    assert portal.post(f"/portal/messages/{thread.id}", data={"body": "Great"}).status_code == 303
    assert menu_count(office.get("/messages/").get_data(as_text=True)) == "1"


def test_text_is_shown_escaped_with_only_web_and_mail_links_clickable(app, me, portal, make):
    body = '<script>alert(1)</script> <img src=x onerror=alert(2)> javascript:alert(3) www.example.org mail@example.org'
    portal.post("/portal/messages", data={"subject": "<b>Hi</b>", "body": body})
    thread = db.session.scalar(select(MessageThread))
    page = signed_in(app, make.staff(Role.MANAGER)).get(f"/messages/{thread.id}").get_data(as_text=True)
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img" not in page.split('class="messages"')[1] and "&lt;b&gt;Hi&lt;/b&gt;" in page
    assert 'href="javascript' not in page
    assert '<a href="http://www.example.org" rel="noopener noreferrer nofollow">' in page
    assert '<a href="mailto:mail@example.org" rel="noopener noreferrer nofollow">' in page


def test_bad_input_is_said_beside_the_field_and_nothing_is_kept(app, me, portal):
    empty = portal.post("/portal/messages", data={"subject": "", "body": "  "})
    text = empty.get_data(as_text=True)
    assert empty.status_code == 422 and 'id="subject-error"' in text and 'id="body-error"' in text
    not_a_file = portal.post("/portal/messages", data={"subject": "Hi", "body": "See this",
                                                       "attachment": (io.BytesIO(b"MZ\x90\x00 not a photo"), "x.exe")})
    text = not_a_file.get_data(as_text=True)
    assert not_a_file.status_code == 422 and 'id="attachment-error"' in text and "Upload a PDF" in text
    assert 'value="Hi"' in text and "See this" in text  # what was typed is kept
    too_long = portal.post("/portal/messages", data={"subject": "Hi", "body": "x" * 5001}, headers=HX)
    assert too_long.status_code == 422 and "under 5000 characters" in too_long.get_data(as_text=True)
    assert count(MessageThread) == count(Message) == count(OutboxMessage) == 0
    assert not list((app.config["UPLOAD_FOLDER"] and __import__("pathlib").Path(app.config["UPLOAD_FOLDER"])
                     .glob("messages/*")))


def test_a_photo_is_re_encoded_and_another_clients_thread_and_files_answer_404(app, make, me, portal):
    portal.post("/portal/messages", data={"subject": "Rex", "body": "Look",
                                          "attachment": (io.BytesIO(png_bytes()), "rex.png")})
    mine = db.session.scalar(select(MessageThread))
    other_client = make.client(first_name="Other")
    other = messages.start_with_client(other_client, make.staff(Role.MANAGER), "Private", "Your key code is 1234",
                                       FileStorage(io.BytesIO(PDF), "key.pdf"))
    db.session.commit()
    [photo] = mine.messages
    assert photo.attachment_type == "image/jpeg" and photo.attachment_name == "rex.jpg"
    shown = portal.get(f"/portal/messages/files/{photo.id}")
    assert shown.status_code == 200 and shown.data[:3] == b"\xff\xd8\xff" and "sandbox" in shown.headers[
        "Content-Security-Policy"]
    assert portal.get(f"/portal/messages/{other.id}").status_code == 404
    assert portal.get(f"/portal/messages/files/{other.messages[0].id}").status_code == 404
    assert portal.post(f"/portal/messages/{other.id}", data={"body": "hi"}).status_code == 404
    assert "Private" not in portal.get("/portal/messages").get_data(as_text=True)
    assert len(other.messages) == 1


def test_a_visit_has_its_own_thread_for_the_client_its_sitter_and_the_office(app, make, me, portal, inbox):
    sitter = make.staff(Role.SITTER, first_name="Fern", email="fern@example.com")
    stranger = make.staff(Role.SITTER, first_name="Gus")
    visit = book(me.client, make.service(name="Walk"), sitter, [make.pet(me.client, name="Rex")])
    panel = portal.get(f"/portal/visits/{visit.id}").get_data(as_text=True)
    assert "Write about this visit" in panel
    sent = portal.post(f"/portal/visits/{visit.id}/messages", data={f"visit{visit.id}-body": "The gate code is 4321 now."})
    assert sent.status_code == 303
    thread = db.session.scalar(select(MessageThread).where(MessageThread.visit_id == visit.id))
    assert thread.client_id == me.client.id
    outbox.deliver_all()
    [to_sitter] = inbox.to("fern@example.com")
    assert "The gate code is 4321 now." in inbox.text(to_sitter)
    # The sitter reads it on her day, on the visit's card, and answers there.
    her = signed_in(app, sitter)
    day = her.get("/today/").get_data(as_text=True)
    assert "The gate code is 4321 now." in day and "Messages about this visit (1)" in day
    answer = her.post(f"/messages/visits/{visit.id}", data={f"visit{visit.id}-body": "Got it, thanks!"}, headers=HX)
    assert answer.status_code == 200 and "Got it, thanks!" in answer.get_data(as_text=True)
    assert "<html" not in answer.get_data(as_text=True)
    outbox.deliver_all()
    assert any("Got it, thanks!" in inbox.text(m) for m in inbox.to("nia@example.com"))
    # A second message from the client goes to the same thread; another sitter sees none of it.
    portal.post(f"/portal/visits/{visit.id}/messages", data={f"visit{visit.id}-body": "Thank you"})
    assert count(MessageThread) == 1 and len(db.session.get(MessageThread, thread.id).messages) == 3
    other = signed_in(app, stranger)
    assert other.get(f"/messages/{thread.id}").status_code == 404
    assert other.post(f"/messages/visits/{visit.id}", data={f"visit{visit.id}-body": "x"}).status_code == 404
    assert "gate" not in other.get("/messages/").get_data(as_text=True)
    # The office has it in the inbox's Visits view.
    office = signed_in(app, make.staff(Role.MANAGER))
    assert thread.subject in office.get("/messages/?show=visits").get_data(as_text=True)


def test_the_first_message_of_a_visit_sent_twice_at_once_makes_one_thread(app, make, me):
    visit = book(me.client, make.service(name="Walk"), make.staff(Role.SITTER), [make.pet(me.client)])
    visit_id, login_id = visit.id, me.id

    def write(i):
        from models import ClientLogin, Visit
        return messages.write_about_visit(db.session.get(Visit, visit_id), db.session.get(ClientLogin, login_id),
                                          f"Note {i}").id

    outcomes = at_once(app, 2, write)
    assert count(MessageThread) == 1 and count(Message) == 2, outcomes


def test_staff_write_first_assign_and_a_sitter_sees_only_what_is_hers(app, make, me, inbox):
    manager = make.staff(Role.MANAGER, first_name="Maya")
    sitter = make.staff(Role.SITTER, first_name="Fern", email="fern@example.com")
    office = signed_in(app, manager)
    form = office.get(f"/messages/new/{me.client.id}")
    assert form.status_code == 200 and 'name="subject"' in form.get_data(as_text=True)
    refused = office.post(f"/messages/new/{me.client.id}", data={"subject": "", "body": ""})
    assert refused.status_code == 422 and count(MessageThread) == 0
    started = office.post(f"/messages/new/{me.client.id}", data={"subject": "Welcome", "body": "Hello Nia!"})
    assert started.status_code == 303
    thread = db.session.scalar(select(MessageThread))
    her = signed_in(app, sitter)
    assert her.get(f"/messages/{thread.id}").status_code == 404
    assert her.post(f"/messages/{thread.id}/assign", data={"assigned_to": str(sitter.id)}).status_code == 403
    assert office.post(f"/messages/{thread.id}/assign", data={"assigned_to": "999999"}).status_code == 422
    given = office.post(f"/messages/{thread.id}/assign", data={"assigned_to": str(sitter.id)}, headers=HX)
    assert given.status_code == 200 and "Fern" in given.get_data(as_text=True)
    assert her.get(f"/messages/{thread.id}").status_code == 200
    assert "Welcome" in her.get("/messages/?show=mine").get_data(as_text=True)
    outbox.deliver_all()
    assert [m["Subject"] for m in inbox.to("fern@example.com")] == ["Assigned to you: Welcome"]
    assert [m["Subject"] for m in inbox.to("nia@example.com")] == ["Welcome"]
    # The client answers by the portal: the assigned sitter is told, not the business's address.
    inbox.clear()
    portal = signed_in(app, me)
    portal.post(f"/portal/messages/{thread.id}", data={"body": "Thanks!"})
    outbox.deliver_all()
    assert [m["To"] for m in inbox.messages] == ["fern@example.com"]


def test_the_inbox_filters_searches_and_pages_in_a_fixed_number_of_queries(app, make, me, count_queries):
    manager = make.staff(Role.MANAGER)
    clients = [make.client(first_name=f"Client{n}") for n in range(messages.PAGE + 5)]
    for n, client in enumerate(clients):
        messages.start_with_client(client, manager, f"Subject {n}", "Hello")
    db.session.commit()
    office = signed_in(app, manager)
    office.get("/messages/")  # warm: the session's login and the settings
    with count_queries() as few:
        first = office.get("/messages/").get_data(as_text=True)
    with count_queries() as many:
        office.get("/messages/?page=2")
    assert first.count('class="thread-row') == messages.PAGE and "Older" in first
    assert few.count == many.count <= 8, (few.count, many.count)
    found = office.get("/messages/?q=client3 subject").get_data(as_text=True)
    assert found.count('class="thread-row') == 1 + 5  # Client3, Client30..34
    assert "No message matches" in office.get("/messages/?q=%25_nothing").get_data(as_text=True)
    fragment = office.get("/messages/?show=unassigned", headers=HX).get_data(as_text=True)
    assert "<html" not in fragment and "No messages here yet" in fragment


def test_the_contact_page_takes_a_message_and_the_office_answers_by_email(app, make, no_wait, inbox):
    visitor = app.test_client()
    page = visitor.get("/contact").get_data(as_text=True)
    key = page.split('name="form_key" type="hidden" value="')[1].split('"')[0]
    data = {"name": "Sam Lee", "email": "Sam@Example.com", "phone": "555 0100", "subject": "Cat sitting?",
            "body": "Do you look after cats?", "website": "", "form_key": key}
    answer = visitor.post("/contact", data=data)
    assert answer.status_code == 200 and "sam@example.com" in answer.get_data(as_text=True)
    again = visitor.post("/contact", data=data)  # the same form sent twice: one thread
    assert again.status_code == 200 and count(MessageThread) == 1
    thread = db.session.scalar(select(MessageThread))
    assert (thread.client_id, thread.contact_email, thread.messages[0].author) == (None, "sam@example.com", "visitor")
    office = signed_in(app, make.staff(Role.MANAGER))
    assert "Contact page" in office.get("/messages/").get_data(as_text=True)
    office.post(f"/messages/{thread.id}", data={"body": "Yes, we do!"})
    outbox.deliver_all()
    [reply] = inbox.to("sam@example.com")
    assert "Yes, we do!" in inbox.text(reply) and "/portal/" not in inbox.text(reply)


def test_the_contact_page_guards_against_robots_and_says_what_is_wrong(app, no_wait):
    visitor = app.test_client()

    def key():
        page = visitor.get("/contact").get_data(as_text=True)
        return page.split('name="form_key" type="hidden" value="')[1].split('"')[0]

    good = {"name": "Sam", "email": "sam@example.com", "subject": "Hi", "body": "Hello", "website": ""}
    trapped = visitor.post("/contact", data={**good, "website": "http://spam.example", "form_key": key()})
    forged = visitor.post("/contact", data={**good, "form_key": "made-up"})
    wrong = visitor.post("/contact", data={**good, "email": "nope", "body": "", "form_key": key()})
    assert trapped.status_code == 200 and "Thank you" in trapped.get_data(as_text=True)
    assert forged.status_code == 422
    text = wrong.get_data(as_text=True)
    assert wrong.status_code == 422 and 'id="email-error"' in text and 'id="body-error"' in text
    assert count(MessageThread) == 0 and count(OutboxMessage) == 0


def test_a_contact_form_sent_at_once_is_a_robots(app):
    visitor = app.test_client()
    page = visitor.get("/contact").get_data(as_text=True)
    key = page.split('name="form_key" type="hidden" value="')[1].split('"')[0]
    fast = visitor.post("/contact", data={"name": "Sam", "email": "sam@example.com", "subject": "Hi", "body": "Hello",
                                          "website": "", "form_key": key})
    assert fast.status_code == 200 and count(MessageThread) == 0


def test_the_contact_page_is_rate_limited_and_can_be_switched_off(app, no_wait):
    app.config["CONTACT_LIMIT"] = "2 per minute"
    visitor = app.test_client()

    def send(n):
        page = visitor.get("/contact").get_data(as_text=True)
        key = page.split('name="form_key" type="hidden" value="')[1].split('"')[0]
        return visitor.post("/contact", data={"name": "Sam", "email": f"s{n}@example.com", "subject": "Hi",
                                              "body": "Hello", "website": "", "form_key": key}).status_code

    assert [send(n) for n in range(3)] == [200, 200, 429] and count(MessageThread) == 2
    get_settings().contact_enabled = False
    db.session.commit()
    assert visitor.get("/contact").status_code == 404


def test_the_portal_switch_turns_messages_off(app, me, portal):
    get_settings().portal_messages = False
    db.session.commit()
    assert portal.get("/portal/messages").status_code == 404
    assert portal.post("/portal/messages", data={"subject": "x", "body": "y"}).status_code == 404
    assert 'href="/portal/messages"' not in portal.get("/portal/").get_data(as_text=True)


def test_staff_viewing_the_portal_cannot_write_and_leave_answers_unread(app, make, me):
    manager = make.staff(Role.MANAGER)
    thread = messages.start_with_client(me.client, manager, "Hello", "An answer")
    db.session.commit()
    office = signed_in(app, manager)
    office.post(f"/clients/{me.client.id}/portal")
    assert office.get(f"/portal/messages/{thread.id}").status_code == 200
    assert office.post(f"/portal/messages/{thread.id}", data={"body": "as the client"}).status_code == 403
    assert office.post("/portal/messages", data={"subject": "x", "body": "y"}).status_code == 403
    db.session.expire_all()
    assert db.session.get(MessageThread, thread.id).unread_by_client and count(Message) == 1


def served_message_key(page: str) -> str:
    return page.split('name="form_key" type="hidden" value="')[1].split('"')[0]


def test_a_message_form_sent_twice_makes_one_message(app, make, me, portal, inbox):
    """A double click, or a resend after a lost answer: each served form carries its key, and sending it again
    makes nothing more (no second message, no second email), whoever writes and wherever."""
    manager = make.staff(Role.MANAGER)
    office = signed_in(app, manager)
    key = served_message_key(office.get(f"/messages/new/{me.client.id}").get_data(as_text=True))
    data = {"subject": "Hello", "body": "First words", "form_key": key}
    assert [office.post(f"/messages/new/{me.client.id}", data=data).status_code for _ in range(2)] == [303, 303]
    thread = db.session.scalar(select(MessageThread))
    assert count(MessageThread) == 1 and count(Message) == 1
    reply_key = served_message_key(portal.get(f"/portal/messages/{thread.id}").get_data(as_text=True))
    for _ in range(2):
        assert portal.post(f"/portal/messages/{thread.id}", data={"body": "Thanks", "form_key": reply_key}).status_code == 303
    staff_key = served_message_key(office.get(f"/messages/{thread.id}").get_data(as_text=True))
    for _ in range(2):
        office.post(f"/messages/{thread.id}", data={"body": "You're welcome", "form_key": staff_key}, headers=HX)
    assert [m.body for m in db.session.get(MessageThread, thread.id).messages] == ["First words", "Thanks",
                                                                                   "You're welcome"]
    # A fresh form (a new key) is a new message; a key from another thread's form is refused, nothing kept.
    fresh = served_message_key(portal.get(f"/portal/messages/{thread.id}").get_data(as_text=True))
    assert fresh != reply_key
    other = messages.start_with_client(me.client, manager, "Another", "Words")
    db.session.commit()
    stolen = portal.post(f"/portal/messages/{other.id}", data={"body": "x", "form_key": reply_key})
    assert stolen.status_code == 422 and len(db.session.get(MessageThread, other.id).messages) == 1
    outbox.deliver_all()
    assert len([m for m in inbox.messages if "You're welcome" in inbox.text(m)]) == 1


def test_a_visit_message_sent_twice_at_once_makes_one_message(app, make, me):
    visit = book(me.client, make.service(name="Walk"), make.staff(Role.SITTER), [make.pet(me.client)])
    visit_id, login_id, key = visit.id, me.id, messages.new_message_key()

    def write(_i):
        from models import ClientLogin, Visit
        return messages.write_about_visit(db.session.get(Visit, visit_id), db.session.get(ClientLogin, login_id),
                                          "The gate code changed", form_key=key).id

    outcomes = at_once(app, 2, write)
    assert count(MessageThread) == 1 and count(Message) == 1, outcomes


def test_a_day_of_cards_fetches_an_empty_threads_form_only_when_it_is_opened(app, make, me, portal):
    """On the sitter's day a visit nobody has written about carries no form (a third of the page's rendering):
    opening it fetches the thread's body; without JavaScript its link is the thread's own page."""
    sitter = make.staff(Role.SITTER, first_name="Fern")
    stranger = make.staff(Role.SITTER, first_name="Gus")
    quiet = book(me.client, make.service(name="Walk"), sitter, [make.pet(me.client, name="Rex")])
    talked = book(me.client, make.service(name="Sit"), sitter, [make.pet(me.client, name="Ivy")])
    portal.post(f"/portal/visits/{talked.id}/messages", data={f"visit{talked.id}-body": "Gate code 4321."})
    her = signed_in(app, sitter)
    day = her.get("/today/").get_data(as_text=True)
    assert f'hx-get="/messages/visits/{quiet.id}"' in day and f'action="/messages/visits/{quiet.id}"' not in day
    assert f'action="/messages/visits/{talked.id}"' in day and "Gate code 4321." in day  # a thread with words is whole
    body = her.get(f"/messages/visits/{quiet.id}", headers=HX)
    assert body.status_code == 200 and "<html" not in body.get_data(as_text=True)
    assert f'action="/messages/visits/{quiet.id}"' in body.get_data(as_text=True)
    page = her.get(f"/messages/visits/{quiet.id}")
    assert page.status_code == 200 and "<html" in page.get_data(as_text=True)
    assert f'action="/messages/visits/{quiet.id}"' in page.get_data(as_text=True)
    assert signed_in(app, stranger).get(f"/messages/visits/{quiet.id}", headers=HX).status_code == 404
    assert portal.get(f"/messages/visits/{quiet.id}").status_code in (302, 303, 403, 404)
