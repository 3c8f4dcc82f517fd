"""The email outbox against a real SMTP server on loopback: down, then up, delivered once."""
import time
from email.header import decode_header, make_header

import pytest
from sqlalchemy import func, select

from extensions import db
from models import OutboxMessage
from services import emails, outbox
from services.invites import send_invitations
from services.settings import update_business
from tests.conftest import HX, _free_port, smtp_config


@pytest.fixture
def app_config(smtp):
    return {**smtp_config(smtp), "MAIL_PORT": _free_port()}  # nothing listens there: SMTP is down


def _point_at(app, smtp) -> None:
    app.extensions["mail"].port = smtp.port


def test_smtp_down_then_up_delivers_once_and_forgets_the_secrets(app, as_manager, make, smtp, inbox):
    client = make.client(email="down@example.com")
    response = as_manager.post("/invitations/", data={"ids": [str(client.id)]})
    assert response.status_code == 303  # the request succeeds while SMTP is down

    assert outbox.deliver_due() == (0, 1)
    message = db.session.scalar(select(OutboxMessage))
    assert message.attempts == 1 and message.sent_at is None and "Connection refused" in message.last_error
    assert message.secrets and message.next_attempt_at > message.created_at
    assert outbox.deliver_due() == (0, 0)  # backing off: not due yet
    page = as_manager.get("/outbox/").get_data(as_text=True)
    assert "failing" in page and "down@example.com" in page

    _point_at(app, smtp)
    assert as_manager.post(f"/outbox/{message.id}/retry", headers=HX).status_code == 200
    assert outbox.deliver_due() == (1, 0)
    assert outbox.deliver_all() == (0, 0)
    assert len(inbox.to("down@example.com")) == 1
    db.session.expire_all()
    assert message.sent_at is not None and message.secrets is None and message.last_error == ""
    assert "Everything has been delivered." in as_manager.get("/outbox/").get_data(as_text=True)


def test_backoff_grows_and_is_capped():
    assert [outbox.backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert outbox.backoff(30).total_seconds() == 3600


def test_a_claimed_message_is_not_taken_by_a_second_sender(app, make):
    send_invitations([make.client()], None)
    db.session.commit()
    now = outbox.utcnow()
    first = outbox._claim(10, now)
    second = outbox._claim(10, now)
    assert len(first) == 1 and second == []


def test_flask_outbox_run_delivers_what_is_due(app, make, runner, smtp, inbox):
    send_invitations([make.client(email="cli@example.com")], None)
    db.session.commit()
    failed = runner.invoke(args=["outbox", "run"])
    assert failed.exit_code == 1 and "Sent 0, failed 1." in failed.output
    _point_at(app, smtp)
    outbox.retry_now(db.session.scalar(select(OutboxMessage)))
    result = runner.invoke(args=["outbox", "run"])
    assert result.exit_code == 0 and "Sent 1, failed 0." in result.output
    assert len(inbox.to("cli@example.com")) == 1


class TestRunningApp:
    @pytest.fixture
    def app_config(self, smtp):
        return {**smtp_config(smtp), "OUTBOX_WORKER": True, "OUTBOX_POLL_SECONDS": 3600}

    def test_the_app_delivers_after_the_commit_without_a_command(self, app, as_manager, make, inbox):
        client = make.client(email="thread@example.com")
        assert as_manager.post("/invitations/", data={"ids": [str(client.id)]}).status_code == 303
        deadline = time.monotonic() + 10
        while not inbox.to("thread@example.com") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(inbox.to("thread@example.com")) == 1


def test_an_email_comes_from_the_business_answers_reach_it_and_automatic_ones_say_so(app, make, smtp, inbox):
    """Not "Pawtal <no-reply@localhost>" with no Reply-To: the business's name, its email to answer to, a
    Message-ID on the site's domain, and Auto-Submitted so vacation responders leave it alone."""
    _point_at(app, smtp)
    app.config.update(BASE_URL="https://walks.example.org", MAIL_DEFAULT_SENDER="Pawtal <no-reply@walks.example.org>")
    update_business({"name": "Bark & Stroll, Cambridge", "email": "hello@barkandstroll.example",
                     "phone": "(555) 010-0199", "address": "1 Elm St", "tax_number": "", "website": ""})
    db.session.commit()
    client = make.client(email="nia@example.com")
    emails.send_unknown_reset_email("someone@example.com")
    send_invitations([client], None, "")
    db.session.commit()
    assert outbox.deliver_all()[0] == 2
    [invitation] = inbox.to("nia@example.com")
    assert invitation["From"].addresses[0].display_name == "Bark & Stroll, Cambridge"
    assert invitation["From"].addresses[0].addr_spec == "no-reply@walks.example.org"
    assert invitation["Reply-To"] == "hello@barkandstroll.example"
    assert invitation["Message-ID"].endswith("@walks.example.org>")
    assert invitation["Auto-Submitted"] == "auto-generated"


@pytest.mark.parametrize("name", ["Café Paws", 'The "Best" Walks', "Evil\r\nBcc: victim@example.com"])
def test_the_senders_name_arrives_as_typed_once_encoded_and_on_one_line(app, make, smtp, inbox, name):
    _point_at(app, smtp)
    app.config.update(MAIL_DEFAULT_SENDER="Pawtal <no-reply@walks.example.org>")
    update_business({"name": name, "email": "hello@barkandstroll.example", "phone": "(555) 010-0199",
                     "address": "1 Elm St", "tax_number": "", "website": ""})
    db.session.commit()
    emails.send_unknown_reset_email("someone@example.com")
    db.session.commit()
    assert outbox.deliver_all()[0] == 1
    [message] = inbox.messages
    [raw] = [value for key, value in message.raw_items() if key == "From"]
    assert "\n" not in raw.strip() and raw.strip().endswith("<no-reply@walks.example.org>")  # one header, one address
    encoded, _address = raw.strip().rsplit(" <", 1)
    assert str(make_header(decode_header(encoded))).strip('"') == " ".join(name.split())  # encoded once, not twice
    assert message["Bcc"] is None


def test_senders_on_several_workers_take_different_messages_at_once(app, make):
    """Four senders claiming at the same moment share the queue: each message is claimed by one of them. On
    PostgreSQL the claim skips rows another sender is locking (FOR UPDATE SKIP LOCKED)."""
    from sqlalchemy.dialects import postgresql

    from models import utcnow
    from tests.conftest import at_once

    for n in range(40):
        outbox.queue_email("test", [f"r{n}@example.com"], "Hello", "password_unknown", address=f"r{n}@example.com")
    db.session.commit()
    def sender(_i):
        """A sender's rounds until the queue is empty (one that loses a race takes nothing that round)."""
        mine = []
        for _round in range(20):
            mine += [m.id for m in outbox._claim(15, utcnow())]
            if db.session.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.claimed_until.is_(None))) == 0:
                break
        return mine

    claimed = at_once(app, 4, sender)
    ids = [i for each in claimed for i in each]
    assert len(ids) == len(set(ids)) == 40, claimed  # every message claimed, none twice
    sql = str(outbox.claimable(15, utcnow()).compile(dialect=postgresql.dialect()))
    assert "FOR UPDATE SKIP LOCKED" in sql
