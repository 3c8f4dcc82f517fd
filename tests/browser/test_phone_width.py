"""Phones are first-class: at 390px no staff page is wider than the screen (nothing scrolls sideways)."""
from datetime import date

from playwright.sync_api import expect
from sqlalchemy import select

from extensions import db
from models import OutboxMessage, Role, utcnow
from services import clients as client_service
from services.invites import send_invitations
from services.resources import save_policy
from tests.browser.conftest import accessible_context, assert_accessible, screenshot, staff_sign_in

SHOWN = {"/staff/": "phone-staff-team", "/outbox/": "phone-outbox"}  # for the README's tour
LONG_EMAIL = "bartholomew.fitzwilliam-montgomery.household@extraordinarily-long-domain.example.com"


def _business(make, owner):
    """Real-looking data with the long names and addresses that push a layout sideways."""
    make.staff(Role.SITTER, first_name="Maximiliana", last_name="Featherstonehaugh-Worthington",
               email="maximiliana.featherstonehaugh-worthington@example.com")
    walk = make.service(name="Extended neighbourhood adventure walk")
    save_policy(None, "Cancellation and late-notice rescheduling", "Tell us 24 hours ahead. " * 8, True)
    client = make.client(first_name="Bartholomew", last_name="Fitzwilliam-Montgomery", email=LONG_EMAIL,
                         address_line1="1234 Extraordinarily Long Boulevard Apartment 56B", city="Cambridge")
    make.pet(client, name="Sir Reginald Wagglesworth", breed="Cavalier King Charles Spaniel")
    client_service.add_custom_price(client, walk.id, 3100, date(2026, 1, 5), owner)
    other = make.client(first_name="Wilhelmina", last_name="Abernathy-Cholmondeley",
                        email=LONG_EMAIL.replace("bartholomew", "wilhelmina"))
    send_invitations([client, other], owner, "We now take bookings online!")
    db.session.flush()
    sent, failing = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    sent.sent_at = utcnow()
    failing.attempts = 3
    failing.last_error = f"SMTPRecipientsRefused: {{'{LONG_EMAIL}': (550, b'5.1.1 mailbox unavailable')}}"
    db.session.commit()
    return client


def test_staff_pages_fit_a_phone_without_scrolling_sideways(browser, live_server, make, owner):
    client = _business(make, owner)
    context = accessible_context(browser, viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.set_default_timeout(10_000)
    staff_sign_in(page, live_server, owner)
    wide = {}
    for path in ["/staff/", "/resources/policies/", "/resources/services/", "/invitations/", f"/clients/{client.id}",
                 "/outbox/", "/settings/"]:
        page.goto(live_server + path)
        expect(page.locator("main h1").first).to_be_visible()
        sizes = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        if sizes[0] > sizes[1]:
            wide[path] = sizes
        assert_accessible(page)
        if path in SHOWN:
            screenshot(page, SHOWN[path])
    context.close()
    assert wide == {}, f"wider than a 390px phone (scrollWidth, innerWidth): {wide}"
