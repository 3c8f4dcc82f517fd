"""The office's live board in real Chromium, on a desktop and at phone width: a visit nobody checked in to
past its grace period shows as late, at a glance; Refresh brings the news without a reload; axe-core."""
import os
import re
from datetime import datetime, timedelta, timezone

from playwright.sync_api import expect

from extensions import db
from filters import business_today
from models import Role, Visit, VisitStatus
from tests.browser.conftest import accessible_context, assert_accessible, screenshot, staff_sign_in


def _a_busy_day(make) -> dict[str, Visit]:
    """Three sitters' day, on the quarter hours around now: something in every state the board shows."""
    walk = make.service(name="Dog walk", duration_minutes=30)
    drop_in = make.service(name="Drop-in visit", duration_minutes=45)
    mia = make.staff(Role.SITTER, first_name="Mia", last_name="Lopez")
    sam = make.staff(Role.SITTER, first_name="Sam", last_name="Ortiz")
    tess = make.staff(Role.SITTER, first_name="Tess", last_name="Green")
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    base = now - timedelta(minutes=now.minute % 15)
    today = business_today()

    def visit(last_name, pet, service, sitter, starts, status=VisitStatus.SCHEDULED, checked_in=None,
              checked_out=None, hours=1) -> Visit:
        client = make.client(first_name="Jo", last_name=last_name)
        start = base + timedelta(minutes=starts)
        made = Visit(client=client, service=service, sitter=sitter, day=today, starts_at=start,
                     ends_at=start + timedelta(hours=hours), window="custom", price_cents=2500, status=status,
                     pets=[make.pet(client, name=pet)], notes="", late_cancellation=False, cancelled_by="", reason="",
                     checked_in_at=now + timedelta(minutes=checked_in) if checked_in is not None else None,
                     checked_out_at=now + timedelta(minutes=checked_out) if checked_out is not None else None)
        db.session.add(made)
        db.session.commit()
        return made

    return {
        "done": visit("Smith", "Rex", walk, mia, -240, VisitStatus.COMPLETED, -235, -203),
        "short": visit("Patel", "Luna", drop_in, mia, -150, VisitStatus.COMPLETED, -148, -140),
        "late": visit("Nguyen", "Biscuit", walk, mia, -30),
        "later": visit("Kim", "Milo", walk, mia, 90),
        "in_progress": visit("Garcia", "Pepper", drop_in, sam, -15, VisitStatus.IN_PROGRESS, -12),
        "missed": visit("Silva", "Otis", walk, sam, -180),
        "to_come": visit("Berg", "Nala", walk, sam, 60),
        "tess": visit("Rossi", "Coco", drop_in, tess, 120),
        "cancelled": visit("Novak", "Ziggy", walk, tess, 180, VisitStatus.CANCELLED),
        "nobody": visit("Brown", "Maple", walk, None, 150),
    }


def test_a_manager_sees_the_late_visit_on_desktop_and_phone(browser, live_server, make):
    manager = make.staff(Role.MANAGER, first_name="Marta")
    day = _a_busy_day(make)

    context = accessible_context(browser, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    staff_sign_in(page, live_server, manager)
    page.get_by_role("link", name="Board", exact=True).click()
    expect(page.get_by_role("heading", name="Board", exact=False).first).to_be_visible()
    counts = page.get_by_role("list", name="Visits by state")
    expect(counts).to_contain_text("1 late")
    expect(counts).to_contain_text("1 short")
    expect(counts).to_contain_text("1 missed")
    late = page.locator("li.board-visit", has=page.get_by_role("link", name="Jo Nguyen"))
    expect(late).to_have_class("board-visit board-late")
    expect(late.locator(".board-badge")).to_have_text("Late")
    expect(late).to_contain_text(re.compile(r"No check-in, (3\d|4[0-4]) min after the start"))
    mia = page.get_by_role("region", name="Mia Lopez 4 visits")
    expect(mia.locator("li.board-visit")).to_have_count(4)
    expect(page.locator(".lane h2").last).to_contain_text("Not assigned")
    assert_accessible(page)
    screenshot(page, "board-desktop")

    phone = accessible_context(browser, viewport={"width": 390, "height": 844})
    small = phone.new_page()
    small.set_default_timeout(10_000)
    staff_sign_in(small, live_server, manager)
    small.goto(f"{live_server}/board/")
    expect(small.locator("li.board-visit", has=small.get_by_role("link", name="Jo Silva"))).to_contain_text("Missed")
    assert small.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "the board scrolls sideways"
    expect(small.locator("li.board-visit", has=small.get_by_role("link", name="Jo Nguyen"))).to_contain_text("Late")
    assert_accessible(small)
    screenshot(small, "board-phone")
    phone.close()

    # The sitter checks in (elsewhere); Refresh swaps the board in place, as the 30-second poll does.
    late_visit = db.session.get(Visit, day["late"].id)
    late_visit.status, late_visit.checked_in_at = VisitStatus.IN_PROGRESS, datetime.now(timezone.utc)
    db.session.commit()
    page.evaluate("document.body.dataset.marker = 'same page'")
    page.locator("#board").get_by_role("link", name="Refresh").click()
    expect(late).to_have_class("board-visit board-in_progress")
    expect(counts).to_contain_text("0 late")
    assert page.evaluate("document.body.dataset.marker") == "same page"  # swapped, not reloaded
    page.get_by_role("link", name="Jo Smith").click()
    expect(page.get_by_role("heading", name="Dog walk for Jo Smith")).to_be_visible()
    assert errors == []

    context.close()


def test_a_manager_records_a_key_holder_and_the_board_stops_warning(browser, live_server, make):
    manager = make.staff(Role.MANAGER, first_name="Marta")
    mia = make.staff(Role.SITTER, first_name="Mia", last_name="Lopez")
    walk = make.service(name="Dog walk", duration_minutes=30)
    smiths = make.client(first_name="Jane", last_name="Smith", uses_keys=True, lockbox_code="4719")
    start = datetime.now(timezone.utc).replace(second=0, microsecond=0) + timedelta(hours=1)
    db.session.add(Visit(client=smiths, service=walk, sitter=mia, day=business_today(), starts_at=start,
                         ends_at=start + timedelta(hours=1), window="custom", price_cents=2500,
                         status=VisitStatus.SCHEDULED, pets=[make.pet(smiths, name="Rex")], notes="",
                         late_cancellation=False, cancelled_by="", reason=""))
    db.session.commit()

    context = accessible_context(browser, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    staff_sign_in(page, live_server, manager)
    page.goto(f"{live_server}/board/")
    expect(page.locator(".key-badge")).to_have_text("Mia holds no key for Jane Smith")

    page.goto(f"{live_server}/clients/{smiths.id}")
    keys = page.locator("#keys")
    expect(keys.get_by_label("Lockbox code", exact=True)).to_have_value("4719")
    keys.get_by_text("Add a key holder").click()
    keys.get_by_label("Team member").select_option(label="Mia Lopez")
    keys.get_by_label("Notes").fill("Blue ring")
    keys.get_by_role("button", name="Save key holder").click()
    expect(page.locator("#keys")).to_contain_text("Mia Lopez is on the list of key holders.")
    expect(page.locator("#keys .key-holders")).to_contain_text("Mia Lopez — has a key · Blue ring")
    assert_accessible(page)
    page.screenshot(path=os.path.join(os.environ.get("PAWTAL_LOOK", "/tmp"), "keys-profile.png"), full_page=True)

    page.goto(f"{live_server}/board/")
    expect(page.get_by_role("link", name="Jane Smith")).to_be_visible()
    expect(page.locator(".key-badge")).to_have_count(0)
    context.close()
