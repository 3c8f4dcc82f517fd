"""Staff sign-in, sign-out, throttling, CSRF and the team page."""
import re

import pytest
from sqlalchemy import select

from extensions import db
from models import Role, StaffUser
from tests.conftest import HX, PASSWORD, login_as


def test_sign_in_and_out(client, manager):
    response = client.post("/staff/login", data={"email": manager.email.upper(), "password": PASSWORD})
    assert response.status_code == 303 and response.headers["Location"].endswith("/clients/")
    assert client.get("/clients/").status_code == 200
    assert client.get("/staff/logout").status_code == 405  # no state change on GET
    response = client.post("/staff/logout")
    assert response.status_code == 303
    assert client.get("/clients/").status_code == 302


def test_wrong_password_gets_a_generic_message(client, manager):
    response = client.post("/staff/login", data={"email": manager.email, "password": "nope-nope-nope"})
    assert response.status_code == 401
    assert "do not match an active staff account" in response.get_data(as_text=True)
    unknown = client.post("/staff/login", data={"email": "ghost@example.com", "password": "nope-nope-nope"})
    assert unknown.status_code == 401
    assert unknown.get_data(as_text=True).count("do not match") == 1


def test_disabled_staff_cannot_sign_in(client, make):
    user = make.staff(Role.SITTER, active=False)
    response = client.post("/staff/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 401


def test_next_only_redirects_inside_the_site(client, manager):
    response = client.post("/staff/login?next=https://evil.example/", data={"email": manager.email, "password": PASSWORD})
    assert response.headers["Location"].endswith("/clients/")
    client.post("/staff/logout")
    response = client.post("/staff/login?next=/pets/", data={"email": manager.email, "password": PASSWORD})
    assert response.headers["Location"].endswith("/pets/")


def test_sign_in_is_throttled_per_account(app, client, manager):
    app.config["STAFF_LOGIN_LIMIT"] = "3 per minute"
    for _ in range(3):
        assert client.post("/staff/login", data={"email": manager.email, "password": "bad-bad-bad"}).status_code == 401
    blocked = client.post("/staff/login", data={"email": manager.email, "password": PASSWORD})
    assert blocked.status_code == 429


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_post_without_csrf_token_is_refused_htmx_included(client, manager, app_config):
    login_as(client, manager)
    assert client.post("/clients/", data={"first_name": "A", "last_name": "B"}).status_code == 400
    assert client.post("/clients/", data={"first_name": "A", "last_name": "B"}, headers=HX).status_code == 400
    page = client.get("/clients/new").get_data(as_text=True)
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    ok = client.post("/clients/", data={"first_name": "A", "last_name": "B", "status": "prospect"},
                     headers={**HX, "X-CSRFToken": token})
    assert ok.status_code == 200


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_login_form_needs_its_csrf_token(client, manager, app_config):
    assert client.post("/staff/login", data={"email": manager.email, "password": PASSWORD}).status_code == 400


def test_owner_adds_a_sitter_who_has_no_password_until_they_choose_one(as_owner):
    response = as_owner.post("/staff/", data={"first_name": "Nia", "last_name": "Walker", "email": "nia@example.com",
                                              "role": "sitter"})
    assert response.status_code == 303
    nia = db.session.scalar(select(StaffUser).where(StaffUser.email == "nia@example.com"))
    assert nia.role == Role.SITTER and nia.password_hash is None
    assert "invited, no password yet" in as_owner.get("/staff/").get_data(as_text=True)
    duplicate = as_owner.post("/staff/", data={"first_name": "Nia", "email": "NIA@example.com", "role": "sitter"})
    assert duplicate.status_code == 422 and "already exists" in duplicate.get_data(as_text=True)
    nameless = as_owner.post("/staff/", data={"first_name": "", "email": "w@example.com", "role": "sitter"})
    assert nameless.status_code == 422


def test_owner_cannot_demote_the_last_owner(as_owner, owner, make):
    other = make.staff(Role.MANAGER)
    response = as_owner.post(f"/staff/{other.id}", data={f"m{other.id}-role": "sitter", f"m{other.id}-active": "y"})
    assert response.status_code == 303
    db.session.refresh(other)
    assert other.role == Role.SITTER
    as_owner.post(f"/staff/{owner.id}", data={f"m{owner.id}-role": "manager", f"m{owner.id}-active": "y"})
    db.session.refresh(owner)
    assert owner.role == Role.OWNER


def test_the_team_page_names_each_members_controls_and_offers_the_owner_none_of_their_own(as_owner, owner, make):
    other = make.staff(Role.SITTER, first_name="Sam", last_name="Ortiz")
    page = as_owner.get("/staff/").get_data(as_text=True)
    assert f'action="/staff/{other.id}"' in page and f'action="/staff/{owner.id}"' not in page
    assert f'name="m{owner.id}-role"' not in page and f'name="m{owner.id}-active"' not in page
    assert "You cannot change your own role or access" in page
    assert '<span class="visually-hidden"> (Sam Ortiz)</span>' in page  # the checkbox: "Can sign in (Sam Ortiz)"
    assert re.search(r'Save<span class="visually-hidden"> role and access of Sam Ortiz</span></button>', page)


def test_disabling_a_member_ends_their_sessions(app, make, owner):
    sitter = make.staff(Role.SITTER)
    sitter_client = app.test_client()
    login_as(sitter_client, sitter)
    assert sitter_client.get("/clients/").status_code == 200
    owner_client = app.test_client()
    login_as(owner_client, owner)
    owner_client.post(f"/staff/{sitter.id}", data={f"m{sitter.id}-role": "sitter"})
    assert sitter_client.get("/clients/").status_code == 302


def test_managers_cannot_use_the_team_page(as_manager):
    assert as_manager.get("/staff/").status_code == 403
    assert as_manager.post("/staff/", data={}).status_code == 403
