"""The newsletter: double opt-in with spam guards and no enumeration, audiences, preview, a test to oneself, sending
once at a steady rate, List-Unsubscribe headers through a real SMTP server, and one-click unsubscribing."""
import re
import time

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import func, select

from extensions import db
from models import (
    ClientLogin, ClientStatus, NewsletterCampaign, NewsletterDelivery, NewsletterSubscriber, OutboxMessage, Role,
    Territory, utcnow,
)
from services import newsletter, outbox
from tests.conftest import HX, at_once, login_as, smtp_config

CONFIRM = re.compile(r"http://localhost(/newsletter/confirm/\S+)")
UNSUBSCRIBE = re.compile(r"http://localhost(/newsletter/unsubscribe/[^\s>\"]+)")


@pytest.fixture
def app_config(smtp):
    return smtp_config(smtp)


@pytest.fixture
def no_wait(monkeypatch):
    monkeypatch.setattr(newsletter, "MIN_SECONDS", 0)


def served_key(visitor, url="/newsletter/subscribe") -> str:
    page = visitor.get(url).get_data(as_text=True)
    return page.split('name="newsletter-form_key" type="hidden" value="')[1].split('"')[0]


def signup(visitor, email="ola@example.com", **changes) -> dict:
    return {"newsletter-email": email, "newsletter-name": "Ola", "newsletter-website": "",
            "newsletter-form_key": served_key(visitor), **changes}


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def subscriber(email) -> NewsletterSubscriber:
    db.session.expire_all()
    return db.session.scalar(select(NewsletterSubscriber).where(NewsletterSubscriber.email == email))


def confirm_link(inbox, email) -> str:
    outbox.deliver_all()
    return CONFIRM.search(inbox.text(inbox.to(email)[-1])).group(1)


def confirmed(email, client=None, **kw) -> NewsletterSubscriber:
    found = NewsletterSubscriber(email=email, state="confirmed", confirmed_at=utcnow(),
                                 client_id=client.id if client else None, **kw)
    db.session.add(found)
    db.session.commit()
    return found


def campaign(manager, **kw) -> NewsletterCampaign:
    made = newsletter.create_campaign(newsletter.Draft(kw.pop("subject", "Spring news"),
                                                       kw.pop("body", "Hello **all**.\n\n- walks\n- cuddles"), **kw),
                                      manager)
    db.session.commit()
    return made


def test_a_public_sign_up_is_pending_until_the_emailed_link_is_confirmed(app, inbox, no_wait, make):
    make.client(first_name="Ola", email="OLA@example.com")
    visitor = app.test_client()
    answer = visitor.post("/newsletter/subscribe", data=signup(visitor))
    assert answer.status_code == 200 and "Thank you!" in answer.get_data(as_text=True)
    found = subscriber("ola@example.com")
    assert found.state == "pending" and found.client_id is not None  # linked to the client of that email
    link = confirm_link(inbox, "ola@example.com")
    page = visitor.get(link)  # a GET (a mail scanner's) confirms nothing
    assert page.status_code == 200 and "Yes, send me the newsletter" in page.get_data(as_text=True)
    assert subscriber("ola@example.com").state == "pending"
    assert "will come to ola@example.com" in visitor.post(link).get_data(as_text=True)
    assert subscriber("ola@example.com").state == "confirmed"
    assert visitor.post(link).status_code == 200  # again: still subscribed, nothing new
    # Unsubscribed, the old confirmation link does not subscribe again.
    newsletter.unsubscribe(subscriber("ola@example.com"))
    db.session.commit()
    again = visitor.post(link)
    assert again.status_code == 400 and "used already" in again.get_data(as_text=True)
    assert subscriber("ola@example.com").state == "unsubscribed"


def test_a_confirmation_link_expires_and_a_bad_one_is_a_clear_page(app, no_wait):
    visitor = app.test_client()
    visitor.post("/newsletter/subscribe", data=signup(visitor))
    found = subscriber("ola@example.com")
    days = app.config["NEWSLETTER_CONFIRM_DAYS"]

    class Earlier(TimestampSigner):
        def get_timestamp(self):
            return int(time.time()) - days * 86400 - 60

    old = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=newsletter.CONFIRM_SALT, signer=Earlier)
    expired = visitor.post(f"/newsletter/confirm/{old.dumps([found.id, found.confirm_nonce])}")
    assert expired.status_code == 400 and "expired" in expired.get_data(as_text=True)
    assert visitor.get("/newsletter/confirm/made-up").status_code == 404
    assert subscriber("ola@example.com").state == "pending"


def test_the_answer_is_the_same_whether_or_not_the_address_is_subscribed(app, no_wait):
    confirmed("known@example.com")
    visitor = app.test_client()
    new = visitor.post("/newsletter/subscribe", data=signup(visitor, "new@example.com")).get_data(as_text=True)
    known = visitor.post("/newsletter/subscribe", data=signup(visitor, "known@example.com")).get_data(as_text=True)
    strip = lambda html: re.sub(r'value="[^"]*"', "", html)  # noqa: E731 - the form keys differ, nothing else
    assert strip(new) == strip(known)
    assert subscriber("known@example.com").state == "confirmed"
    assert db.session.scalar(select(func.count()).where(OutboxMessage.kind == "newsletter-confirm")) == 1


def test_robots_and_mistakes_are_kept_out(app):
    visitor = app.test_client()
    trapped = visitor.post("/newsletter/subscribe", data=signup(visitor, **{"newsletter-website": "http://spam"}))
    too_fast = visitor.post("/newsletter/subscribe", data=signup(visitor))
    assert trapped.status_code == too_fast.status_code == 200
    assert "Thank you!" in too_fast.get_data(as_text=True)
    forged = visitor.post("/newsletter/subscribe", data=signup(visitor, **{"newsletter-form_key": "made-up"}))
    assert forged.status_code == 422
    wrong = visitor.post("/newsletter/subscribe", data=signup(visitor, "not-an-email"), headers=HX)
    body = wrong.get_data(as_text=True)
    assert wrong.status_code == 422 and 'id="newsletter-email-error"' in body and "<html" not in body
    assert count(NewsletterSubscriber) == 0 and count(OutboxMessage) == 0


def test_sign_ups_are_rate_limited(app, no_wait):
    app.config["NEWSLETTER_LIMIT"] = "2 per minute"
    visitor = app.test_client()
    statuses = [visitor.post("/newsletter/subscribe", data=signup(visitor, f"n{n}@example.com")).status_code
                for n in range(3)]
    assert statuses == [200, 200, 429] and count(NewsletterSubscriber) == 2


def test_the_sign_in_page_and_start_link_to_the_sign_up(app, no_wait):
    visitor = app.test_client()
    for url in ("/login", "/start"):
        page = visitor.get(url).get_data(as_text=True)
        assert 'href="/newsletter/subscribe"' in page and 'id="newsletter-email"' not in page
    key = served_key(visitor, "/newsletter/subscribe")
    answer = visitor.post("/newsletter/subscribe", headers=HX, data={
        "newsletter-email": "small@example.com", "newsletter-website": "", "newsletter-form_key": key})
    assert answer.status_code == 200 and "<html" not in answer.get_data(as_text=True)
    assert subscriber("small@example.com").state == "pending"


def test_a_client_ticks_the_box_in_the_portal_and_confirms_by_email(app, portal, me, inbox):
    assert 'name="wanted"' in portal.get("/portal/").get_data(as_text=True)
    answer = portal.post("/newsletter/me", data={"wanted": "y"}, headers=HX)
    assert answer.status_code == 200 and "emailed you a link" in answer.get_data(as_text=True)
    found = subscriber("nia@example.com")
    assert found.state == "pending" and found.client_id == me.client_id and found.source == "portal"
    app.test_client().post(confirm_link(inbox, "nia@example.com"))
    assert subscriber("nia@example.com").state == "confirmed"
    assert portal.post("/newsletter/me", data={}).status_code == 303  # unticked: unsubscribed at once
    assert subscriber("nia@example.com").state == "unsubscribed"


def test_audiences_count_active_clients_territories_and_statuses(app, make, manager, as_manager):
    north = Territory(name="North")
    db.session.add(north)
    db.session.commit()
    active = make.client(status=ClientStatus.ACTIVE, territory_id=north.id)
    prospect = make.client(status=ClientStatus.PROSPECT)
    confirmed("a@example.com", active)
    confirmed("p@example.com", prospect)
    confirmed("stranger@example.com")
    db.session.add(NewsletterSubscriber(email="pending@example.com", state="pending", client_id=active.id))
    db.session.commit()
    assert newsletter.count_audience("all") == 3
    assert newsletter.count_audience("active") == 1
    assert newsletter.count_audience("territory", north.id) == 1
    assert newsletter.count_audience("status", None, "prospect") == 1
    assert newsletter.count_audience("status", None, "inactive") == 0
    fragment = as_manager.get(f"/newsletter/audience?audience=territory&territory_id={north.id}", headers=HX)
    assert "1 confirmed subscriber would get it" in fragment.get_data(as_text=True)
    sent = campaign(manager, audience="status", client_status="prospect")
    assert newsletter.send_campaign(sent.id, manager) == 1
    db.session.commit()
    assert [m.recipients for m in db.session.scalars(select(OutboxMessage))] == [["p@example.com"]]


def test_compose_preview_and_a_test_to_oneself(app, as_manager, manager):
    confirmed("reader@example.com")
    refused = as_manager.post("/newsletter/new", data={"subject": "", "body_markdown": "", "audience": "territory"},
                              headers=HX)
    body = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "<html" not in body
    for field_id in ("subject-error", "body_markdown-error", "territory_id-error"):
        assert f'id="{field_id}"' in body
    assert count(NewsletterCampaign) == 0
    made = as_manager.post("/newsletter/new", data={"subject": "Spring news", "body_markdown": "Hello **all**. "
                           "<script>x()</script>", "audience": "all"})
    assert made.status_code == 303
    draft = db.session.scalar(select(NewsletterCampaign))
    page = as_manager.get(f"/newsletter/{draft.id}").get_data(as_text=True)
    assert "1 confirmed subscriber would get it" in page
    preview = as_manager.get(f"/newsletter/{draft.id}/preview").get_data(as_text=True)
    assert "<strong>all</strong>" in preview and "<script>x()" not in preview
    assert as_manager.post(f"/newsletter/{draft.id}/test").status_code == 303
    [test] = db.session.scalars(select(OutboxMessage)).all()
    assert test.recipients == [manager.email] and test.kind == "newsletter-test"
    assert test.subject == "[Test] Spring news"
    assert count(NewsletterDelivery) == 0 and db.session.get(NewsletterCampaign, draft.id).is_draft


def test_sending_queues_one_message_per_confirmed_subscriber_spaced_by_the_rate(app, as_manager, manager):
    app.config["NEWSLETTER_PER_MINUTE"] = 30  # one every two seconds
    for n in range(3):
        confirmed(f"r{n}@example.com")
    db.session.add(NewsletterSubscriber(email="pending@example.com", state="pending"))
    db.session.add(NewsletterSubscriber(email="gone@example.com", state="unsubscribed"))
    db.session.commit()
    draft = campaign(manager)
    assert as_manager.post(f"/newsletter/{draft.id}/send").status_code == 303
    messages = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.next_attempt_at)).all()
    assert sorted(m.recipients[0] for m in messages) == ["r0@example.com", "r1@example.com", "r2@example.com"]
    gaps = [(b.next_attempt_at - a.next_attempt_at).total_seconds() for a, b in zip(messages, messages[1:])]
    assert gaps == [2.0, 2.0]
    assert {m.kind for m in messages} == {"newsletter"} and count(NewsletterDelivery) == 3
    # Sent once: posted again nothing more is queued, and it cannot be edited.
    as_manager.post(f"/newsletter/{draft.id}/send")
    edited = as_manager.post(f"/newsletter/{draft.id}", data={"subject": "Changed", "body_markdown": "x",
                                                              "audience": "all"})
    assert edited.status_code == 409 and count(OutboxMessage) == 3
    db.session.expire_all()
    assert db.session.get(NewsletterCampaign, draft.id).subject == "Spring news"
    page = as_manager.get("/newsletter/").get_data(as_text=True)
    assert "Spring news" in page and "sent" in page


def test_two_managers_sending_at_once_queue_it_once(app, manager, make):
    other = make.staff(Role.OWNER)
    for n in range(3):
        confirmed(f"r{n}@example.com")
    draft = campaign(manager)
    staff = [manager.id, other.id]

    def send(i):
        from models import StaffUser
        return newsletter.send_campaign(draft.id, db.session.get(StaffUser, staff[i]))

    outcomes = at_once(app, 2, send)
    assert sorted(map(str, outcomes)) == ["3", "DomainError"]
    assert count(OutboxMessage) == 3 and count(NewsletterDelivery) == 3


def test_delivered_newsletters_carry_list_unsubscribe_and_a_visible_link(app, manager, inbox):
    reader = confirmed("reader@example.com", name="Rita")
    draft = campaign(manager)
    newsletter.send_campaign(draft.id, manager)
    newsletter.send_test(draft, manager)
    db.session.commit()
    assert outbox.deliver_all() == (2, 0)
    [mail] = inbox.to("reader@example.com")
    url = f"http://localhost/newsletter/unsubscribe/{reader.token}?c={draft.id}"
    assert mail["List-Unsubscribe"] == f"<{url}>"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail["Auto-Submitted"] == "auto-generated" and mail["Precedence"] == "bulk"
    assert url in inbox.text(mail) and url.replace("&", "&amp;") in inbox.html(mail)
    assert "<strong>all</strong>" in inbox.html(mail) and "Hello Rita" in inbox.text(mail)
    [test] = inbox.to(manager.email)
    assert test["Subject"] == "[Test] Spring news" and test["List-Unsubscribe-Post"]
    # Other kinds carry no list headers.
    newsletter._sign_up("another@example.com", "", "public")
    db.session.commit()
    outbox.deliver_all()
    [confirm] = inbox.to("another@example.com")
    assert confirm["List-Unsubscribe"] is None


def test_one_click_unsubscribe_needs_no_cookie_and_the_next_campaign_skips_them(app, manager):
    reader = confirmed("reader@example.com")
    confirmed("stays@example.com")
    first = campaign(manager)
    newsletter.send_campaign(first.id, manager)
    db.session.commit()
    mail_program = app.test_client(use_cookies=False)
    page = mail_program.get(f"/newsletter/unsubscribe/{reader.token}?c={first.id}")
    assert page.status_code == 200 and subscriber("reader@example.com").state == "confirmed"  # a GET changes nothing
    answer = mail_program.post(f"/newsletter/unsubscribe/{reader.token}?c={first.id}",
                               data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
    assert answer.status_code == 200
    gone = subscriber("reader@example.com")
    assert gone.state == "unsubscribed" and gone.unsubscribed_campaign_id == first.id
    [row] = [r for r in newsletter.list_campaigns() if r.campaign.id == first.id]
    assert (row.queued, row.unsubscribed) == (2, 1)
    second = campaign(manager, subject="Summer news")
    assert newsletter.send_campaign(second.id, manager) == 1
    db.session.commit()
    recipients = db.session.scalars(select(OutboxMessage.recipients).where(OutboxMessage.subject == "Summer news"))
    assert list(recipients) == [["stays@example.com"]]
    assert mail_program.post("/newsletter/unsubscribe/made-up", data="List-Unsubscribe=One-Click").status_code == 404
    assert mail_program.get("/newsletter/unsubscribe/made-up").status_code == 404


class TestWithCsrf:
    @pytest.fixture
    def app_config(self):
        return {"WTF_CSRF_ENABLED": True}

    def test_one_click_works_with_csrf_on_and_other_posts_still_need_the_token(self, app, manager, portal):
        reader = confirmed("reader@example.com")
        answer = app.test_client(use_cookies=False).post(
            f"/newsletter/unsubscribe/{reader.token}", data={"List-Unsubscribe": "One-Click"})
        assert answer.status_code == 200 and subscriber("reader@example.com").state == "unsubscribed"
        assert portal.post("/newsletter/me", data={"wanted": "y"}).status_code == 400  # no token: refused
        staff = app.test_client()
        login_as(staff, manager)
        draft = campaign(manager)
        assert staff.post(f"/newsletter/{draft.id}/send").status_code == 400


def test_staff_see_and_search_subscribers_and_take_one_off(app, as_manager, make, count_queries):
    client = make.client(first_name="Cleo", last_name="Park")
    for n in range(60):
        confirmed(f"s{n:02d}@example.com", client if n % 2 else None)
    with count_queries() as counter:
        page = as_manager.get("/newsletter/subscribers")
    assert page.status_code == 200 and "Page 1 of 2" in page.get_data(as_text=True)
    assert counter.count < 15  # no query per row
    found = as_manager.get("/newsletter/subscribers?q=s07", headers=HX).get_data(as_text=True)
    assert "s07@example.com" in found and "s08@example.com" not in found and "<html" not in found
    assert "Cleo Park" in found
    one = subscriber("s07@example.com")
    assert as_manager.post(f"/newsletter/subscribers/{one.id}/unsubscribe").status_code == 303
    assert subscriber("s07@example.com").state == "unsubscribed"


@pytest.mark.parametrize("who", ["client", "sitter"])
def test_clients_and_sitters_cannot_reach_the_staff_pages(app, make, manager, who, me):
    draft = campaign(manager)
    account = me if who == "client" else make.staff(Role.SITTER)
    browser = app.test_client()
    login_as(browser, account)
    for url in ("/newsletter/", "/newsletter/subscribers", f"/newsletter/{draft.id}", "/newsletter/new",
                f"/newsletter/{draft.id}/preview"):
        assert browser.get(url).status_code == 403, url
    assert browser.post(f"/newsletter/{draft.id}/send").status_code == 403
    assert count(OutboxMessage) == 0
    assert isinstance(db.session.scalar(select(ClientLogin.id)), int)
