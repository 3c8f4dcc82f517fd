"""First passwords for clients on file, and the Client Logins page where staff also set a password (real SMTP)."""
import logging
import re
import time

import pytest
from itsdangerous import TimestampSigner
from sqlalchemy import func, select

from extensions import db
from models import ClientEmail, ClientLogin, ClientStatus, OutboxMessage, Role
from services import logins, outbox, passwords
from services.errors import DomainError
from services.settings import get_settings
from tests.conftest import HX, PASSWORD, login_as, smtp_config

LINK = re.compile(r"http://localhost(/\S+)")
NEW_PASSWORD = "brand-new-pass-7"
CSRF = re.compile(r'"X-CSRFToken": "[^"]+"')  # each new browser gets its own token, whatever it asked


@pytest.fixture
def app_config(smtp):
    return smtp_config(smtp)


def _forgot(app, address):
    return app.test_client().post("/password/forgot", data={"email": address})


def _first_link(app, inbox, address, typed=None):
    _forgot(app, typed or address)
    outbox.deliver_all()
    [message] = inbox.to(address)
    assert message["Subject"] == "Set your Pawtal Pet Care password"
    return LINK.search(inbox.text(message)).group(1)


def _login_count() -> int:
    return db.session.scalar(select(func.count(ClientLogin.id)))


def test_a_first_time_link_creates_the_login_on_the_right_profile_and_signs_in(app, make, inbox):
    first = make.client(first_name="Ada", last_name="One", email="ada@example.com")
    second = make.client(first_name="Bea", last_name="Two", email="bea@example.com")
    link = _first_link(app, inbox, "bea@example.com", typed="  BEA@Example.com ")
    assert link.startswith("/password/first/") and "bea@example.com" in inbox.text(inbox.to("bea@example.com")[0])
    assert "/password/first/" in inbox.html(inbox.to("bea@example.com")[0])
    browser = app.test_client()
    opened = browser.get(link)
    assert opened.status_code == 303 and opened.headers["Location"] == "/password/first"  # the token left the URL
    page = browser.get("/password/first").get_data(as_text=True)
    assert "bea@example.com" in page and "creates your account" in page
    weak = browser.post("/password/first", data={"password": "short", "confirm": "short"})
    assert weak.status_code == 422 and 'id="password-error"' in weak.get_data(as_text=True) and _login_count() == 0
    done = browser.post("/password/first", data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 303 and done.headers["Location"] == "/portal/"
    login = db.session.scalar(select(ClientLogin))
    assert (login.client_id, login.email, login.first_name, login.last_name) == (second.id, "bea@example.com",
                                                                                 "Bea", "Two")
    assert login.last_login_at is not None and not first.logins
    assert browser.get("/portal/").status_code == 200
    signed_in = app.test_client().post("/login", data={"email": "bea@example.com", "password": NEW_PASSWORD})
    assert signed_in.status_code == 303


def test_a_first_time_link_works_once_even_from_two_tabs(app, make, inbox):
    client = make.client(email="once@example.com")
    link = _first_link(app, inbox, "once@example.com")
    tabs = [app.test_client(), app.test_client()]
    for tab in tabs:
        assert tab.get(link).status_code == 303
    assert tabs[0].post("/password/first", data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code == 303
    late = tabs[1].post("/password/first", data={"password": "other-pass-99", "confirm": "other-pass-99"})
    body = late.get_data(as_text=True)
    assert late.status_code == 409 and "This link was already used" in body and "once@example.com" in body
    again = app.test_client().get(link)
    assert again.status_code == 409 and "This link was already used" in again.get_data(as_text=True)
    assert _login_count() == 1 and client.logins[0].email == "once@example.com"


def test_two_requests_racing_on_one_link_create_one_login(app, make):
    """Both checked the link before either wrote: the unique email refuses the second, with a message."""
    client = make.client(email="race@example.com")
    first = passwords.first_time_from_token(passwords.first_time_token(client, "race@example.com"))
    logins.create_first_login(first, NEW_PASSWORD)
    db.session.commit()
    with pytest.raises(DomainError) as refused:
        logins.create_first_login(first, NEW_PASSWORD)
    db.session.rollback()
    assert "already uses this email" in refused.value.message and _login_count() == 1


def test_an_address_that_got_a_login_meanwhile_is_told_so(app, make, inbox, manager):
    client = make.client(email="meanwhile@example.com")
    link = _first_link(app, inbox, "meanwhile@example.com")
    logins.add_login(client, "meanwhile@example.com", "Mia", "While")  # staff added it by hand meanwhile
    db.session.commit()
    response = app.test_client().get(link)
    assert response.status_code == 409 and "already used" in response.get_data(as_text=True)
    assert _login_count() == 1


def test_tampered_expired_and_moved_first_time_links(app, make, inbox, monkeypatch):
    client = make.client(email="late@example.com")
    token = passwords.first_time_token(client, "late@example.com")
    assert app.test_client().get(f"/password/first/{token[:-2]}xx").status_code == 404
    reset_salt = app.test_client().get(f"/password/link/reset/{token}")  # a first-time link is no reset link
    assert reset_salt.status_code == 404
    assert app.test_client().get("/password/first").status_code == 404  # nothing held
    # The address is no longer the profile's primary email: the link no longer names it.
    client.emails = [ClientEmail(email="new@example.com", is_primary=True)]
    db.session.commit()
    assert app.test_client().get(f"/password/first/{token}").status_code == 404
    later = int(time.time()) + 2 * 3600
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: later)
    expired = app.test_client().get(f"/password/first/{token}")
    body = expired.get_data(as_text=True)
    assert expired.status_code == 410 and "This link has expired" in body
    assert "/password/forgot?email=late@example.com" in body
    assert _login_count() == 0


def test_known_unknown_and_first_time_addresses_get_byte_for_byte_the_same_answer(app, make, password_hash, inbox):
    db.session.add(ClientLogin(client=make.client(), email="known@example.com", password_hash=password_hash))
    make.client(email="onfile@example.com")
    db.session.commit()
    answers = []
    for address in ("known@example.com", "unknown@example.com", "onfile@example.com"):
        response = _forgot(app, address)
        # The rate limit's clock and the request's own id differ from one answer to the next, whatever the address.
        headers = sorted((k, v) for k, v in response.headers.items()
                         if k not in ("X-RateLimit-Reset", "Retry-After", "X-Request-ID"))
        page = app.test_client().get(response.headers["Location"]).get_data(as_text=True)
        answers.append((response.status_code, headers, response.get_data(), CSRF.sub("", page)))
    assert answers[0] == answers[1] == answers[2]
    assert outbox.deliver_all() == (3, 0)
    assert "/password/link/reset/" in inbox.text(inbox.to("known@example.com")[0])
    assert "/password/first/" in inbox.text(inbox.to("onfile@example.com")[0])
    [team] = inbox.to(app.config["BUSINESS_EMAIL"])
    assert "unknown@example.com" in inbox.text(team) and not inbox.to("unknown@example.com")


def test_with_the_option_off_an_address_on_file_is_treated_as_unknown(app, make, inbox):
    make.client(email="off@example.com")
    get_settings().first_time_passwords = False
    db.session.commit()
    assert _forgot(app, "off@example.com").status_code == 303
    outbox.deliver_all()
    assert not inbox.to("off@example.com")
    [team] = inbox.to(app.config["BUSINESS_EMAIL"])
    assert "off@example.com" in inbox.text(team)


def test_an_address_on_several_profiles_or_not_primary_is_treated_as_unknown(app, make, inbox):
    make.client(email="shared@example.com")
    other = make.client(email="")
    other.emails = [ClientEmail(email="Shared@example.com", is_primary=True)]
    main = make.client(email="main@example.com")
    main.emails.append(ClientEmail(email="second@example.com", is_primary=False))
    db.session.commit()
    for address in ("shared@example.com", "second@example.com"):
        assert _forgot(app, address).status_code == 303
    outbox.deliver_all()
    assert not inbox.to("shared@example.com") and not inbox.to("second@example.com")
    assert len(inbox.to(app.config["BUSINESS_EMAIL"])) == 2


def test_first_time_requests_are_throttled_like_any(app, make):
    app.config.update(PASSWORD_EMAIL_LIMIT="2 per minute")
    make.client(email="often@example.com")
    codes = [app.test_client().post("/password/forgot", data={"email": "often@example.com"},
                                    environ_base={"REMOTE_ADDR": f"10.2.0.{n}"}).status_code for n in range(3)]
    assert codes == [303, 303, 429]
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 2


def _logins(make, password_hash, count, start=0):
    made = []
    for n in range(start, start + count):
        client = make.client(first_name=f"Cl{n:02d}", last_name="Household")
        login = ClientLogin(client=client, email=f"person{n:02d}@example.com", first_name=f"Pat{n:02d}",
                            last_name="Person", password_hash=password_hash if n % 2 else None)
        db.session.add(login)
        made.append(login)
    db.session.commit()
    return made


def test_the_client_logins_page_lists_searches_sorts_and_pages(app, as_manager, make, password_hash):
    made = _logins(make, password_hash, 30)
    page = as_manager.get("/clients/logins")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in body and "30 logins" in body and "Page 1 of 2" in body
    assert "person00@example.com" in body and "Cl00 Household" in body
    assert 'href="/clients/logins"' in as_manager.get("/clients/").get_data(as_text=True)  # from the desk's header
    found = as_manager.get("/clients/logins?q=PERSON07", headers=HX)
    text = found.get_data(as_text=True)
    assert found.status_code == 200 and "<html" not in text and 'id="login-rows"' in text
    assert "1 login matching" in text and "person07@example.com" in text and "person08@" not in text
    assert found.headers["HX-Push-Url"] == "/clients/logins?q=PERSON07"
    by_client = as_manager.get("/clients/logins?q=cl12").get_data(as_text=True)
    assert "person12@example.com" in by_client and "<html" in by_client
    newest = as_manager.get("/clients/logins?sort=email&dir=desc").get_data(as_text=True)
    assert newest.index("person29@") < newest.index("person28@")
    second = as_manager.get("/clients/logins?page=2").get_data(as_text=True)
    assert "Page 2 of 2" in second and "person29@example.com" in second
    made[1].last_login_at = made[1].created_at
    db.session.commit()
    rows = as_manager.get("/clients/logins?q=person01").get_data(as_text=True)
    assert ">Set<" in rows and "Never" not in rows
    invited = as_manager.get("/clients/logins?q=person02").get_data(as_text=True)
    assert ">Invited<" in invited and "Never" in invited  # no password, its set link still young
    assert as_manager.get("/clients/logins?q=nobody").get_data(as_text=True).count("No logins match") == 1


def test_the_client_logins_page_reads_a_page_in_constant_queries(app, as_manager, make, password_hash, count_queries):
    _logins(make, password_hash, 3)
    as_manager.get("/clients/logins")
    with count_queries() as few:
        as_manager.get("/clients/logins")
    _logins(make, password_hash, 22, start=3)
    with count_queries() as many:
        body = as_manager.get("/clients/logins").get_data(as_text=True)
    assert "25 logins" in body and many.count == few.count


def test_only_owners_and_managers_see_client_logins(app, make, portal, me):
    sitter = app.test_client()
    login_as(sitter, make.staff(Role.SITTER))
    for url in ("/clients/logins", f"/clients/logins/{me.id}/password"):
        assert sitter.get(url).status_code == 403
        assert portal.get(url).status_code == 403
    assert sitter.post(f"/clients/logins/{me.id}/password", data={}).status_code == 403
    owner = app.test_client()
    login_as(owner, make.staff(Role.OWNER))
    assert owner.get("/clients/logins").status_code == 200
    assert owner.get("/clients/logins/999999/password").status_code == 404


def test_staff_set_a_password_the_client_is_emailed_and_signed_out_elsewhere(app, as_manager, manager, me, portal,
                                                                             inbox, caplog):
    assert portal.get("/portal/").status_code == 200
    form = as_manager.get(f"/clients/logins/{me.id}/password", headers=HX)
    text = form.get_data(as_text=True)
    assert form.status_code == 200 and "<html" not in text and 'id="login-password"' in text
    assert 'for="password"' in text and 'for="confirm"' in text and 'name="csrf_token"' in text
    with caplog.at_level(logging.WARNING):
        response = as_manager.post(f"/clients/logins/{me.id}/password", headers=HX,
                                   data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "Password set for nia@example.com" in body
    assert response.headers["HX-Trigger"] == "loginsChanged"
    assert portal.get("/portal/").status_code == 302  # its other session ended
    assert app.test_client().post("/login", data={"email": "nia@example.com", "password": NEW_PASSWORD}).status_code == 303
    assert any(f"staff {manager.id} <{manager.email}> set the password of client login {me.id}" in r.getMessage()
               for r in caplog.records)
    outbox.deliver_all()
    [message] = inbox.to("nia@example.com")
    assert message["Subject"] == "Pawtal Pet Care set a password for you"
    assert NEW_PASSWORD not in inbox.text(message) and NEW_PASSWORD not in inbox.html(message)
    assert "set a new password for your account nia@example.com" in inbox.text(message)


def test_staff_set_password_without_javascript_redirects_with_a_flash(app, as_manager, me):
    page = as_manager.get(f"/clients/logins/{me.id}/password").get_data(as_text=True)
    assert "<html" in page and "Set the password of nia@example.com" in page
    response = as_manager.post(f"/clients/logins/{me.id}/password",
                               data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 303 and response.headers["Location"] == "/clients/logins"
    assert "Password set for nia@example.com" in as_manager.get("/clients/logins").get_data(as_text=True)


@pytest.mark.parametrize("data, field, message", [
    ({"password": NEW_PASSWORD, "confirm": "other-pass-99"}, "confirm", "The passwords differ."),
    ({"password": "short1", "confirm": "short1"}, "password", "Use at least"),
    ({"password": "onlyletterspassword", "confirm": "onlyletterspassword"}, "password", "Mix letters"),
    ({"password": "", "confirm": ""}, "password", "Choose a password."),
])
def test_bad_staff_set_passwords_are_told_beside_the_field_and_change_nothing(app, as_manager, me, data, field,
                                                                              message):
    before = (me.password_hash, me.session_token)
    for headers in (HX, {}):
        response = as_manager.post(f"/clients/logins/{me.id}/password", data=data, headers=headers)
        body = response.get_data(as_text=True)
        assert response.status_code == 422 and f'id="{field}-error"' in body and message in body
    db.session.expire_all()
    assert (me.password_hash, me.session_token) == before
    assert db.session.scalar(select(OutboxMessage)) is None


def test_a_disabled_login_is_not_given_a_password(app, as_manager, me):
    me.active = False
    db.session.commit()
    response = as_manager.post(f"/clients/logins/{me.id}/password",
                               data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 422 and "Enable this login" in response.get_data(as_text=True)
    assert db.session.scalar(select(OutboxMessage)) is None


class TestWithCsrf:
    @pytest.fixture
    def app_config(self, smtp):
        return {**smtp_config(smtp), "WTF_CSRF_ENABLED": True}

    def test_setting_a_password_needs_the_token(self, app, as_manager, me):
        before = me.password_hash
        for headers in (HX, {}):
            response = as_manager.post(f"/clients/logins/{me.id}/password", headers=headers,
                                       data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
            assert response.status_code == 400
        db.session.expire_all()
        assert me.password_hash == before


def test_the_profile_links_each_active_login_to_its_set_password_page(app, as_manager, me):
    body = as_manager.get(f"/clients/{me.client_id}").get_data(as_text=True)
    assert f'href="/clients/logins/{me.id}/password"' in body


def test_no_first_password_for_a_former_client_nor_from_a_link_sent_before_the_option_went_off(app, make, inbox):
    former = make.client(first_name="Flo", last_name="Former", email="flo@example.com", status=ClientStatus.INACTIVE)
    _forgot(app, "flo@example.com")
    outbox.deliver_all()
    assert inbox.to("flo@example.com") == []  # the office is told instead, as for an unknown address
    current = make.client(first_name="Cal", last_name="Current", email="cal@example.com")
    link = _first_link(app, inbox, "cal@example.com")
    get_settings().first_time_passwords = False
    db.session.commit()
    browser = app.test_client()
    browser.get(link)
    refused = browser.post("/password/first", data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert refused.status_code >= 400 and _login_count() == 0
    assert not former.logins and not current.logins
