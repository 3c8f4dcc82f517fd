"""Two-factor sign-in for staff: setting it up with a code from the app, the second step of signing in (which grants
nothing until the code is right), codes used once, recovery codes, throttling, the owner's rule and reset."""
from __future__ import annotations

import logging
import re
import time
from datetime import timedelta

import pyotp
import pytest

from extensions import db
from models import Role, StaffRecoveryCode, as_utc, utcnow
from services import passwords, two_factor
from tests.conftest import HX, PASSWORD, login_as

STEP = 30


def _secret(page: str) -> str:
    return re.search(r'<code id="totp-secret">([A-Z2-7 ]+)</code>', page).group(1).replace(" ", "")


def _turn_on(browser, when: float | None = None) -> tuple[str, list[str]]:
    """Set two-factor sign-in up as the signed-in staff member would: read the key off the page, type the app's code
    (by default the previous step's, so the current and next ones are left for signing in)."""
    page = browser.get("/staff/me/two-factor")
    assert page.status_code == 200
    secret = _secret(page.get_data(as_text=True))
    code = pyotp.TOTP(secret).at(time.time() - STEP if when is None else when)
    shown = browser.post("/staff/me/two-factor", data={"code": code})
    assert shown.status_code == 200, shown.get_data(as_text=True)
    codes = re.findall(r"<code>([a-z0-9]{5}-[a-z0-9]{5})</code>", shown.get_data(as_text=True))
    assert len(codes) == 10
    return secret, codes


def _password_step(app, user, **extra):
    browser = app.test_client()
    response = browser.post("/staff/login", data={"email": user.email, "password": PASSWORD}, **extra)
    return browser, response


def test_setting_up_takes_a_code_from_the_app(app, manager):
    browser = app.test_client()
    login_as(browser, manager)
    page = browser.get("/staff/me/two-factor").get_data(as_text=True)
    assert 'src="data:image/svg+xml' in page and 'alt="QR code' in page
    assert 'inputmode="numeric"' in page and 'autocomplete="one-time-code"' in page
    secret = _secret(page)
    assert len(secret) == 32
    wrong = browser.post("/staff/me/two-factor", data={"code": "000000" if pyotp.TOTP(secret).now() != "000000"
                                                        else "111111"})
    assert wrong.status_code == 422
    assert re.search(r'id="code-error">That code is not right', wrong.get_data(as_text=True))
    db.session.refresh(manager)
    assert manager.totp_secret is None and not manager.two_factor_on
    assert db.session.query(StaffRecoveryCode).count() == 0
    # The same secret is offered until it is confirmed (reloading the page does not change what was scanned).
    assert _secret(browser.get("/staff/me/two-factor").get_data(as_text=True)) == secret
    right = browser.post("/staff/me/two-factor", data={"code": pyotp.TOTP(secret).now()})
    assert right.status_code == 200 and "Your recovery codes" in right.get_data(as_text=True)
    db.session.refresh(manager)
    assert manager.two_factor_on and manager.totp_secret == secret
    assert db.session.query(StaffRecoveryCode).filter_by(staff_id=manager.id).count() == 10
    assert all(len(row.code_hash) == 64 for row in manager.recovery_codes)  # hashes only
    assert "Two-factor sign-in" in browser.get("/staff/me").get_data(as_text=True)  # still signed in here
    assert browser.get("/staff/me/two-factor").status_code == 303  # on already


def _session_of(app, browser, response=None) -> list[dict]:
    """What the session cookie holds, decoded with the app's own serializer (signed, so readable by whoever has it):
    the browser's stored cookie, and any the response set."""
    serializer = app.session_interface.get_signing_serializer(app)
    values = [browser.get_cookie(app.config["SESSION_COOKIE_NAME"]).value]
    if response is not None:
        values += [header.split(";")[0].split("=", 1)[1] for header in response.headers.getlist("Set-Cookie")
                   if header.startswith(app.config["SESSION_COOKIE_NAME"] + "=")]
    return [serializer.loads(value) for value in values if value]


def _holds(decoded: list[dict], secret: str) -> bool:
    text = repr(decoded).upper().replace(" ", "")
    return secret in text or two_factor.grouped(secret).replace(" ", "") in text


def test_the_key_being_set_up_is_kept_on_the_staff_row_never_in_the_session_cookie(app, manager):
    browser = app.test_client()
    login_as(browser, manager)
    shown = browser.get("/staff/me/two-factor")
    secret = _secret(shown.get_data(as_text=True))
    cookies = _session_of(app, browser, shown)
    assert cookies and all("_user_id" in c for c in cookies)  # the signed-in session, decoded
    assert not _holds(cookies, secret)
    db.session.expire_all()
    assert manager.totp_pending_secret == secret and manager.totp_secret is None
    left = as_utc(manager.totp_pending_until) - utcnow()
    assert timedelta(minutes=two_factor.SETUP_MINUTES - 1) < left <= timedelta(minutes=two_factor.SETUP_MINUTES)
    # A wrong code keeps the key (and still nothing in the cookie); the right one, computed here, turns it on.
    wrong = browser.post("/staff/me/two-factor", data={"code": "000000" if pyotp.TOTP(secret).now() != "000000"
                                                        else "111111"})
    assert wrong.status_code == 422 and _secret(wrong.get_data(as_text=True)) == secret
    assert not _holds(_session_of(app, browser, wrong), secret)
    right = browser.post("/staff/me/two-factor", data={"code": pyotp.TOTP(secret).now()})
    assert right.status_code == 200 and "Your recovery codes" in right.get_data(as_text=True)
    assert not _holds(_session_of(app, browser, right), secret)
    db.session.expire_all()
    assert manager.two_factor_on and manager.totp_secret == secret
    assert manager.totp_pending_secret is None and manager.totp_pending_until is None  # promoted, not copied
    # Signing in now takes the app's code for that key.
    fresh, response = _password_step(app, manager)
    assert response.headers["Location"] == "/staff/login/code"
    assert fresh.post("/staff/login/code", data={"code": pyotp.TOTP(secret).at(time.time() + STEP)}
                      ).status_code == 303


def test_an_expired_key_is_not_turned_on_and_a_new_one_is_shown(app, manager):
    browser = app.test_client()
    login_as(browser, manager)
    old = _secret(browser.get("/staff/me/two-factor").get_data(as_text=True))
    manager.totp_pending_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    late = browser.post("/staff/me/two-factor", data={"code": pyotp.TOTP(old).now()})
    assert late.status_code == 303 and late.headers["Location"] == "/staff/me/two-factor"
    db.session.expire_all()
    assert not manager.two_factor_on and manager.totp_pending_secret is None  # cleared, not turned on
    page = browser.get("/staff/me/two-factor").get_data(as_text=True)
    assert "That key expired before it was confirmed" in page
    new = _secret(page)
    db.session.expire_all()
    assert new != old and manager.totp_pending_secret == new


def test_not_now_forgets_the_key(app, manager):
    browser = app.test_client()
    login_as(browser, manager)
    page = browser.get("/staff/me/two-factor").get_data(as_text=True)
    old = _secret(page)
    assert 'action="/staff/me/two-factor/cancel"' in page
    answer = browser.post("/staff/me/two-factor/cancel")
    assert answer.status_code == 303 and answer.headers["Location"] == "/staff/me"
    db.session.expire_all()
    assert manager.totp_pending_secret is None and manager.totp_pending_until is None
    # The forgotten key's code turns nothing on; the page shows a new key.
    assert browser.post("/staff/me/two-factor", data={"code": pyotp.TOTP(old).now()}).status_code == 303
    db.session.expire_all()
    assert not manager.two_factor_on
    assert _secret(browser.get("/staff/me/two-factor").get_data(as_text=True)) != old


def test_sign_in_asks_for_the_code_and_the_half_way_state_grants_nothing(app, manager):
    login_as(setup := app.test_client(), manager)
    secret, _codes = _turn_on(setup)
    browser, response = _password_step(app, manager)
    assert response.status_code == 303 and response.headers["Location"] == "/staff/login/code"
    for url in ("/clients/", "/staff/me", "/staff/me/two-factor", "/today/"):
        answer = browser.get(url)
        assert answer.status_code == 302 and answer.headers["Location"].startswith("/staff/login"), url
    assert browser.get("/clients/", headers=HX).status_code == 401
    page = browser.get("/staff/login/code")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and 'autocomplete="one-time-code"' in body and 'inputmode="numeric"' in body
    wrong = browser.post("/staff/login/code", data={"code": "12345x"})
    assert wrong.status_code == 422 and 'id="code-error"' in wrong.get_data(as_text=True)
    assert browser.get("/clients/").status_code == 302
    right = browser.post("/staff/login/code", data={"code": pyotp.TOTP(secret).now()})
    assert right.status_code == 303 and right.headers["Location"] == "/clients/"
    assert browser.get("/clients/").status_code == 200
    assert browser.get("/staff/login/code").headers["Location"] == "/staff/login"  # nothing pending any more


def test_the_next_page_asked_for_comes_after_the_code(app, manager):
    login_as(setup := app.test_client(), manager)
    secret, _codes = _turn_on(setup)
    browser = app.test_client()
    assert browser.post("/staff/login?next=/staff/me", data={"email": manager.email, "password": PASSWORD}
                        ).headers["Location"] == "/staff/login/code"
    done = browser.post("/staff/login/code", data={"code": pyotp.TOTP(secret).now()})
    assert done.headers["Location"] == "/staff/me"


def test_a_code_works_once(app, manager):
    login_as(setup := app.test_client(), manager)
    secret, _codes = _turn_on(setup)
    code = pyotp.TOTP(secret).now()
    first, _ = _password_step(app, manager)
    assert first.post("/staff/login/code", data={"code": code}).status_code == 303
    second, _ = _password_step(app, manager)
    again = second.post("/staff/login/code", data={"code": code})
    assert again.status_code == 422 and "used already" in again.get_data(as_text=True)
    assert second.get("/clients/").status_code == 302
    # An older code than the last one used is refused too; the next step's works.
    earlier = second.post("/staff/login/code", data={"code": pyotp.TOTP(secret).at(time.time() - STEP)})
    assert earlier.status_code == 422
    assert second.post("/staff/login/code", data={"code": pyotp.TOTP(secret).at(time.time() + STEP)}
                       ).status_code == 303


def test_a_recovery_code_works_once(app, manager):
    login_as(setup := app.test_client(), manager)
    _secret_, codes = _turn_on(setup)
    first, _ = _password_step(app, manager)
    assert first.post("/staff/login/code", data={"code": codes[3].upper()}).status_code == 303
    assert first.get("/clients/").status_code == 200
    assert db.session.query(StaffRecoveryCode).filter_by(staff_id=manager.id).count() == 9
    second, _ = _password_step(app, manager)
    assert second.post("/staff/login/code", data={"code": codes[3]}).status_code == 422
    assert second.post("/staff/login/code", data={"code": codes[4].replace("-", " ")}).status_code == 303


def test_codes_are_throttled(app, manager):
    app.config["STAFF_LOGIN_LIMIT"] = "3 per minute"
    login_as(setup := app.test_client(), manager)
    secret, _codes = _turn_on(setup)
    browser, _ = _password_step(app, manager)
    statuses = [browser.post("/staff/login/code", data={"code": "000000"},
                             environ_base={"REMOTE_ADDR": f"10.0.1.{n}"}).status_code for n in range(3)]
    # Per account: another address does not get more tries at this account's code, not even the right one.
    last = browser.post("/staff/login/code", data={"code": pyotp.TOTP(secret).now()},
                        environ_base={"REMOTE_ADDR": "10.0.1.9"})
    assert statuses == [422, 422, 422] and last.status_code == 429
    assert browser.get("/clients/").status_code == 302


def test_the_half_way_state_expires_and_ends_with_the_password(app, manager):
    login_as(setup := app.test_client(), manager)
    secret, _codes = _turn_on(setup)
    browser, _ = _password_step(app, manager)
    with browser.session_transaction() as session:
        session["staff_two_factor"] = {**session["staff_two_factor"], "until": int(time.time()) - 1}
    late = browser.post("/staff/login/code", data={"code": pyotp.TOTP(secret).now()})
    assert late.status_code == 303 and late.headers["Location"] == "/staff/login"
    assert browser.get("/clients/").status_code == 302
    # Bound to the session token: a password changed meanwhile (say, by the real owner of the account) ends it.
    browser, _ = _password_step(app, manager)
    passwords.set_password(manager, "another-pass-42")
    db.session.commit()
    assert browser.post("/staff/login/code", data={"code": pyotp.TOTP(secret).now()}
                        ).headers["Location"] == "/staff/login"
    assert browser.get("/clients/").status_code == 302


def test_a_password_link_does_not_skip_the_code(app, manager):
    login_as(setup := app.test_client(), manager)
    secret, _codes = _turn_on(setup)
    browser = app.test_client()
    token = passwords.token_for(manager, "reset")
    assert browser.get(f"/staff/password/link/reset/{token}").status_code == 303
    done = browser.post("/staff/password/set", data={"password": "a-new-pass-42", "confirm": "a-new-pass-42"})
    assert done.status_code == 303 and done.headers["Location"] == "/staff/login/code"
    assert browser.get("/clients/").status_code == 302
    assert browser.post("/staff/login/code", data={"code": pyotp.TOTP(secret).now()}).status_code == 303
    assert browser.get("/clients/").status_code == 200


def test_turning_it_on_ends_other_sessions(app, manager):
    here, elsewhere = app.test_client(), app.test_client()
    login_as(here, manager)
    login_as(elsewhere, manager)
    _turn_on(here)
    assert here.get("/staff/me").status_code == 200
    assert elsewhere.get("/staff/me").status_code == 302


def test_turning_it_off_takes_a_code_and_ends_other_sessions(app, manager):
    here = app.test_client()
    login_as(here, manager)
    secret, _codes = _turn_on(here)
    elsewhere = app.test_client()
    login_as(elsewhere, manager)
    wrong = here.post("/staff/me/two-factor/off", data={"off-code": "000000"})
    assert wrong.status_code == 422 and re.search(r'id="off-code-error">', wrong.get_data(as_text=True))
    db.session.refresh(manager)
    assert manager.two_factor_on
    assert here.post("/staff/me/two-factor/off", data={"off-code": ""}).status_code == 422
    off = here.post("/staff/me/two-factor/off", data={"off-code": pyotp.TOTP(secret).now()})
    assert off.status_code == 303
    db.session.refresh(manager)
    assert not manager.two_factor_on and manager.totp_last_step is None
    assert db.session.query(StaffRecoveryCode).count() == 0
    assert here.get("/staff/me").status_code == 200 and elsewhere.get("/staff/me").status_code == 302
    assert _password_step(app, manager)[1].headers["Location"] == "/clients/"  # the password alone again


def test_new_recovery_codes_replace_the_old(app, manager):
    here = app.test_client()
    login_as(here, manager)
    secret, old = _turn_on(here)
    assert "10 recovery codes left" in here.get("/staff/me").get_data(as_text=True)
    refused = here.post("/staff/me/two-factor/recovery-codes", data={"renew-code": old[0]})
    assert refused.status_code == 422  # a current code from the app, not a recovery code
    shown = here.post("/staff/me/two-factor/recovery-codes", data={"renew-code": pyotp.TOTP(secret).now()})
    new = re.findall(r"<code>([a-z0-9]{5}-[a-z0-9]{5})</code>", shown.get_data(as_text=True))
    assert shown.status_code == 200 and len(new) == 10 and not set(new) & set(old)
    browser, _ = _password_step(app, manager)
    assert browser.post("/staff/login/code", data={"code": old[1]}).status_code == 422
    assert browser.post("/staff/login/code", data={"code": new[1]}).status_code == 303


def test_the_owner_requires_it_of_managers(app, owner, manager, sitter):
    as_owner = app.test_client()
    login_as(as_owner, owner)
    assert 'name="managers_need_two_factor"' in as_owner.get("/staff/").get_data(as_text=True)
    assert as_owner.post("/staff/two-factor", data={"managers_need_two_factor": "y"}).status_code == 303
    assert as_owner.get("/clients/").status_code == 200  # owners choose for themselves
    as_sitter = app.test_client()
    login_as(as_sitter, sitter)
    assert as_sitter.get("/today/").status_code == 200  # sitters too
    browser, signed = _password_step(app, manager)
    assert signed.headers["Location"] == "/clients/"
    for url in ("/clients/", "/staff/me", "/settings/", "/messages/"):
        answer = browser.get(url)
        assert answer.status_code == 303 and answer.headers["Location"] == "/staff/me/two-factor", url
    assert browser.post("/clients/", data={}).headers["Location"] == "/staff/me/two-factor"
    swapped = browser.get("/clients/", headers=HX)
    assert swapped.status_code == 401 and swapped.headers["HX-Redirect"] == "/staff/me/two-factor"
    page = browser.get("/staff/me/two-factor")
    assert page.status_code == 200 and "The owner asks managers" in page.get_data(as_text=True)
    _turn_on(browser)
    assert browser.get("/clients/").status_code == 200
    assert as_owner.post("/staff/two-factor", data={}).status_code == 303
    db.session.expire_all()
    from services.settings import get_settings
    assert get_settings().managers_need_two_factor is False


def test_the_owner_resets_a_lost_phone(app, owner, manager, caplog):
    here = app.test_client()
    login_as(here, manager)
    _turn_on(here)
    as_owner = app.test_client()
    login_as(as_owner, owner)
    page = as_owner.get("/staff/").get_data(as_text=True)
    assert f'action="/staff/{manager.id}/two-factor/reset"' in page
    with caplog.at_level(logging.WARNING):
        assert as_owner.post(f"/staff/{manager.id}/two-factor/reset").status_code == 303
    assert any(f"two-factor sign-in of staff {manager.id}" in r.getMessage() and f"staff {owner.id}" in r.getMessage()
               for r in caplog.records)
    db.session.refresh(manager)
    assert not manager.two_factor_on and db.session.query(StaffRecoveryCode).count() == 0
    assert here.get("/clients/").status_code == 302  # signed out
    assert _password_step(app, manager)[1].headers["Location"] == "/clients/"
    # Only another member's, and only when it is on.
    assert as_owner.post(f"/staff/{manager.id}/two-factor/reset").status_code == 303
    assert as_owner.post(f"/staff/{owner.id}/two-factor/reset").status_code == 303
    login_as(as_manager := app.test_client(), manager)
    assert as_manager.post(f"/staff/{manager.id}/two-factor/reset").status_code == 403


def test_the_admin_reset_turns_it_off(app, runner, owner):
    login_as(here := app.test_client(), owner)
    _turn_on(here)
    result = runner.invoke(args=["staff", "reset", owner.email, "--link"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert not owner.two_factor_on


def test_sitters_may_turn_it_on(app, sitter):
    login_as(here := app.test_client(), sitter)
    secret, _codes = _turn_on(here)
    browser, response = _password_step(app, sitter)
    assert response.headers["Location"] == "/staff/login/code"
    assert browser.post("/staff/login/code", data={"code": pyotp.TOTP(secret).now()}
                        ).headers["Location"] == "/today/"


@pytest.mark.parametrize("required", [False, True])
def test_a_client_login_is_unaffected(app, owner, manager, me, required):
    login_as(setup := app.test_client(), manager)
    _turn_on(setup)
    if required:
        login_as(as_owner := app.test_client(), owner)
        as_owner.post("/staff/two-factor", data={"managers_need_two_factor": "y"})
    browser = app.test_client()
    signed = browser.post("/login", data={"email": me.email, "password": PASSWORD})
    assert signed.status_code == 303 and "/staff" not in signed.headers["Location"]
    assert browser.get("/portal/").status_code == 200
    assert browser.get("/staff/login/code").headers["Location"] == "/staff/login"
