"""Owners and managers viewing a client's portal, read-only: what they see, that nothing can change, the log of
each page seen, leaving; and the policies a client agreed to, on the profile."""
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from extensions import db
from models import ClientProfile, OnlinePayment, Policy, PolicyAgreement, PortalView, Role
from services.settings import get_settings
from tests.conftest import HX, login_as
from tests.test_access import INT_ARGUMENT, NOT_CLIENT_OWNED, households  # noqa: F401 - households: the fixture

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def snapshot() -> dict:
    """Every row of every table but the log of portal views, to show a walk changed nothing."""
    rows = {table.name: sorted(map(repr, db.session.execute(table.select()).all()))
            for table in db.metadata.sorted_tables if table.name != "portal_view"}
    db.session.rollback()
    return rows


def portal_rules(app, methods: set[str]) -> list:
    return sorted((rule for rule in app.url_map.iter_rules()
                   if rule.rule.startswith("/portal") and rule.methods & methods), key=lambda rule: rule.rule)


def build(rule, ids: dict) -> str:
    return rule.build({k: ids.get(k, 1) for k in rule.arguments}, append_unknown=False)[1]


def viewing(app, account, client_id: int):
    """A browser of `account` that pressed "View portal as client" on the profile of `client_id`."""
    browser = app.test_client()
    login_as(browser, account)
    response = browser.post(f"/clients/{client_id}/portal")
    assert response.status_code == 303 and response.headers["Location"] == "/portal/"
    return browser


def logged() -> list[PortalView]:
    return list(db.session.scalars(select(PortalView).order_by(PortalView.id)))


@pytest.fixture
def household(households):
    mine, _theirs = households
    return mine


@pytest.mark.parametrize("role", [Role.MANAGER, Role.OWNER])
def test_staff_see_every_portal_page_of_the_client_with_the_banner_and_each_is_logged(app, make, household, role):
    staff = make.staff(role, first_name="Vera")
    get_settings().faq_markdown = "## Do you walk in the rain?\n\nYes."  # so the FAQ page exists
    db.session.commit()
    client = db.session.get(ClientProfile, household.ids["client_id"])
    browser = viewing(app, staff, client.id)
    before = snapshot()
    seen = []
    for rule in portal_rules(app, {"GET"}):
        url = build(rule, household.ids)
        response = browser.get(url)
        assert response.status_code < 400, f"GET {url}: {response.status_code}"
        if response.status_code == 200:
            seen.append(url)
        if response.mimetype == "text/html" and "<html" in response.get_data(as_text=True):
            body = response.get_data(as_text=True)
            assert "You are viewing <strong>ClientA" in body and "portal as Vera" in body, url
            assert "read-only" in body and "Leave the client's portal" in body, url
            assert 'action="/clients/portal/leave"' in body, url
            assert "/staff/logout" not in body and "/logout" not in body, url  # neither the staff's nor the client's
    for path in ("/portal/", "/portal/pets", "/portal/calendar", "/portal/account", f"/portal/invoices/"
                 f"{household.ids['invoice_id']}.pdf", f"/portal/documents/{household.ids['document_id']}"):
        assert path in seen
    assert snapshot() == before  # nothing changed: no welcome recorded, no payment asked of Stripe
    views = logged()
    assert [v.path.rstrip("?") for v in views] == seen
    assert {(v.staff_id, v.staff_name, v.client_id, v.client_name) for v in views} == {
        (staff.id, "Vera Member", client.id, client.name)}
    assert all(v.at is not None for v in views)


def test_the_home_page_shows_the_clients_portal_not_the_staff_desk(app, manager, household):
    browser = viewing(app, manager, household.ids["client_id"])
    body = browser.get("/portal/").get_data(as_text=True)
    assert "Welcome, ClientA" in body and "/portal/calendar" in body and "My Pets" in body
    assert "/clients/" not in body.split("<main")[0].replace("/clients/portal/leave", "")  # no staff menu
    assert "Signed in as" not in body


def test_a_fragment_while_viewing_is_a_fragment_and_logged(app, manager, household):
    browser = viewing(app, manager, household.ids["client_id"])
    fragment = browser.get("/portal/pets", headers=HX)
    assert fragment.status_code == 200 and "<html" not in fragment.get_data(as_text=True)
    assert [v.path for v in logged()] == ["/portal/pets"]


@pytest.mark.parametrize("htmx", [False, True])
def test_every_change_under_the_portal_is_refused_while_viewing(app, manager, household, htmx):
    browser = viewing(app, manager, household.ids["client_id"])
    rules = portal_rules(app, UNSAFE)
    assert len(rules) > 15
    before = snapshot()
    for rule in rules:
        url = build(rule, household.ids)
        for method in sorted(rule.methods & UNSAFE):
            response = browser.open(url, method=method, data={"name": "Changed", "widget": "1"},
                                    headers=HX if htmx else {})
            body = response.get_data(as_text=True)
            assert response.status_code == 403, f"{method} {url}: {response.status_code}"
            assert "read-only" in body and "nothing can be changed" in body, url
            if htmx:
                assert response.headers["HX-Retarget"] == "#flashes" and "<html" not in body
            else:
                assert "Leave the client's portal" in body  # the way out, on the refusal too
    # The client's routes outside /portal (signing out) are refused as well, and the walk changed nothing.
    assert browser.post("/logout").status_code == 403
    assert snapshot() == before
    assert logged() == []  # a refusal is no page seen


def test_another_clients_things_answer_404_while_viewing(app, manager, households):
    mine, theirs = households
    browser = viewing(app, manager, mine.ids["client_id"])
    leaks = []
    for rule in portal_rules(app, {"GET"}):
        if not INT_ARGUMENT.search(rule.rule) or rule.endpoint in NOT_CLIENT_OWNED:
            continue
        url = build(rule, theirs.ids)
        status = browser.get(url).status_code
        if status != 404:
            leaks.append(f"GET {url}: {status}")
    assert leaks == []


def test_a_payment_waiting_for_the_bank_is_shown_without_asking_stripe(app, manager, household):
    online = db.session.get(OnlinePayment, household.ids["online_id"])
    online.status, online.stripe_intent_id = "requires_action", "pi_not_at_stripe"
    db.session.commit()
    browser = viewing(app, manager, household.ids["client_id"])
    response = browser.get(f"/portal/payments/{online.id}")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "waits for the client to confirm it with their bank" in body and "data-client-secret" not in body
    db.session.expire_all()
    assert db.session.get(OnlinePayment, online.id).status == "requires_action"


def test_leave_ends_viewing_and_returns_to_the_profile(app, manager, household):
    client_id = household.ids["client_id"]
    browser = viewing(app, manager, client_id)
    assert browser.get("/portal/").status_code == 200
    left = browser.post("/clients/portal/leave")
    assert left.status_code == 303 and left.headers["Location"] == f"/clients/{client_id}"
    assert "You left ClientA" in browser.get(left.headers["Location"]).get_data(as_text=True)
    assert browser.get("/portal/").status_code == 403  # staff again, not the client
    assert browser.post("/clients/portal/leave").headers["Location"] == "/clients/"


def test_sitters_and_clients_cannot_view_a_portal(app, sitter, household):
    client_id = household.ids["client_id"]
    as_sitter = app.test_client()
    login_as(as_sitter, sitter)
    assert as_sitter.post(f"/clients/{client_id}/portal").status_code == 403
    as_client = app.test_client()
    login_as(as_client, household.login)
    assert as_client.post(f"/clients/{client_id}/portal").status_code == 403
    assert app.test_client().post(f"/clients/{client_id}/portal").status_code == 302  # to sign in
    # Even with the session's mark (as if it had been set), a sitter is no viewer and a client sees only their own.
    for browser, account in ((as_sitter, sitter), (as_client, household.login)):
        with browser.session_transaction() as session:
            session["viewing_client"] = {"staff": account.id, "client": client_id}
    assert as_sitter.get("/portal/").status_code == 403
    assert as_client.get("/portal/").status_code == 200
    assert logged() == []


def test_an_unknown_client_cannot_be_viewed(app, manager, household):
    browser = app.test_client()
    login_as(browser, manager)
    assert browser.post("/clients/999999/portal").status_code == 404
    assert browser.get("/portal/").status_code == 403


def test_a_deleted_client_ends_the_view(app, make, manager):
    client = make.client()
    browser = viewing(app, manager, client.id)
    db.session.delete(client)
    db.session.commit()
    assert browser.get("/portal/").status_code == 404
    assert browser.get("/portal/").status_code == 403  # viewing ended with it


def test_the_clients_own_session_and_other_staff_are_unaffected(app, make, manager, household):
    client_id = household.ids["client_id"]
    browser = viewing(app, manager, client_id)
    own = app.test_client()
    login_as(own, household.login)
    changed = own.post("/portal/calendar/feed")
    assert changed.status_code == 303  # the client changes their own portal as ever
    own.get("/portal/")  # "You're all set", once: the manager's look did not use it up
    home = own.get("/portal/").get_data(as_text=True)
    assert "You are viewing" not in home and "Signed in as" in home
    other = app.test_client()
    login_as(other, make.staff(Role.MANAGER))
    assert other.get("/portal/").status_code == 403
    assert "You are viewing" not in other.get(f"/clients/{client_id}").get_data(as_text=True)
    assert browser.get("/portal/").status_code == 200
    assert [v.staff_id for v in logged()] == [manager.id]  # only the viewing manager's page is logged


def test_the_profile_offers_the_view_to_owners_and_managers_and_lists_the_last_views(app, manager, sitter, household):
    client_id = household.ids["client_id"]
    browser = viewing(app, manager, client_id)
    browser.get("/portal/pets")
    body = browser.get(f"/clients/{client_id}").get_data(as_text=True)
    assert f'action="/clients/{client_id}/portal"' in body and "View portal as client" in body
    assert "Viewed by staff" in body and "Marta Member" in body and "/portal/pets" in body
    with db.session.no_autoflush:
        client = db.session.get(ClientProfile, client_id)
        client.primary_sitter_id = sitter.id
    db.session.commit()
    as_sitter = app.test_client()
    login_as(as_sitter, sitter)
    seen_by_sitter = as_sitter.get(f"/clients/{client_id}").get_data(as_text=True)
    assert "View portal as client" not in seen_by_sitter and "Viewed by staff" not in seen_by_sitter
    assert "Policies agreed" in seen_by_sitter


def test_the_profile_lists_the_policies_agreed_with_version_time_and_address(app, as_manager, me, sitter):
    terms = Policy(title="Terms of service", body="Be kind.", version=3)
    privacy = Policy(title="Privacy", body="We keep little.", version=1)
    db.session.add_all([terms, privacy])
    db.session.flush()
    db.session.add_all([
        PolicyAgreement(policy_id=terms.id, policy_version=2, login_id=me.id, ip_address="203.0.113.7",
                        agreed_at=datetime(2026, 7, 1, 16, 5, tzinfo=timezone.utc)),
        PolicyAgreement(policy_id=privacy.id, policy_version=1, login_id=me.id, ip_address="2001:db8::1",
                        agreed_at=datetime(2026, 1, 15, 14, 0, tzinfo=timezone.utc)),
    ])
    db.session.commit()
    body = as_manager.get(f"/clients/{me.client_id}").get_data(as_text=True)
    section = body.split('id="policies-h"')[1].split("</ul>")[0]
    assert section.index("Terms of service") < section.index("Privacy")  # newest first
    assert "version 2" in section and "version 1" in section  # the version agreed to, not the current one
    # In the business's time zone (New York): 12:05 PM in July (EDT), 9:00 AM in January (EST).
    assert "1 Jul 2026, 12:05" in section and "15 Jan 2026, 9:00" in section
    assert "from 203.0.113.7, by Nia" in section and "from 2001:db8::1, by Nia" in section
    # A sitter sees what was agreed and when, not the address it was agreed from.
    me.client.primary_sitter_id = sitter.id
    db.session.commit()
    as_sitter = app.test_client()
    login_as(as_sitter, sitter)
    seen = as_sitter.get(f"/clients/{me.client_id}").get_data(as_text=True).split('id="policies-h"')[1]
    assert "Terms of service" in seen and "version 2" in seen and "203.0.113.7" not in seen


def test_the_policies_section_takes_one_query_however_many_agreements(as_manager, me, make, count_queries):
    def measure() -> int:
        with count_queries() as counter:
            assert as_manager.get(f"/clients/{me.client_id}").status_code == 200
        return counter.count

    policy = Policy(title="Terms", body="", version=1)
    db.session.add(policy)
    db.session.commit()
    db.session.add(PolicyAgreement(policy_id=policy.id, policy_version=1, login_id=me.id, ip_address="192.0.2.1"))
    db.session.commit()
    measure()  # the first request of a test client reads what later ones find cached
    one = measure()
    for n in range(2, 12):
        other = Policy(title=f"Policy {n}", body="", version=n)
        db.session.add(other)
        db.session.flush()
        db.session.add(PolicyAgreement(policy_id=other.id, policy_version=n, login_id=me.id, ip_address="192.0.2.1"))
    db.session.commit()
    assert measure() == one
    assert db.session.scalar(select(func.count()).select_from(PolicyAgreement)) == 11


def test_viewing_ends_with_signing_out_and_belongs_to_whoever_started_it(app, make, manager, household):
    from tests.conftest import PASSWORD

    client_id = household.ids["client_id"]
    browser = viewing(app, manager, client_id)
    other = make.staff(Role.MANAGER)
    login_as(browser, other)  # someone else signs in, in the same browser
    assert browser.get("/portal/").status_code == 403
    browser = viewing(app, manager, client_id)
    assert browser.post("/staff/logout").status_code == 303
    with browser.session_transaction() as session:
        assert "viewing_client" not in session
    signed_in = browser.post("/staff/login", data={"email": manager.email, "password": PASSWORD})
    assert signed_in.status_code == 303
    assert browser.get("/portal/").status_code == 403
