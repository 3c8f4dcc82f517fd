"""Requesting visits in real Chromium: an onboarded client asks for three days next month, staff
approve them, and the client's calendar shows them scheduled; axe-core on every screen."""
import re
from datetime import datetime, time
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from extensions import db
from models import RequestStatus, Role, VisitRequest
from services import visits
from tests.browser.conftest import accessible_context, assert_accessible, screenshot, staff_sign_in
from tests.conftest import PASSWORD


def _client_signs_in(page, base):
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill("nia@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Welcome, Nia")).to_be_visible()


def test_client_requests_three_days_staff_approves_client_sees_them_scheduled(browser, live_server, me, make):
    sitter = make.staff(Role.SITTER, first_name="Sami")
    manager = make.staff(Role.MANAGER, first_name="Marta")
    me.client.primary_sitter_id = sitter.id
    make.pet(me.client, name="Rex")
    make.service(name="Dog walk", base_price_cents=2500)
    db.session.commit()
    today = datetime.now(ZoneInfo("America/New_York")).date()
    month = visits.shift_month(today.replace(day=1), 1)
    days = [month.replace(day=d) for d in (8, 10, 15)]

    context = accessible_context(browser, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    _client_signs_in(page, live_server)
    page.get_by_role("link", name="Calendar", exact=True).click()
    expect(page.get_by_role("heading", name=today.strftime("%B %Y"))).to_be_visible()
    assert_accessible(page)

    page.get_by_role("link", name=re.compile("^Next month, ")).click()
    expect(page.get_by_role("heading", name=month.strftime("%B %Y"))).to_be_visible()
    expect(page).to_have_url(re.compile(rf"month={month:%Y-%m}$"))

    day_link = page.locator(f'td[data-day="{days[0].isoformat()}"] a.day-link')
    expect(day_link).to_have_accessible_name(f"{days[0]:%a} {days[0].day} {days[0]:%b %Y}, request visits")
    day_link.click()
    form = page.locator("#request-form")
    expect(form.get_by_role("heading", name="Request visits")).to_be_focused()  # keyboard and screen readers follow
    expect(form.get_by_label("Dog walk")).to_be_checked()  # the only service and the only pet are ticked
    expect(form.get_by_label("Rex")).to_be_checked()
    form.get_by_label("Chosen days").check()
    expect(form.get_by_label("Day 1")).to_have_value(days[0].isoformat())
    form.get_by_label("Day 2").fill(days[1].isoformat())
    form.get_by_label("Day 3").fill(days[2].isoformat())
    form.get_by_label("Midday (11 AM–2 PM)").check()
    expect(form.get_by_text("Total for 3 visits")).to_be_visible()
    expect(form.locator(".price-preview tfoot")).to_contain_text("$75.00")
    assert_accessible(page)
    screenshot(page, "portal-request-form")

    form.get_by_role("button", name="Send request").click()
    expect(page.get_by_text("we have your request for 3 visits")).to_be_visible()
    requested = page.locator("#calendar a.visit.state-requested")
    expect(requested).to_have_count(3)
    expect(requested.first).to_contain_text("Midday")
    for day in days:  # a list of links tells the visits apart: each name starts with its date
        name = f"{day:%a} {day.day} {day:%b %Y}: Requested Midday"
        expect(page.get_by_role("link", name=re.compile("^" + re.escape(name)))).to_have_count(1)
    expect(page).to_have_url(re.compile(rf"/portal/calendar\?month={month:%Y-%m}$"))
    screenshot(page, "portal-calendar-requested")

    staff = browser.new_context(viewport={"width": 1280, "height": 900})
    desk = staff.new_page()
    desk.set_default_timeout(10_000)
    staff_sign_in(desk, live_server, manager)
    desk.get_by_role("link", name="Requests").click()
    expect(desk.get_by_role("heading", name="Nia Reyes")).to_be_visible()
    screenshot(desk, "staff-requests")
    desk.get_by_role("link", name=re.compile("Review")).click()
    expect(desk.get_by_label("Sitter")).to_have_value(str(sitter.id))
    screenshot(desk, "staff-request-review")
    desk.get_by_role("button", name="Approve ticked visits").click()
    expect(desk.get_by_text("Approved: the visits are on the schedule")).to_be_visible()
    desk.get_by_role("link", name="Schedule").click()
    desk.get_by_role("link", name=re.compile("^Month")).click()
    # Each click swaps the schedule in place: wait for the month before asking for the next one.
    expect(desk.get_by_role("heading", name=today.strftime("%B %Y"))).to_be_visible()
    desk.get_by_role("link", name=re.compile("Next")).click()
    expect(desk.get_by_role("heading", name=month.strftime("%B %Y"))).to_be_visible()
    expect(desk.locator("#schedule a.visit.state-scheduled")).to_have_count(3)
    screenshot(desk, "staff-schedule-month")
    desk.locator("#schedule a.visit").last.click()
    expect(desk.get_by_role("button", name="Cancel this visit")).to_be_in_viewport()

    page.reload()
    scheduled = page.locator("#calendar a.visit.state-scheduled")
    expect(scheduled).to_have_count(3)
    expect(scheduled.first).to_contain_text("Sami")
    scheduled.first.click()
    expect(page.get_by_role("button", name="Cancel this visit")).to_be_visible()
    assert_accessible(page)
    assert errors == []
    db.session.expire_all()
    assert db.session.query(VisitRequest).one().status == RequestStatus.APPROVED

    phone = accessible_context(browser, viewport={"width": 390, "height": 844})
    small = phone.new_page()
    _client_signs_in(small, live_server)
    small.goto(f"{live_server}/portal/calendar?month={month:%Y-%m}")
    expect(small.locator("#calendar a.visit.state-scheduled")).to_have_count(3)
    expect(small.locator(f'td[data-day="{days[0].isoformat()}"] .day-full')).to_be_visible()
    assert_accessible(small)
    screenshot(small, "phone-calendar")
    small.goto(f"{live_server}/portal/requests/new")
    assert_accessible(small)
    screenshot(small, "phone-request-form")
    for each in (context, staff, phone):
        each.close()


def test_staff_screens_are_accessible_at_desktop_and_phone_widths(browser, live_server, me, make):
    manager = make.staff(Role.MANAGER, first_name="Marta")
    rex = make.pet(me.client, name="Rex")
    walk = make.service(name="Dog walk", base_price_cents=2500)
    month = visits.shift_month(datetime.now(ZoneInfo("America/New_York")).date().replace(day=1), 1)
    asked = visits.request_visits(me.client, me, visits.Plan([walk], [month.replace(day=d) for d in (4, 5)], "evening",
                                                             time(17), time(20), [rex], "Back door"))
    db.session.commit()
    for width, height, prefix in ((1280, 900, "staff"), (390, 844, "phone-staff")):
        context = accessible_context(browser, viewport={"width": width, "height": height})
        page = context.new_page()
        page.set_default_timeout(10_000)
        staff_sign_in(page, live_server, manager)
        for path, name in (("/schedule/?view=week", "schedule-week"), ("/schedule/?view=day", None),
                           ("/schedule/?view=month", None), ("/requests/", None), ("/schedule/blockouts", "blockouts"),
                           (f"/schedule/new?client={me.client_id}", "add-visits"),
                           (f"/requests/{asked.id}", "request-review")):
            page.goto(live_server + path)
            assert_accessible(page)
            if name:
                screenshot(page, f"{prefix}-{name}")
        context.close()


def test_the_month_grid_lines_up_whether_a_day_is_a_link_or_not(browser, live_server, me, make):
    """A day one may ask for is a link, a closed day is not: their dates and the visits under them line up."""
    manager = make.staff(Role.MANAGER, first_name="Marta")
    make.pet(me.client, name="Rex")
    make.service(name="Dog walk", base_price_cents=2500)
    month = visits.shift_month(datetime.now(ZoneInfo("America/New_York")).date().replace(day=1), 1)
    visits.add_blockout(month.replace(day=20), None, "", manager)
    db.session.commit()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    _client_signs_in(page, live_server)
    page.goto(f"{live_server}/portal/calendar?month={month:%Y-%m}")
    expect(page.locator(f'td[data-day="{month.replace(day=19).isoformat()}"] a.day-link')).to_have_count(1)
    expect(page.locator(f'td[data-day="{month.replace(day=20).isoformat()}"] a.day-link')).to_have_count(0)
    offsets = page.evaluate("""() => [...document.querySelectorAll('#calendar td.day')].map((td) => {
        const cell = td.getBoundingClientRect(), num = td.querySelector('.day-num').getBoundingClientRect();
        return [Math.round(num.left - cell.left), Math.round(td.querySelector('.day-head').getBoundingClientRect().height)];
    })""")
    assert len({left for left, _height in offsets}) == 1, f"day numbers sit at different offsets: {offsets}"
    assert len({height for _left, height in offsets}) == 1, f"day heads differ in height: {offsets}"
    context.close()
