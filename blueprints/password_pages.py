"""The password pages both kinds of account share: open an emailed link, then set the password.

auth (client logins) and staff use these with their own account model, URLs and home page. The link's
token moves into the session at once, so it does not linger in the address bar or the history.
"""
from __future__ import annotations

from flask import redirect, render_template, request, session, url_for
from flask_login import login_user, logout_user

from forms.auth import ForgotForm, SetPasswordForm
from rendering import submit
from services import passwords

HELD = "password_link"


def forgot_page(request_reset, endpoint: str, staff: bool = False):
    """"Forgot your password?": the same redirect whether or not the address has an account, so nothing
    tells who has one; `request_reset(email)` emails a link when it does."""
    form = ForgotForm()
    if form.validate_on_submit():
        request_reset(form.email.data)
        return redirect(url_for(endpoint, sent=1), 303)
    sent = request.method == "GET" and request.args.get("sent") == "1"
    if not sent and request.method == "GET" and request.args.get("email"):
        form.email.data = request.args["email"][:254]
    return render_template("auth/forgot.html", form=form, sent=sent, staff=staff), 422 if form.errors else 200


def open_link(model: type, purpose: str, token: str, set_endpoint: str, forgot_endpoint: str):
    """Check an emailed link (410 expired, 404 not valid), keep it in the session, go to the set page."""
    try:
        passwords.account_from_token(model, token, purpose)
    except passwords.LinkExpired as expired:
        return link_problem(forgot_endpoint, expired.email), 410
    except passwords.LinkInvalid:
        return link_problem(forgot_endpoint, None), 404
    session[HELD] = {"kind": model.__tablename__, "purpose": purpose, "token": token}
    return redirect(url_for(set_endpoint), 303)


def set_page(model: type, set_endpoint: str, forgot_endpoint: str, home: str, second_step=None):
    """Choose the password for the link held in the session; success signs the account in at `home`.

    `second_step(account)`, when given, may answer instead of signing in (a staff member with two-factor sign-in
    on is asked for a code first: an emailed link alone must not let anyone in)."""
    held = session.get(HELD) or {}
    account = None
    if held.get("kind") == model.__tablename__:
        try:
            account = passwords.account_from_token(model, held.get("token", ""), held.get("purpose", "reset"))
        except passwords.LinkExpired as expired:
            session.pop(HELD, None)
            return link_problem(forgot_endpoint, expired.email), 410
        except passwords.LinkInvalid:
            account = None
    if account is None:
        session.pop(HELD, None)
        return link_problem(forgot_endpoint, None), 404
    form = SetPasswordForm()

    def signed_in(_none):
        session.pop(HELD, None)
        logout_user()
        asked = second_step(account) if second_step else None
        if asked is not None:
            return asked
        login_user(account)
        return redirect(home, 303)

    return submit(form, lambda: passwords.set_password(account, form.password.data), signed_in,
                  lambda status: (render_template("auth/set_password.html", form=form, login=account,
                                                  purpose=held["purpose"], action=url_for(set_endpoint)), status))


def link_problem(forgot_endpoint: str, email: str | None, used: str = ""):
    """The page for a link that expired (`email` given, to ask for a new one), was used (`used`: the address
    that has an account now) or is not valid."""
    return render_template("auth/link_problem.html", expired=email is not None, email=email or "", used=used,
                           forgot_url=url_for(forgot_endpoint, email=email or used or None))
