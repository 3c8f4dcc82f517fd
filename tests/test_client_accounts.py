"""Client accounts: registration with and without a code, sign-in, set and reset password (real SMTP)."""
import re
import threading
import time
from datetime import timedelta

import pytest
from itsdangerous import TimestampSigner
from sqlalchemy import select

from extensions import db
from models import ClientLogin, ClientProfile, ClientStatus, Invitation, OutboxMessage, Policy, PolicyAgreement
from services import logins, outbox, passwords
from services.errors import DomainError
from services.invites import send_invitations
from services.settings import update_settings
from tests.conftest import HX, PASSWORD, login_as, smtp_config

LINK = re.compile(r"http://localhost(/\S+)")
CODE = re.compile(r"\b([A-Z2-9]{4}-[A-Z2-9]{4})\b")
NEW_PASSWORD = "brand-new-pass-7"


@pytest.fixture
def app_config(smtp):
    return smtp_config(smtp)


@pytest.fixture
def terms():
    policy = Policy(title="Service Agreement", body="We walk dogs.", version=3, required_at_registration=True)
    db.session.add(policy)
    db.session.commit()
    return policy


def _invited(make, inbox, **kw):
    client = make.client(**kw)
    send_invitations([client], None, "Welcome!")
    db.session.commit()
    outbox.deliver_all()
    message = inbox.messages[-1]
    text = inbox.text(message)
    return client, LINK.search(text).group(1), CODE.search(text).group(1)


def _register(browser, **values):
    data = {"email": "new@example.com", "password": PASSWORD, "confirm": PASSWORD, "first_name": "Nia",
            "last_name": "Reyes", "code": ""}
    data.update(values)
    return browser.post("/register", data=data)


def test_invited_client_follows_the_emailed_link_registers_and_lands_on_the_portal(app, make, inbox, terms):
    client, link, code = _invited(make, inbox, last_name="Invited")
    browser = app.test_client()
    form = browser.get(link).get_data(as_text=True)
    assert f'value="{code}"' in form and "Service Agreement" in form
    response = _register(browser, email="me@example.com", code=code.replace("-", ""), policies=str(terms.id))
    assert response.status_code == 303 and response.headers["Location"] == "/portal/"
    portal = browser.get("/portal/")
    assert portal.status_code == 200 and "Getting started: step" in portal.get_data(as_text=True)

    login = db.session.scalar(select(ClientLogin))
    assert login.client_id == client.id and login.email == "me@example.com" and login.has_password
    invitation = db.session.scalar(select(Invitation))
    assert invitation.used_at is not None and invitation.login_id == login.id
    agreement = db.session.scalar(select(PolicyAgreement))
    assert (agreement.policy_id, agreement.policy_version, agreement.login_id) == (terms.id, 3, login.id)
    assert agreement.ip_address == "127.0.0.1" and agreement.agreed_at is not None
    assert db.session.scalar(select(db.func.count(ClientProfile.id))) == 1  # no new profile


def test_typed_code_works_in_any_case_with_or_without_the_dash(app, make, inbox):
    _, _, code = _invited(make, inbox)
    response = _register(app.test_client(), code=" " + code.lower() + " ")
    assert response.status_code == 303


def test_self_registration_creates_a_prospect_that_staff_see(app, make, as_manager):
    response = _register(app.test_client(), email="Fresh@Example.com", first_name="Fay", last_name="Fresh")
    assert response.status_code == 303
    profile = db.session.scalar(select(ClientProfile))
    assert profile.status == ClientStatus.PROSPECT and profile.emails[0].email == "fresh@example.com"
    assert profile.logins[0].email == "fresh@example.com"
    table = as_manager.get("/clients/?status=prospect").get_data(as_text=True)
    assert "Fresh, Fay" in table and "Portal password set" in table


def test_when_self_registration_is_off_the_page_says_how_to_reach_the_business(app, make, inbox):
    update_settings(False, False, {}, {})
    db.session.commit()
    browser = app.test_client()
    page = browser.get("/register").get_data(as_text=True)
    assert "creates accounts by invitation" in page and app.config["BUSINESS_PHONE"] in page
    refused = _register(browser)
    assert refused.status_code == 422 and "Enter the invitation code from your email" in refused.get_data(as_text=True)
    assert db.session.scalar(select(ClientLogin)) is None and db.session.scalar(select(ClientProfile)) is None
    _, _, code = _invited(make, inbox)
    assert _register(browser, code=code).status_code == 303  # invitations still work


@pytest.mark.parametrize("state, message", [
    ("wrong", "That invitation code is not right"),
    ("expired", "That invitation code has expired. Ask Pawtal Pet Care"),
    ("used", "That invitation code has already been used"),
    ("revoked", "That invitation was replaced or withdrawn"),
])
def test_bad_codes_get_their_own_message_and_the_form_keeps_what_was_typed(app, make, inbox, state, message):
    client, _, code = _invited(make, inbox)
    invitation = db.session.scalar(select(Invitation))
    if state == "wrong":
        code = "ZZZZ-ZZZZ"
    elif state == "expired":
        invitation.expires_at = invitation.created_at - timedelta(seconds=1)
    elif state == "used":
        invitation.used_at = invitation.created_at
    elif state == "revoked":
        invitation.revoked_at = invitation.created_at
    db.session.commit()
    if state == "revoked":
        link = LINK.search(inbox.text(inbox.messages[-1])).group(1)
        assert message in app.test_client().get(link).get_data(as_text=True)  # told when the link opens
    response = _register(app.test_client(), code=code, first_name="Kept", email="kept@example.com")
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and message in body
    assert 'value="Kept"' in body and 'value="kept@example.com"' in body and PASSWORD not in body
    assert db.session.scalar(select(ClientLogin)) is None


def test_email_with_a_login_is_told_to_sign_in_or_reset(app, make, password_hash):
    client = make.client()
    db.session.add(ClientLogin(client=client, email="taken@example.com", password_hash=password_hash))
    db.session.commit()
    body = _register(app.test_client(), email="TAKEN@example.com").get_data(as_text=True)
    assert "An account already uses this email. Sign in, or reset your password" in body


def test_password_rule_confirmation_and_required_policies(app, terms):
    browser = app.test_client()
    weak = _register(browser, password="short", confirm="short", policies=str(terms.id)).get_data(as_text=True)
    assert "Use at least 10 characters." in weak
    differ = _register(browser, confirm="something-else-9", policies=str(terms.id)).get_data(as_text=True)
    assert "The passwords differ." in differ
    unagreed = _register(browser)
    assert unagreed.status_code == 422
    assert "Please read and agree to the Service Agreement." in unagreed.get_data(as_text=True)
    assert db.session.scalar(select(ClientLogin)) is None


def test_two_registrations_racing_on_one_code_give_exactly_one_login(app, make, inbox):
    _, _, code = _invited(make, inbox)
    barrier = threading.Barrier(4)
    outcomes = []

    def attempt(n):
        with app.app_context():
            barrier.wait()
            try:
                logins.register(logins.Registration(email=f"racer{n}@example.com", password=PASSWORD,
                                                    first_name="R", last_name=str(n), code=code))
                db.session.commit()
                outcomes.append("ok")
            except DomainError as error:
                outcomes.append(error.errors.get("code") if hasattr(error, "errors") else error.message)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert outcomes.count("ok") == 1, outcomes
    assert all("already been used" in o for o in outcomes if o != "ok"), outcomes
    db.session.expire_all()
    assert db.session.scalar(select(db.func.count(ClientLogin.id))) == 1


def test_client_sign_in_out_generic_failure_and_separate_from_staff(app, make, password_hash, manager):
    client = make.client()
    db.session.add(ClientLogin(client=client, email="pat@example.com", password_hash=password_hash))
    db.session.commit()
    browser = app.test_client()
    wrong = browser.post("/login", data={"email": "pat@example.com", "password": "nope-nope-1"})
    unknown = browser.post("/login", data={"email": "nobody@example.com", "password": "nope-nope-1"})
    assert wrong.status_code == unknown.status_code == 401
    assert "That email and password do not match." in wrong.get_data(as_text=True)
    assert browser.post("/login", data={"email": "pat@example.com", "password": PASSWORD}).status_code == 303
    assert browser.get("/portal/").status_code == 200
    assert browser.get("/clients/").status_code == 403
    staff_login = browser.post("/staff/login", data={"email": "pat@example.com", "password": PASSWORD})
    assert staff_login.status_code == 401  # a client login is not a staff account
    assert browser.post("/logout").status_code == 303
    assert browser.get("/portal/").headers["Location"].startswith("/login")
    staff = app.test_client()
    login_as(staff, manager)
    assert staff.get("/portal/").status_code == 403


def test_client_sign_in_is_throttled_per_account(app, make, password_hash):
    app.config["CLIENT_LOGIN_LIMIT"] = "3 per minute"
    client = make.client()
    db.session.add(ClientLogin(client=client, email="slow@example.com", password_hash=password_hash))
    db.session.commit()
    codes = [app.test_client().post("/login", data={"email": "slow@example.com", "password": "wrong-pass-1"},
                                    environ_base={"REMOTE_ADDR": f"10.0.0.{n}"}).status_code for n in range(4)]
    assert codes == [401, 401, 401, 429]


def _reset_link(inbox, address):
    [message] = inbox.to(address)
    return LINK.search(inbox.text(message)).group(1)


def test_forgot_password_answers_known_and_unknown_addresses_byte_for_byte_the_same(app, make, password_hash, inbox):
    client = make.client()
    db.session.add(ClientLogin(client=client, email="known@example.com", password_hash=password_hash))
    db.session.commit()
    responses = []
    for address in ("known@example.com", "unknown@example.com"):
        response = app.test_client().post("/password/forgot", data={"email": address})
        # The rate-limit clock headers tell the second apart, not the address: they are left out.
        # The rate limit's clock and the request's own id differ from one answer to the next, whatever the address.
        headers = sorted((k, v) for k, v in response.headers.items()
                         if k not in ("X-RateLimit-Reset", "Retry-After", "X-Request-ID"))
        responses.append((response.status_code, headers, response.get_data()))
    assert responses[0] == responses[1]
    page = app.test_client().get(responses[0][1][[k for k, _ in responses[0][1]].index("Location")][1])
    text = page.get_data(as_text=True)
    assert "If this address belongs to a client account we've emailed a link." in text
    assert app.config["BUSINESS_PHONE"] in text
    assert outbox.deliver_all() == (2, 0)
    assert "/password/link/reset/" in inbox.text(inbox.to("known@example.com")[0])
    [team] = inbox.to(app.config["BUSINESS_EMAIL"])
    assert "unknown@example.com" in inbox.text(team) and not inbox.to("unknown@example.com")


def test_reset_link_sets_the_password_signs_in_ends_other_sessions_and_works_once(app, make, password_hash, inbox):
    client = make.client()
    login = ClientLogin(client=client, email="kim@example.com", password_hash=password_hash)
    db.session.add(login)
    db.session.commit()
    other_device = app.test_client()
    other_device.post("/login", data={"email": "kim@example.com", "password": PASSWORD})
    assert other_device.get("/portal/").status_code == 200

    app.test_client().post("/password/forgot", data={"email": "kim@example.com"})
    outbox.deliver_all()
    link = _reset_link(inbox, "kim@example.com")
    browser = app.test_client()
    opened = browser.get(link)
    assert opened.status_code == 303 and opened.headers["Location"] == "/password/set"  # token left the URL
    form = browser.get("/password/set").get_data(as_text=True)
    assert "Set Password &amp; Login" in form and "kim@example.com" in form
    mismatch = browser.post("/password/set", data={"password": NEW_PASSWORD, "confirm": "different-pass-1"})
    assert mismatch.status_code == 422 and "The passwords differ." in mismatch.get_data(as_text=True)
    done = browser.post("/password/set", data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 303 and done.headers["Location"] == "/portal/"
    assert browser.get("/portal/").status_code == 200
    assert other_device.get("/portal/").status_code == 302  # the other session ended
    assert app.test_client().post("/login", data={"email": "kim@example.com", "password": NEW_PASSWORD}).status_code == 303

    reused = app.test_client().get(link)
    assert reused.status_code == 404 and "This link is not valid" in reused.get_data(as_text=True)


def test_tampered_and_expired_links_are_told_apart(app, make, password_hash, monkeypatch):
    client = make.client()
    login = ClientLogin(client=client, email="lee@example.com", password_hash=password_hash)
    db.session.add(login)
    db.session.commit()
    token = passwords.token_for(login, "reset")
    tampered = app.test_client().get(f"/password/link/reset/{token[:-2]}xx")
    assert tampered.status_code == 404 and "not valid" in tampered.get_data(as_text=True)
    wrong_purpose = app.test_client().get(f"/password/link/set/{token}")
    assert wrong_purpose.status_code == 404
    later = int(time.time()) + 2 * 3600
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: later)
    expired = app.test_client().get(f"/password/link/reset/{token}")
    body = expired.get_data(as_text=True)
    assert expired.status_code == 410 and "This link has expired" in body
    assert "/password/forgot?email=lee@example.com" in body  # offers a new link


def test_staff_add_a_login_which_gets_a_set_password_email(app, as_manager, make, inbox):
    client = make.client()
    response = as_manager.post(f"/clients/{client.id}/logins",
                               data={"email": "Partner@Example.com", "first_name": "Sam", "last_name": "Partner"},
                               headers={**HX, "HX-Target": "logins"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body and "partner@example.com" in body
    assert "no password yet" in body
    outbox.deliver_all()
    [message] = inbox.to("partner@example.com")
    assert message["Subject"] == "Set your Pawtal Pet Care password"
    link = LINK.search(inbox.text(message)).group(1)
    browser = app.test_client()
    browser.get(link)
    assert browser.post("/password/set", data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code == 303
    assert "Portal password set" in as_manager.get("/clients/").get_data(as_text=True)
    duplicate = as_manager.post(f"/clients/{client.id}/logins", data={"email": "partner@example.com"},
                                headers={**HX, "HX-Target": "logins"})
    assert duplicate.status_code == 422 and "Another portal login already uses this email." in duplicate.get_data(as_text=True)


def test_staff_disable_enable_and_send_a_password_link(app, as_manager, make, password_hash, inbox):
    client = make.client()
    login = ClientLogin(client=client, email="dee@example.com", password_hash=password_hash)
    db.session.add(login)
    db.session.commit()
    device = app.test_client()
    device.post("/login", data={"email": "dee@example.com", "password": PASSWORD})
    as_manager.post(f"/clients/{client.id}/logins/{login.id}/active", data={"active": "0"})
    assert device.get("/portal/").status_code == 302
    assert device.post("/login", data={"email": "dee@example.com", "password": PASSWORD}).status_code == 401
    refused = as_manager.post(f"/clients/{client.id}/logins/{login.id}/password-link", headers={**HX, "HX-Target": "logins"})
    assert "Enable this login before sending it a password link." in refused.get_data(as_text=True)
    as_manager.post(f"/clients/{client.id}/logins/{login.id}/active", data={"active": "1"})
    assert device.post("/login", data={"email": "dee@example.com", "password": PASSWORD}).status_code == 303
    as_manager.post(f"/clients/{client.id}/logins/{login.id}/password-link")
    outbox.deliver_all()
    assert "/password/link/reset/" in inbox.text(inbox.to("dee@example.com")[0])
    other = make.client()
    assert as_manager.post(f"/clients/{other.id}/logins/{login.id}/active", data={"active": "0"}).status_code == 404


def test_a_client_cannot_reach_another_clients_or_staff_pages(app, make, password_hash):
    mine, theirs = make.client(), make.client()
    login = ClientLogin(client=mine, email="mine@example.com", password_hash=password_hash)
    db.session.add(login)
    db.session.commit()
    browser = app.test_client()
    login_as(browser, login)
    for url in (f"/clients/{theirs.id}", f"/clients/{mine.id}", f"/clients/{theirs.id}/logins", "/invitations/",
                "/outbox/"):
        assert browser.get(url).status_code == 403, url
    assert theirs.name not in browser.get("/portal/").get_data(as_text=True)


class TestCSRF:
    @pytest.fixture
    def app_config(self, smtp):
        return {**smtp_config(smtp), "WTF_CSRF_ENABLED": True}

    def test_posts_without_the_token_are_refused_htmx_ones_included(self, app, as_manager, make):
        client = make.client()
        assert _register(app.test_client()).status_code == 400
        assert app.test_client().post("/password/forgot", data={"email": "a@example.com"}).status_code == 400
        plain = as_manager.post("/invitations/", data={"ids": [str(client.id)]})
        htmx = as_manager.post("/invitations/", data={"ids": [str(client.id)]}, headers={**HX})
        assert plain.status_code == htmx.status_code == 400
        assert db.session.scalar(select(OutboxMessage)) is None


def test_sign_in_and_forgot_password_are_throttled_per_address(app, make, password_hash):
    app.config.update(CLIENT_LOGIN_LIMIT="2 per minute", PASSWORD_EMAIL_LIMIT="2 per minute")
    browser = app.test_client()
    logins_ = [browser.post("/login", data={"email": f"who{n}@example.com", "password": "x-password-1"}).status_code
               for n in range(3)]
    assert logins_ == [401, 401, 429]
    forgot = [app.test_client().post("/password/forgot", data={"email": "same@example.com"},
                                     environ_base={"REMOTE_ADDR": f"10.1.0.{n}"}).status_code for n in range(3)]
    assert forgot == [303, 303, 429]
    assert db.session.scalar(select(db.func.count(OutboxMessage.id))) == 2
