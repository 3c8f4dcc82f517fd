"""A manager views a client's portal in real Chromium: the banner, a change refused in place, leaving, the log and
the policies agreed on the profile; at desktop and phone widths, checked with axe-core."""
import re
from datetime import datetime, timezone

import pytest
from playwright.sync_api import expect

from extensions import db
from models import ClientLogin, ClientProfile, Policy, PolicyAgreement
from tests.browser.conftest import accessible_context, assert_accessible, screenshot, staff_sign_in


def _client(make, password_hash) -> ClientProfile:
    client = make.client(first_name="Ola", last_name="Berg", mobile_phone="(555) 010-3344", city="Cambridge")
    make.pet(client, name="Mochi", breed="Shiba Inu")
    login = ClientLogin(client=client, email="ola@example.com", first_name="Ola", last_name="Berg",
                        password_hash=password_hash)
    terms = Policy(title="Terms of service", body="Be kind.", version=2, required_at_registration=True)
    db.session.add_all([login, terms])
    db.session.flush()
    db.session.add(PolicyAgreement(policy_id=terms.id, policy_version=2, login_id=login.id, ip_address="203.0.113.7",
                                   agreed_at=datetime(2026, 7, 1, 16, 5, tzinfo=timezone.utc)))
    db.session.commit()
    return client


@pytest.mark.parametrize("width,prefix", [(1280, ""), (390, "phone-")])
def test_a_manager_views_the_portal_read_only_then_leaves(browser, live_server, make, manager, password_hash,
                                                           width, prefix):
    client = _client(make, password_hash)
    context = accessible_context(browser, viewport={"width": width, "height": 860 if width > 400 else 844})
    page = context.new_page()
    page.set_default_timeout(10_000)
    staff_sign_in(page, live_server, manager)
    page.goto(f"{live_server}/clients/{client.id}")
    portal = page.get_by_role("region", name="Client portal")
    expect(portal).to_contain_text("Terms of service")
    expect(portal).to_contain_text("version 2")
    expect(portal).to_contain_text("1 Jul 2026, 12:05 PM from 203.0.113.7, by Ola Berg")
    expect(portal).to_contain_text("No one on staff has viewed this portal.")

    page.get_by_role("button", name="View portal as client").click()
    expect(page.get_by_role("heading", name="Welcome, Ola")).to_be_visible()
    banner = page.get_by_role("region", name="Viewing as a client")
    expect(banner).to_contain_text("You are viewing Ola Berg's portal as Marta Member, read-only")
    assert_accessible(page)
    sizes = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert sizes[0] <= sizes[1], f"wider than the window: {sizes}"
    screenshot(page, f"{prefix}portal-view-as-client")

    # A change is refused where it was tried (htmx), and nothing is saved.
    page.goto(f"{live_server}/portal/info")
    page.get_by_label("Mobile").fill("(555) 999-0000")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#flashes")).to_contain_text("Read-only")
    expect(page.locator("#flashes")).to_contain_text("nothing can be changed")
    assert_accessible(page)
    db.session.expire_all()
    assert db.session.get(ClientProfile, client.id).mobile_phone == "(555) 010-3344"

    banner.get_by_role("button", name="Leave the client's portal").click()
    expect(page).to_have_url(re.compile(rf"/clients/{client.id}$"))
    expect(page.get_by_text("You left Ola Berg's portal.")).to_be_visible()
    expect(page.get_by_role("region", name="Viewing as a client")).to_have_count(0)
    views = page.get_by_role("list", name="Viewed by staff")
    expect(views.get_by_role("listitem")).to_have_count(2)  # the home page and My Info; not the refused save
    expect(views).to_contain_text("Marta Member")
    expect(views).to_contain_text("/portal/info")
    page.get_by_role("heading", name="Client portal").scroll_into_view_if_needed()
    assert_accessible(page)
    screenshot(page, f"{prefix}client-profile-portal")
    context.close()
