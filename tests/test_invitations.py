"""Inviting client profiles: the modal, the invitation email (real SMTP on loopback), resend and revoke."""
import re

import pytest
from sqlalchemy import select

from extensions import db
from models import ClientEmail, ClientLogin, Invitation, OutboxMessage
from services import outbox
from services.invites import CODE_ALPHABET, keyed_hash, normalize_code
from tests.conftest import HX, smtp_config

LINK = re.compile(r"http://localhost/register\?invite=[\w.\-]+")
CODE = re.compile(r"\b([A-Z2-9]{4}-[A-Z2-9]{4})\b")


@pytest.fixture
def app_config(smtp):
    return smtp_config(smtp)


def _invite(as_manager, ids, message="", headers=None):
    return as_manager.post("/invitations/", data={"ids": [str(i) for i in ids], "message": message},
                           headers=headers or {})


def test_modal_counts_who_is_invited_and_lists_who_is_skipped(as_manager, make, password_hash):
    ready = make.client(last_name="Ready")
    no_email = make.client(last_name="Mailless", email=None)
    has_login = make.client(last_name="Joined")
    db.session.add(ClientLogin(client=has_login, email="joined@example.com", password_hash=password_hash))
    secondary_only = make.client(last_name="Second", email=None)
    secondary_only.emails = [ClientEmail(email="second@example.com", is_primary=False)]
    db.session.commit()
    ids = [ready.id, no_email.id, has_login.id, secondary_only.id]
    url = "/invitations/new?" + "&".join(f"ids={i}" for i in ids)

    fragment = as_manager.get(url, headers={**HX, "HX-Target": "body"})
    body = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in body and "<dialog" in body
    assert "1 client will get an Account Invitation" in body and "Send 1 invitation" in body
    assert f"{no_email.name}: has no primary email" in body
    assert f"{secondary_only.name}: has no primary email" in body
    assert f"{has_login.name}: already has a portal login" in body
    page = as_manager.get(url)
    assert page.status_code == 200 and "<html" in page.get_data(as_text=True) and "<dialog" in page.get_data(as_text=True)


def test_invitation_email_has_link_code_message_and_business_contact(app, as_manager, make, inbox):
    client = make.client(first_name="Ada", email="ada@example.com")
    client.emails.append(ClientEmail(email="ada.work@example.com", is_primary=True))
    client.emails.append(ClientEmail(email="not-primary@example.com", is_primary=False))
    db.session.commit()
    response = _invite(as_manager, [client.id], "We'd love to see Biscuit again!")
    assert response.status_code == 303 and response.headers["Location"] == f"/clients/{client.id}"

    assert outbox.deliver_all() == (1, 0)
    [message] = inbox.messages
    assert set(a.strip() for a in message["To"].split(",")) == {"ada@example.com", "ada.work@example.com"}
    assert message["Subject"] == "Your Pawtal Pet Care account invitation"
    text, html = inbox.text(message), inbox.html(message)
    for part in (text, html):
        assert "Hello Ada" in part and "love to see Biscuit again!" in part
        assert app.config["BUSINESS_PHONE"] in part and app.config["BUSINESS_EMAIL"] in part
        assert LINK.search(part) and CODE.search(part)
    code = CODE.search(text).group(1)
    assert set(code.replace("-", "")) <= set(CODE_ALPHABET) and len(code) == 9
    assert LINK.search(text).group(0) in html.replace("&amp;", "&")

    invitation = db.session.scalar(select(Invitation))
    assert invitation.code_hash == keyed_hash(normalize_code(code)) and code not in invitation.code_hash
    assert invitation.token_hash == keyed_hash(LINK.search(text).group(0).split("invite=")[1])
    stored = db.session.scalar(select(OutboxMessage))
    assert stored.secrets is None and stored.sent_at is not None
    assert code not in stored.body_text + stored.body_html and "invite=" not in stored.body_text + stored.body_html
    assert "(removed after delivery)" in outbox.fill(stored.body_text, stored.secrets, html=False)


def test_htmx_send_closes_the_modal_and_tells_the_table_to_refresh(as_manager, make):
    clients = [make.client() for _ in range(3)]
    response = _invite(as_manager, [c.id for c in clients], headers={**HX, "HX-Target": "invite-dialog"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<dialog" not in body
    assert 'hx-swap-oob="true"' in body and "Invited 3 clients." in body
    assert "clientsChanged" in response.headers["HX-Trigger"]
    assert db.session.scalar(select(db.func.count(Invitation.id))) == 3
    assert db.session.scalar(select(db.func.count(OutboxMessage.id))) == 3
    table = as_manager.get("/clients/", headers={**HX, "HX-Target": "client-rows"}).get_data(as_text=True)
    assert table.count(">Invited<") == 3


def test_nobody_invitable_is_refused_in_place_and_nothing_is_saved(as_manager, make):
    no_email = make.client(email=None)
    response = _invite(as_manager, [no_email.id], headers={**HX, "HX-Target": "invite-dialog"})
    assert response.status_code == 422 and "None of the chosen clients can be invited." in response.get_data(as_text=True)
    assert db.session.scalar(select(Invitation)) is None and db.session.scalar(select(OutboxMessage)) is None


def test_reinviting_revokes_the_older_invitation_and_resend_and_revoke_work(as_manager, make):
    client = make.client(last_name="Twice")
    _invite(as_manager, [client.id])
    _invite(as_manager, [client.id])
    first, second = db.session.scalars(select(Invitation).order_by(Invitation.id)).all()
    assert first.state() == "revoked" and second.state() == "pending"

    listing = as_manager.get("/invitations/").get_data(as_text=True)
    assert "Twice" in listing and listing.count(">Resend<") == 1
    response = as_manager.post(f"/invitations/{second.id}/resend", headers=HX)
    assert "clientsChanged" in response.headers["HX-Trigger"]
    db.session.expire_all()
    assert second.state() == "revoked"
    third = db.session.scalars(select(Invitation).order_by(Invitation.id.desc())).first()
    assert third.state() == "pending"
    assert as_manager.post(f"/invitations/{third.id}/revoke").status_code == 303
    db.session.expire_all()
    assert third.state() == "revoked"
    assert "No pending invitations" in as_manager.get("/invitations/").get_data(as_text=True)
    again = as_manager.post(f"/invitations/{third.id}/revoke", headers=HX)
    assert "Only a pending invitation can be revoked." in again.get_data(as_text=True)


def test_a_revoked_invitation_is_not_resent(as_manager, make, inbox):
    client = make.client(last_name="Withdrawn")
    _invite(as_manager, [client.id])
    invitation = db.session.scalar(select(Invitation))
    assert as_manager.post(f"/invitations/{invitation.id}/revoke").status_code == 303
    outbox.deliver_all()
    inbox.clear()
    mails = db.session.scalar(select(db.func.count(OutboxMessage.id)))

    refused = as_manager.post(f"/invitations/{invitation.id}/resend", headers=HX)
    assert refused.status_code == 409 and "This invitation was revoked" in refused.get_data(as_text=True)
    plain = as_manager.post(f"/invitations/{invitation.id}/resend", follow_redirects=True)
    assert "This invitation was revoked" in plain.get_data(as_text=True)
    assert db.session.scalar(select(db.func.count(Invitation.id))) == 1
    assert db.session.scalar(select(db.func.count(OutboxMessage.id))) == mails
    assert outbox.deliver_all() == (0, 0) and inbox.messages == []


def test_profile_shows_pending_invitation_and_invite_button(as_manager, make):
    client = make.client()
    profile = as_manager.get(f"/clients/{client.id}").get_data(as_text=True)
    assert "Invite to the portal" in profile and ">Invited<" not in profile
    _invite(as_manager, [client.id])
    section = as_manager.get(f"/clients/{client.id}/logins", headers={**HX, "HX-Target": "logins"})
    body = section.get_data(as_text=True)
    assert "<html" not in body and ">Invited<" in body and "Revoke" in body
    assert "<html" in as_manager.get(f"/clients/{client.id}/logins").get_data(as_text=True)


def test_sitters_cannot_invite(app, make):
    from models import Role
    from tests.conftest import login_as

    sitter = make.staff(Role.SITTER)
    client = make.client(primary_sitter_id=sitter.id)
    browser = app.test_client()
    login_as(browser, sitter)
    assert browser.post("/invitations/", data={"ids": [str(client.id)]}).status_code == 403
    assert "Invite…" not in browser.get("/clients/").get_data(as_text=True)
