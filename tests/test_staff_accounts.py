"""Staff accounts are added as clients are: an emailed link to choose the password; forgot, change, reset."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from extensions import db
from models import Role, StaffUser
from services import outbox
from tests.conftest import PASSWORD, login_as, smtp_config


@pytest.fixture
def app_config(smtp):
    return smtp_config(smtp)


def _link(inbox, address: str) -> str:
    [message] = inbox.to(address)
    return re.search(r"http://localhost(/staff/password/link/\S+)", inbox.text(message)).group(1)


def test_an_invited_sitter_chooses_a_password_from_the_email_and_signs_in(app, as_owner, inbox):
    assert as_owner.post("/staff/", data={"first_name": "Sam", "last_name": "Ortiz", "email": "sam@example.com",
                                          "role": "sitter"}).status_code == 303
    assert outbox.deliver_all() == (1, 0)
    [message] = inbox.to("sam@example.com")
    assert "invited to the" in message["Subject"] and "added you to the team as Sitter" in inbox.text(message)
    browser = app.test_client()
    opened = browser.get(_link(inbox, "sam@example.com"))
    assert opened.status_code == 303 and opened.headers["Location"] == "/staff/password/set"
    weak = browser.post("/staff/password/set", data={"password": "short", "confirm": "short"})
    assert weak.status_code == 422
    done = browser.post("/staff/password/set", data={"password": PASSWORD, "confirm": PASSWORD})
    assert done.status_code == 303 and done.headers["Location"] == "/clients/"
    assert browser.get("/schedule/").status_code == 200  # signed in as the sitter
    again = app.test_client().get(_link(inbox, "sam@example.com"))
    assert again.status_code == 404  # a link works once
    assert app.test_client().post("/staff/login", data={"email": "sam@example.com",
                                                        "password": PASSWORD}).status_code == 303


def test_a_client_link_is_no_staff_link(app, as_owner, inbox):
    """One salt per kind of account: a staff token opened on the client page (or the reverse) is not valid."""
    as_owner.post("/staff/", data={"first_name": "Sam", "email": "sam@example.com", "role": "sitter"})
    outbox.deliver_all()
    path = _link(inbox, "sam@example.com").replace("/staff/password/link/", "/password/link/")
    assert app.test_client().get(path).status_code == 404


def test_forgot_password_refuses_what_is_no_email_address_beside_the_field(app, make):
    from models import OutboxMessage

    for url in ("/staff/password/forgot", "/password/forgot"):
        for typed in ("abc", "abc@", "@example.com", "a b@example.com"):
            response = app.test_client().post(url, data={"email": typed})
            body = response.get_data(as_text=True)
            assert response.status_code == 422, (url, typed)
            assert re.search(r'id="email-error">[^<]*That is not an email address', body), (url, typed)
        assert app.test_client().post(url, data={"email": " nobody@example.com "}).status_code == 303
    assert db.session.scalar(select(db.func.count(OutboxMessage.id))) == 1  # the team hears of the client's unknown


def test_staff_forgot_password_answers_the_same_for_anyone(app, make, inbox):
    member = make.staff(Role.MANAGER, email="marta@example.com")
    page = app.test_client().get("/staff/login").get_data(as_text=True)
    assert 'href="/staff/password/forgot"' in page
    answers = [app.test_client().post("/staff/password/forgot", data={"email": address})
               for address in ("marta@example.com", "nobody@example.com")]
    assert [a.status_code for a in answers] == [303, 303]
    assert answers[0].headers["Location"] == answers[1].headers["Location"]
    outbox.deliver_all()
    assert len(inbox.to("marta@example.com")) == 1 and not inbox.to("nobody@example.com")
    browser = app.test_client()
    browser.get(_link(inbox, "marta@example.com"))
    assert browser.post("/staff/password/set", data={"password": "a-new-pass-42", "confirm": "a-new-pass-42"}
                        ).status_code == 303
    db.session.refresh(member)
    assert app.test_client().post("/staff/login", data={"email": "marta@example.com",
                                                        "password": "a-new-pass-42"}).status_code == 303


def test_staff_change_their_name_email_and_password_on_their_own_page(app, make, inbox):
    member = make.staff(Role.SITTER, email="riley@example.com", first_name="Riley")
    browser = app.test_client()
    login_as(browser, member)
    other_device = app.test_client()
    login_as(other_device, member)
    assert "Your account" in browser.get("/staff/me").get_data(as_text=True)
    taken = make.staff(Role.MANAGER, email="taken@example.com")
    refused = browser.post("/staff/me", data={"first_name": "Riley", "last_name": "Chen", "email": taken.email})
    assert refused.status_code == 422 and "Another staff member" in refused.get_data(as_text=True)
    renamed = browser.post("/staff/me", data={"first_name": "Riley", "last_name": "Chen", "email": "riley@example.com"})
    assert renamed.status_code == 303  # a name needs no password
    # A new sign-in email does: an unattended signed-in device must not be enough to take the account.
    for password, message in (("", "Enter your current password to change the email"),
                              ("not-it-at-all", "That is not your current password")):
        refused = browser.post("/staff/me", data={"first_name": "Riley", "last_name": "Chen",
                                                  "email": "thief@example.com", "password": password})
        assert refused.status_code == 422 and message in refused.get_data(as_text=True)
    db.session.refresh(member)
    assert member.email == "riley@example.com"
    saved = browser.post("/staff/me", data={"first_name": "Riley", "last_name": "Chen", "email": "RILEY.C@example.com",
                                            "password": PASSWORD})
    assert saved.status_code == 303
    db.session.refresh(member)
    assert (member.name, member.email) == ("Riley Chen", "riley.c@example.com")
    outbox.deliver_due()
    [notice] = inbox.to("riley@example.com")  # the old address is told
    assert "changed from riley@example.com to riley.c@example.com" in inbox.text(notice)
    wrong = browser.post("/staff/me/password", data={"current": "not-it-at-all", "password": "fresh-pass-77",
                                                      "confirm": "fresh-pass-77"})
    assert wrong.status_code == 422 and "not your current password" in wrong.get_data(as_text=True)
    changed = browser.post("/staff/me/password", data={"current": PASSWORD, "password": "fresh-pass-77",
                                                        "confirm": "fresh-pass-77"})
    assert changed.status_code == 303
    assert browser.get("/staff/me").status_code == 200  # this session goes on
    assert other_device.get("/staff/me").status_code == 302  # the other one ended


def test_changing_the_password_keeps_this_device_remembered(app, make):
    member = make.staff(Role.MANAGER, email="kim@example.com")
    browser = app.test_client()
    browser.get("/staff/login")
    signed_in = browser.post("/staff/login", data={"email": "kim@example.com", "password": PASSWORD, "remember": "y"})
    assert signed_in.status_code in (302, 303)
    changed = browser.post("/staff/me/password", data={"current": PASSWORD, "password": "fresh-pass-77",
                                                        "confirm": "fresh-pass-77"})
    assert changed.status_code == 303
    browser.delete_cookie("session")  # the browser restarts: only the remember-me cookie is left
    assert browser.get("/staff/me").status_code == 200


def test_the_servers_admin_resets_a_locked_out_owner(app, runner, make, inbox):
    owner = make.staff(Role.OWNER, email="boss@example.com")
    owner.active = False
    db.session.commit()
    result = runner.invoke(args=["staff", "reset", "boss@example.com", "--password", "back-in-2026"])
    assert result.exit_code == 0, result.output
    assert app.test_client().post("/staff/login", data={"email": "boss@example.com",
                                                        "password": "back-in-2026"}).status_code == 303
    linked = runner.invoke(args=["staff", "reset", "boss@example.com", "--link"])
    assert linked.exit_code == 0 and "/staff/password/link/reset/" in linked.output
    unknown = runner.invoke(args=["staff", "reset", "nobody@example.com", "--link"])
    assert unknown.exit_code != 0 and "No staff member" in unknown.output
    assert db.session.scalar(select(StaffUser.active).where(StaffUser.email == "boss@example.com"))
