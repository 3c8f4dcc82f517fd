"""A sitter's visit on a phone, for real: Today, check-in with the location, the checklist, a camera photo,
check-out by sending the report; the client reads it in the portal; the manager sees the record."""
from datetime import datetime, timedelta

from PIL import Image
from playwright.sync_api import expect
from sqlalchemy import select

from extensions import db
from models import ChecklistItem, ReportPhoto, Role, Visit, VisitStatus
from tests.browser.conftest import accessible_context, assert_accessible, screenshot, staff_sign_in
from tests.browser.test_calendar import _client_signs_in
from tests.test_checkins import NY, book

PHONE = {"width": 390, "height": 844}


def _camera_photo(tmp_path):
    path = tmp_path / "IMG_0042.jpg"
    image = Image.new("RGB", (1600, 1200), (120, 170, 90))
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (42.0, 21.0, 36.0), 3: "W", 4: (71.0, 3.0, 0.0)}
    image.save(path, "JPEG", exif=exif)
    return path


def test_a_sitter_checks_in_reports_with_a_photo_and_the_client_reads_it(browser, live_server, me, make, tmp_path):
    sitter = make.staff(Role.SITTER, first_name="Fern")
    manager = make.staff(Role.MANAGER, first_name="Marta")
    walk = make.service(name="Dog walk", duration_minutes=30)
    db.session.add(ChecklistItem(service_id=walk.id, label="Fresh water", required=True, position=0))
    rex = make.pet(me.client, name="Rex", feeding="Half a cup at 5 PM")
    me.client.address_line1, me.client.city, me.client.uses_keys = "12 Elm St", "Springfield", True
    me.client.key_notes = "Key under the blue pot"
    db.session.commit()
    visit = book(me.client, walk, sitter, [rex], starts_in=timedelta(minutes=5))
    later = book(me.client, walk, sitter, [rex], starts_in=timedelta(days=1))  # over 12 hours ahead: a line
    other = make.client(first_name="Olly", last_name="Park")
    earlier = book(other, walk, sitter, [make.pet(other, name="Pip")], starts_in=-timedelta(hours=3))  # done, no report
    earlier.day, earlier.status = visit.day, VisitStatus.COMPLETED
    earlier.checked_in_at, earlier.checked_out_at = earlier.starts_at, earlier.ends_at
    db.session.commit()

    context = accessible_context(browser, viewport=PHONE, geolocation={"latitude": 42.3601, "longitude": -71.0589,
                                                                        "accuracy": 15}, permissions=["geolocation"])
    page = context.new_page()
    page.set_default_timeout(10_000)
    staff_sign_in(page, live_server, sitter)
    expect(page).to_have_url(f"{live_server}/today/")
    card = page.locator(f"#visit-{visit.id}")
    expect(card.get_by_text("Key under the blue pot")).to_be_visible()
    expect(page.get_by_role("heading", name="Tomorrow", exact=False)).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert_accessible(page)
    screenshot(page, "today-phone")
    line = page.get_by_role("region", name="Tomorrow", exact=False).get_by_role("link", name="Nia Reyes", exact=False)
    expect(line).to_have_attribute("href", f"/visits/{later.id}")
    expect(line).to_contain_text("Dog walk · Rex")
    line.scroll_into_view_if_needed()
    screenshot(page, "today-tomorrow-phone")
    # The morning's visit, done, is a line under Finished after the cards, saying its report is still to send.
    finished = page.get_by_role("list", name="Finished", exact=False).get_by_role("listitem")
    expect(finished).to_have_count(1)
    expect(finished).to_contain_text("Completed")
    expect(finished).to_contain_text("Report not sent")
    expect(finished.get_by_role("link")).to_have_attribute("href", f"/visits/{earlier.id}")
    assert page.locator(f"#visit-{earlier.id}").count() == 0
    page.get_by_role("heading", name="Finished", exact=False).scroll_into_view_if_needed()
    screenshot(page, "today-finished-phone")
    page.evaluate("window.scrollTo(0, 0)")

    card.get_by_role("button", name="Check in").click()
    expect(card.locator(".tapped")).to_contain_text("Checked in at")
    db.session.expire_all()
    checked = db.session.get(Visit, visit.id)
    assert checked.status == VisitStatus.IN_PROGRESS
    assert abs(checked.check_in_latitude - 42.3601) < 1e-6 and checked.check_in_accuracy == 15

    card.get_by_label("Fresh water").check()
    card.get_by_label("Happy").check()
    card.get_by_label("Notes for the client").fill("Rex pulled hard at the park, then napped.")
    with page.expect_file_chooser() as chooser:
        card.get_by_label("Add a photo").click()
    chooser.value.set_files(str(_camera_photo(tmp_path)))
    card.get_by_role("button", name="Upload the photo").click()
    expect(card.get_by_role("img", name="Photo 1, not sent yet")).to_be_visible()
    # Adding a photo swaps only the photos: what she ticked and typed is still there.
    expect(card.get_by_label("Notes for the client")).to_have_value("Rex pulled hard at the park, then napped.")
    expect(card.get_by_label("Fresh water")).to_be_checked()
    assert_accessible(page)
    screenshot(page, "visit-report-phone")
    card.get_by_role("button", name="Send the report and check out").click()
    expect(card.get_by_text("Report sent to the client")).to_be_visible()
    expect(card.get_by_role("img", name="Photo 1 from the visit")).to_be_visible()
    db.session.expire_all()
    done = db.session.get(Visit, visit.id)
    assert done.status == VisitStatus.COMPLETED and done.checked_out_at is not None
    photo = db.session.scalar(select(ReportPhoto))
    assert photo.report_id == done.report.id
    context.close()

    portal = accessible_context(browser, viewport=PHONE).new_page()
    portal.set_default_timeout(10_000)
    _client_signs_in(portal, live_server)
    portal.get_by_role("button", name="Menu").click()
    portal.get_by_role("link", name="Visit reports").click()
    portal.get_by_role("link", name="Dog walk", exact=False).first.click()
    expect(portal.get_by_text("Rex pulled hard at the park, then napped.")).to_be_visible()
    expect(portal.get_by_role("img", name="Photo 1 from the visit")).to_be_visible()
    # The thumbnail really loads (a lazy image: waited for, not read at once).
    # (Polled by Playwright itself: a string predicate would be eval'd in the page, which its CSP refuses.)
    thumbnail = portal.locator(".photos img").first
    expect(thumbnail).to_have_js_property("complete", True)
    assert thumbnail.evaluate("img => img.naturalWidth") > 0
    assert_accessible(portal)
    screenshot(portal, "portal-report-phone")
    portal.context.close()

    # Another home today whose window began 20 minutes ago, with no check-in: late on the office's board.
    book(make.client(first_name="Otto", last_name="Late"), walk, sitter, [], starts_in=timedelta(minutes=-20),
         minutes=60)
    office = accessible_context(browser, viewport={"width": 1280, "height": 900}).new_page()
    office.set_default_timeout(10_000)
    staff_sign_in(office, live_server, manager)
    office.goto(f"{live_server}/visits/{visit.id}")
    expect(office.get_by_role("heading", name="Check-in and check-out")).to_be_visible()
    office.get_by_text("recorded changes").click()
    expect(office.get_by_text("Fern checked in", exact=False)).to_be_visible()
    assert_accessible(office)
    screenshot(office, "visit-record-desktop")
    office.goto(f"{live_server}/board/")
    done_item = office.locator(".board-visit", has=office.get_by_role("link", name="Nia Reyes"))
    # Checked out seconds after checking in: done, and flagged short against the 30-minute walk.
    expect(done_item.locator(".board-badge")).to_have_text("Short")
    expect(done_item).to_contain_text("0 min of 30 min")
    late_item = office.locator(".board-visit", has=office.get_by_role("link", name="Otto Late"))
    expect(late_item.locator(".board-badge")).to_have_text("Late")
    assert_accessible(office)

    # Fern says she forgot to tap on arrival: the manager sets the times, with the reason, and the board reads done.
    office.goto(f"{live_server}/visits/{visit.id}")
    office.get_by_text("Correct the times").click()
    left = datetime.now(NY).replace(second=0, microsecond=0)
    office.get_by_label("Checked in").fill((left - timedelta(minutes=35)).strftime("%Y-%m-%dT%H:%M"))
    office.get_by_label("Checked out").fill(left.strftime("%Y-%m-%dT%H:%M"))
    office.get_by_label("Why the times change").fill("Forgot to tap on arrival")
    office.get_by_role("button", name="Save the corrected times").click()
    expect(office.get_by_text("Times corrected")).to_be_visible()
    office.goto(f"{live_server}/board/")
    expect(done_item.locator(".board-badge")).to_have_text("Done")
    expect(done_item).to_contain_text("35 min")
    office.context.close()
