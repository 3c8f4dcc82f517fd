"""The screens of visits under way as their users see them: a sitter's phone (390 px, one thumb), the office's
desktop, the client's phone. Each screen, at both widths, with real-looking data (every state, long names,
errors shown): nothing scrolls sideways, axe-core finds nothing serious, the sitter's taps are big enough.
Screenshots go to /tmp/screens (PAWTAL_SCREENS) for a person to look at; they are not the README's."""
from __future__ import annotations

import io
import os
from datetime import datetime, timedelta, timezone

import pytest
from PIL import Image
from playwright.sync_api import expect
from werkzeug.datastructures import FileStorage

from extensions import db
from filters import business_today
from models import BlockOut, ChecklistItem, KeyHolder, Role, Visit, VisitStatus
from services import checkins, reports
from tests.browser.conftest import accessible_context, assert_accessible, staff_sign_in
from tests.browser.test_calendar import _client_signs_in

SCREENS = os.environ.get("PAWTAL_SCREENS", "/tmp/screens")
SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 860}}
THUMB = 44  # px: the smallest target a thumb hits reliably (WCAG 2.5.5, Apple's and Android's guides)
LONG_SITTER = ("Maximiliana", "Featherstonehaugh-Worthington")
LONG_CLIENT = ("Bartholomew", "Fitzwilliam-Montgomery")


def _photo(size, colour) -> FileStorage:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG")
    out.seek(0)
    return FileStorage(out, filename="IMG_0042.jpg", content_type="image/jpeg")


class Day:
    """A business's day around now, built through the services where the app would record things itself."""

    def __init__(self, app):
        self.app = app
        self.now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
        self.today = business_today()

    def visit(self, client, service, sitter, pets, starts, hours=1.0, status=VisitStatus.SCHEDULED, day=None,
              reason="", notes="", checked_in=None, checked_out=None) -> Visit:
        # `day` is today's local date whatever the hour: the sitter's day lists visits by it.
        start = self.now + timedelta(minutes=starts)
        at = lambda minutes: None if minutes is None else self.now + timedelta(minutes=minutes)  # noqa: E731
        made = Visit(client=client, service=service, sitter=sitter, day=day or self.today, starts_at=start,
                     ends_at=start + timedelta(hours=hours), window="custom", price_cents=2500, status=status,
                     pets=list(pets), notes=notes, late_cancellation=False,
                     cancelled_by="staff" if status == VisitStatus.CANCELLED else "", reason=reason,
                     checked_in_at=at(checked_in), checked_out_at=at(checked_out))
        db.session.add(made)
        db.session.commit()
        return made

    def report(self, visit, sitter, ticked, notes, mood, photos=(), checked_in=-50, checked_out=-15):
        """Check in and out at those minutes from now, with photos and the report, as the sitter's phone would."""
        with self.app.test_request_context():
            checkins.check_in(visit, sitter, None, now=self.now + timedelta(minutes=checked_in))
            for size, colour in photos:
                reports.add_photo(visit, sitter, _photo(size, colour))
            db.session.commit()
            reports.send_report(visit, sitter, ticked, notes, mood, now=self.now + timedelta(minutes=checked_out))
            db.session.commit()


def _business(app, make, me):
    """One sitter's full day (every state, tomorrow closed), the office's board and the client's reports."""
    day = Day(app)
    fern = make.staff(Role.SITTER, first_name="Fern", last_name="Okafor")
    long_sitter = make.staff(Role.SITTER, first_name=LONG_SITTER[0], last_name=LONG_SITTER[1])
    sam = make.staff(Role.SITTER, first_name="Sam", last_name="Ortiz")
    manager = make.staff(Role.MANAGER, first_name="Marta", last_name="Lindqvist")
    walk = make.service(name="Dog walk", duration_minutes=30)
    drop_in = make.service(name="Extended neighbourhood adventure walk", duration_minutes=60)
    db.session.add_all([ChecklistItem(service_id=walk.id, label="Fresh water", required=True, position=0),
                        ChecklistItem(service_id=walk.id, label="Medication given (Apoquel, in peanut butter)",
                                      required=True, position=1),
                        ChecklistItem(service_id=walk.id, label="Poo", required=False, position=2),
                        ChecklistItem(service_id=drop_in.id, label="Litter scooped", required=False, position=0)])

    nia = me.client
    nia.address_line1, nia.city, nia.mobile_phone = "12 Elm St", "Springfield", "(555) 010-1111"
    nia.uses_keys, nia.key_notes, nia.lockbox_code = True, "Lockbox on the back porch, left of the door", "4821"
    nia.emergency_name, nia.emergency_phone = "Ana Reyes", "(555) 010-2222"
    rex = make.pet(nia, name="Rex", breed="Labrador", feeding="Half a cup at 5 PM", medications="Apoquel daily",
                   description="Pulls on the lead near squirrels")
    luna = make.pet(nia, name="Luna", species="Cat", care_notes="Hides under the bed; leave her be")
    long = make.client(first_name=LONG_CLIENT[0], last_name=LONG_CLIENT[1],
                       address_line1="1234 Extraordinarily Long Boulevard Apartment 56B", city="Cambridge",
                       mobile_phone="(555) 010-3333")
    sir = make.pet(long, name="Sir Reginald Wagglesworth", breed="Cavalier King Charles Spaniel",
                   feeding="One scoop of the grain-free kibble, mixed with warm water, at noon and at six")
    otto = make.client(first_name="Otto", last_name="Late", address_line1="3 Pine Rd", city="Springfield")
    biscuit = make.pet(otto, name="Biscuit")
    wil = make.client(first_name="Wilhelmina", last_name="Abernathy-Cholmondeley")
    ziggy = make.pet(wil, name="Ziggy")
    db.session.add_all([KeyHolder(client_id=nia.id, staff_id=fern.id, has_key=True, knows_code=True,
                                  notes="Spare key on her ring, blue tag"),
                        KeyHolder(client_id=nia.id, staff_id=long_sitter.id, has_key=False, knows_code=True)])
    db.session.add(BlockOut(starts_on=day.today + timedelta(days=1), ends_on=day.today + timedelta(days=1),
                            note="Team training day", created_by=manager))
    db.session.commit()

    shown = {
        "done": day.visit(nia, walk, fern, [rex, luna], -60),
        "no_check_in": day.visit(otto, walk, fern, [biscuit], -150),
        "in_progress": day.visit(long, walk, fern, [sir], -20, notes="Gate code 1947#; the dog stays off the sofa"),
        "scheduled": day.visit(nia, walk, fern, [rex], 60),
        "cancelled": day.visit(wil, walk, fern, [ziggy], 120, status=VisitStatus.CANCELLED,
                               reason="Client's plans changed: they are home all week"),
        "yesterday": day.visit(nia, drop_in, long_sitter, [luna], -24 * 60, day=day.today - timedelta(days=1)),
    }
    with app.test_request_context():
        checkins.check_in(shown["in_progress"], fern, None, now=day.now - timedelta(minutes=18))
        db.session.commit()
    items = {item.label: item.id for item in walk.checklist}
    day.report(shown["done"], fern, {items["Fresh water"], items["Medication given (Apoquel, in peanut butter)"]},
               "Rex pulled hard at the park, then napped in the sun. Luna came out for treats at the end.\n"
               "Water bowl refilled; the back door is locked.", "happy",
               photos=[((1600, 1200), (120, 170, 90)), ((900, 1200), (200, 150, 90)), ((1200, 1200), (90, 130, 200))])
    day.report(shown["yesterday"], long_sitter, set(), "Luna ate everything and purred.", "calm",
               photos=[((1200, 900), (180, 120, 160))], checked_in=-24 * 60 - 5, checked_out=-24 * 60 + 40)
    with app.test_request_context():
        reports.correct_report(shown["yesterday"], manager, {0}, "Luna ate everything and purred. Litter scooped.",
                               "calm", "The sitter scooped the litter but forgot to tick it.")
        db.session.commit()

    # The office's board: three sitters and the unassigned, long names, every state, a key notice.
    done, going = VisitStatus.COMPLETED, VisitStatus.IN_PROGRESS
    for first, last, pet, sitter, starts, extra in [
            ("Jo", "Smith", "Pepper", long_sitter, -240, {"status": done, "checked_in": -238, "checked_out": -185}),
            ("Priyanka", "Ramaswamy-Venkataraman", "Mister Fluffington III", sam, -200, {}),
            ("Lee", "Kim", "Coco", long_sitter, -150, {"status": done, "checked_in": -148, "checked_out": -141}),
            ("Anne-Sophie", "de la Tour d'Auvergne", "Nala", sam, -30, {}),
            ("Hiroshi", "Tanaka-Whitfield", "Biscotti", long_sitter, -10, {"status": going, "checked_in": -8}),
            ("Kai", "Berg", "Milo", None, 45, {}),
            ("Ola", "Nowak", "Otis", long_sitter, 90, {}),
            ("Guinevere", "Papadopoulou", "Professor Whiskers", sam, 150, {}),
            ("Ben", "Ng", "Dot", None, 240, {})]:
        client = make.client(first_name=first, last_name=last)
        day.visit(client, drop_in if len(last) > 8 else walk, sitter, [make.pet(client, name=pet)], starts, **extra)
    day.visit(nia, walk, sam, [rex], 200)  # Sam holds no key to Nia's: a key notice
    return fern, manager, shown


class Screens:
    """Open, check and photograph screens; problems are collected so one run shows them all."""

    def __init__(self, size: str):
        self.size, self.problems = size, []
        os.makedirs(SCREENS, exist_ok=True)

    def check(self, page, name: str) -> None:
        page.wait_for_load_state()
        # Lazy photos below the fold load before the full-page screenshot (evaluate, not wait_for_function:
        # the site's CSP forbids the eval that a polled predicate needs).
        page.evaluate("""async () => {
            for (const img of document.images) img.loading = "eager";
            await Promise.all([...document.images].map((img) => img.complete ? null
                : new Promise((done) => { img.onload = img.onerror = done; })));
            await document.fonts.ready;
        }""")
        sizes = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        if sizes[0] > sizes[1]:
            wide = page.evaluate("""() => [...document.querySelectorAll('main *')]
                .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
                .slice(0, 5).map((e) => e.tagName.toLowerCase() + (e.className ? '.' + e.className : ''))""")
            self.problems.append(f"{name}: scrolls sideways ({sizes[0]} > {sizes[1]}): {wide}")
        try:
            assert_accessible(page)
        except AssertionError as error:
            self.problems.append(f"{name}: {error}")
        page.screenshot(path=os.path.join(SCREENS, f"{name}-{self.size}.png"), full_page=True)

    def thumb_sized(self, page, name: str) -> None:
        """Every button, toggle and choice the sitter taps is at least THUMB px tall."""
        small = page.evaluate("""(least) => [...document.querySelectorAll(
                'main button, main summary, main .button, main label.check, main .choices li, .menu-toggle')]
            .filter((e) => e.getClientRects().length)
            .map((e) => [e.textContent.trim().replace(/\\s+/g, ' ').slice(0, 40), e.getBoundingClientRect().height])
            .filter(([, height]) => height < least)""", THUMB)
        if small:
            self.problems.append(f"{name}: smaller than {THUMB}px to tap: {small}")


def _context(browser, size):
    context = accessible_context(browser, viewport=SIZES[size])
    page = context.new_page()
    page.set_default_timeout(10_000)
    return context, page


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_the_visit_screens_fit_and_read_well(browser, live_server, app, make, me, size):
    fern, manager, shown = _business(app, make, me)
    screens = Screens(size)
    base = live_server

    # The sitter: her day, a report refused for a line not ticked, the correction of a sent report.
    context, page = _context(browser, size)
    staff_sign_in(page, base, fern)
    expect(page.get_by_text("Closed: Team training day")).to_be_visible()
    # Finished visits are a line each after the cards: the cancelled one says so; the one done opens its card.
    cancelled = page.get_by_role("listitem").filter(has=page.locator(f"a[href='/visits/{shown['cancelled'].id}']"))
    expect(cancelled).to_contain_text("Cancelled")
    expect(page.get_by_role("listitem").filter(has=page.locator(f"a[href='/visits/{shown['done'].id}']"))
           ).to_contain_text("Completed")
    screens.thumb_sized(page, "today")
    screens.check(page, "today")

    card = page.locator(f"#visit-{shown['in_progress'].id}")
    page.goto(f"{base}/visits/{shown['in_progress'].id}")
    card.get_by_label("Poo").check()
    card.get_by_label("Notes for the client").fill("Sir Reginald had a lovely long sniff around the park.")
    card.get_by_role("button", name="Send the report and check out").click()
    expect(card.locator(".field.has-error").first).to_be_visible()
    screens.thumb_sized(page, "visit-report-errors")
    screens.check(page, "visit-report-errors")

    page.goto(f"{base}/visits/{shown['done'].id}?correct=1")
    expect(page.get_by_role("heading", name="Correct the report")).to_be_visible()
    expect(page.get_by_role("img", name="Photo 1 from the visit")).to_be_visible()
    screens.thumb_sized(page, "report-correction")
    screens.check(page, "report-correction")
    context.close()

    # The office: visit records, the board, the client's profile, the checklist, settings, the schedule's panel.
    context, page = _context(browser, size)
    staff_sign_in(page, base, manager)
    page.goto(f"{base}/visits/{shown['no_check_in'].id}")
    page.locator("summary", has_text="Mark as missed").click()
    page.get_by_role("button", name="Mark as missed").click()  # nothing said: refused beside the box
    expect(page.get_by_text("Say what happened.")).to_be_visible()
    page.get_by_text("Correct the times").click()
    # Both forms have a "reason": each label leads to its own box.
    page.get_by_label("What happened?").fill("Fern was ill; nobody went.")
    expect(page.get_by_label("Why the times change")).to_have_value("")
    screens.check(page, "visit-record")

    page.goto(f"{base}/visits/{shown['done'].id}")
    page.get_by_text("recorded changes").click()
    page.get_by_text("Correct the times").click()
    expect(page.get_by_label("Why the times change")).to_be_visible()
    screens.check(page, "visit-record-done")

    page.goto(f"{base}/board/")
    counts = page.get_by_role("list", name="Visits by state")
    for words in ("1 late", "2 missed", "1 short", "2 in progress", "2 done", "6 to come", "1 cancelled"):
        expect(counts).to_contain_text(words)
    screens.check(page, "board")

    page.goto(f"{base}/clients/{me.client.id}")
    expect(page.get_by_role("heading", name="Key holders")).to_be_visible()
    page.get_by_text("Add a key holder").click()
    screens.check(page, "client-profile")

    walk_id = shown["done"].service_id
    page.goto(f"{base}/resources/services/{walk_id}/checklist")
    page.locator("#label-3").fill("fresh water")
    page.get_by_role("button", name="Save the checklist").click()
    expect(page.get_by_text("This line is already on the card.")).to_be_visible()
    screens.check(page, "checklist")

    page.goto(f"{base}/settings/")
    expect(page.get_by_role("heading", name="Visits under way")).to_be_visible()
    screens.check(page, "settings")

    page.goto(f"{base}/schedule/visits/{shown['scheduled'].id}")
    page.get_by_text("Give this visit to another sitter").click()
    page.get_by_text("Move to another day or time").click()
    expect(page.get_by_role("button", name="Move and email")).to_be_visible()
    screens.check(page, "schedule-visit")
    context.close()

    # The client: her reports, then one of them.
    context, page = _context(browser, size)
    _client_signs_in(page, base)
    page.goto(f"{base}/portal/reports")
    expect(page.get_by_role("heading", name="Visit reports")).to_be_visible()
    screens.check(page, "portal-reports")
    page.goto(f"{base}/portal/reports/{shown['done'].id}")
    expect(page.get_by_role("img", name="Photo 3 from the visit")).to_be_visible()
    screens.check(page, "portal-report")
    context.close()

    assert screens.problems == [], "\n".join(screens.problems)
