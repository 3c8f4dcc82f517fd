"""Visits under way as a hostile user meets them: other people's ids, refused states, numbers no calendar
holds, a clock that changes, crafted checklists, two taps racing, stale corrections, and uploads meant to
break the photo pipeline. No answer is a 500; a refusal says why, changes nothing and shows no one else's data.
"""
import io
import re
import threading
from datetime import datetime, timedelta

import pytest
from PIL import Image
from werkzeug.datastructures import FileStorage
from sqlalchemy import func, select

from extensions import db
from models import ChecklistItem, ReportPhoto, Role, StaffUser, Visit, VisitReport, VisitStatus, as_utc, utcnow
from services import checkins, outbox, reports
from services.pets import store_photo
from services.settings import get_settings
from tests.conftest import HX, login_as
from tests.test_pets import png_bytes
from tests.test_checkins import (  # noqa: F401 - fixtures used by name
    NY,
    app_config,
    as_fill_in,
    book,
    events,
    fill_in,
    fresh,
    jpeg_with_gps,
    post,
    rex,
    visit,
    walk,
)


@pytest.fixture
def desk(client, manager):
    login_as(client, manager)
    return client


def text(response) -> str:
    return response.get_data(as_text=True)


def local_input(moment: datetime) -> str:
    """A moment as a datetime-local field sends it, in the business's zone."""
    return moment.astimezone(NY).strftime("%Y-%m-%dT%H:%M")


def checked_in(browser, visit: Visit) -> Visit:
    assert post(browser, f"/visits/{visit.id}/check-in").status_code == 200
    return fresh(visit)


def fresh_water(visit: Visit) -> dict:
    item = db.session.scalar(select(ChecklistItem).where(ChecklistItem.label == "Fresh water"))
    return {f"v{visit.id}-item_{item.id}": "y"}


@pytest.mark.parametrize("typed", ["9999-12-31T23:59", "0001-01-01T00:00"])
def test_a_times_correction_outside_the_calendar_is_refused_beside_the_field(app, desk, as_fill_in, visit, typed):
    checked_in(as_fill_in, visit)
    before = fresh(visit).checked_in_at
    response = post(desk, f"/visits/{visit.id}/times", {"checked_in_at": typed, "reason": "Typo"})
    assert response.status_code == 422
    assert "between the years 1901 and 2999" in text(response)
    assert fresh(visit).checked_in_at == before and events(visit, "corrected") == []


def test_a_times_correction_far_from_the_visit_is_refused(app, desk, as_fill_in, visit):
    checked_in(as_fill_in, visit)
    last_year = utcnow() - timedelta(days=365)
    response = post(desk, f"/visits/{visit.id}/times", {"checked_in_at": local_input(last_year), "reason": "Typo"})
    assert response.status_code == 422 and "Enter a check-in between" in text(response)
    last_month = book(visit.client, visit.service, visit.sitter, visit.pets, starts_in=timedelta(days=-30))
    response = post(desk, f"/visits/{last_month.id}/times", {
        "checked_in_at": local_input(as_utc(last_month.starts_at)), "checked_out_at": local_input(utcnow() - timedelta(hours=1)),
        "reason": "Forgot to tap"})
    assert response.status_code == 422 and "Enter a check-out by" in text(response)
    assert events(visit, "corrected") == [] and events(last_month, "corrected") == []


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "page"])
def test_missed_and_times_refused_for_the_visits_state_say_why_with_409(app, desk, visit, me, walk, rex, htmx):
    cancelled = book(me.client, walk, visit.sitter, [rex], starts_in=timedelta(hours=-3))
    cancelled.status, cancelled.reason = VisitStatus.CANCELLED, "Client away"
    db.session.commit()
    missed = post(desk, f"/visits/{cancelled.id}/missed", {"reason": "Nobody came"}, htmx=htmx)
    assert missed.status_code == 409 and "Only a scheduled visit nobody checked in to" in text(missed)
    times = post(desk, f"/visits/{cancelled.id}/times",
                 {"checked_in_at": local_input(utcnow() - timedelta(hours=3)), "reason": "Forgot"}, htmx=htmx)
    assert times.status_code == 409 and "it has no times to correct" in text(times)
    ahead = post(desk, f"/visits/{visit.id}/missed", {"reason": "Sitter ill"}, htmx=htmx)  # starts in 10 minutes
    assert ahead.status_code == 409 and "has not started yet: cancel it instead" in text(ahead)
    assert fresh(visit).status == VisitStatus.SCHEDULED and fresh(cancelled).status == VisitStatus.CANCELLED
    assert events(visit) == [] and events(cancelled) == []


def move(browser, visit: Visit, day: str, start: str, end: str, action: str = "send"):
    return post(browser, f"/schedule/visits/{visit.id}/move", {"move-day": day, "move-window": "custom",
                                                                 "move-start_time": start, "move-end_time": end,
                                                                 "action": action})


def a_later_visit(visit: Visit) -> Visit:
    """The fixture's visit, two days on: scheduled, not started, so a manager may still move it."""
    visit.starts_at += timedelta(days=2)
    visit.ends_at += timedelta(days=2)
    visit.day += timedelta(days=2)
    db.session.commit()
    return visit


def test_a_move_to_a_day_no_calendar_holds_is_refused_not_a_500(app, desk, visit):
    visit = a_later_visit(visit)
    before = (visit.day, visit.starts_at)
    assert move(desk, visit, "9999-12-31", "20:00", "21:00", action="check").status_code == 200
    refused = move(desk, visit, "9999-12-31", "20:00", "21:00")
    assert refused.status_code == 422 and "between the years 1901 and 2999" in text(refused)
    assert (fresh(visit).day, fresh(visit).starts_at) == before and events(visit) == []


def test_requests_and_new_visits_for_a_day_no_calendar_holds_are_refused(app, desk, portal, me, walk, rex):
    asked = {"services": str(walk.id), "pets": str(rex.id), "mode": "range", "start": "9999-12-31",
             "end": "9999-12-31", "window": "evening"}
    refused = portal.post("/portal/requests/new", data=asked)
    assert refused.status_code == 422 and "between the years 1901 and 2999" in text(refused)
    added = desk.post(f"/schedule/new?client={me.client_id}", data={**asked, "client": str(me.client_id),
                                                                    "sitter_id": "0"})
    assert added.status_code == 422 and "between the years 1901 and 2999" in text(added)
    assert db.session.scalar(select(func.count(Visit.id))) == 0


def test_a_move_into_the_hour_the_clocks_skip_is_refused(app, desk, visit):
    """2:30 AM does not exist on the night the clocks go forward: 2:30–3:15 would end before it starts."""
    visit = a_later_visit(visit)
    before = (fresh(visit).starts_at, fresh(visit).ends_at)
    refused = move(desk, visit, "2027-03-14", "02:30", "03:15")
    assert refused.status_code == 422 and "the clocks change" in text(refused)
    assert (fresh(visit).starts_at, fresh(visit).ends_at) == before and events(visit) == []


def active_lines(service) -> list[tuple[str, bool]]:
    db.session.expire_all()
    return [(i.label, i.required) for i in db.session.scalars(
        select(ChecklistItem).where(ChecklistItem.service_id == service.id, ChecklistItem.active.is_(True))
        .order_by(ChecklistItem.position))]


@pytest.mark.parametrize("rows", [None, "", "abc", "-1", "²", "1e3", "99999999999999999999"])
def test_a_checklist_post_without_a_readable_row_count_is_refused_and_retires_nothing(app, desk, walk, rows):
    before = active_lines(walk)
    data = {"label-0": "Walk"} if rows is None else {"rows": rows, "label-0": "Walk"}
    response = post(desk, f"/resources/services/{walk.id}/checklist", data)
    assert response.status_code == 400
    assert active_lines(walk) == before == [("Fresh water", True), ("Poo", False)]


def test_a_checklist_of_thousands_of_lines_is_refused_whole(app, desk, walk):
    data = {"rows": "250", **{f"label-{i}": f"Line {i}" for i in range(250)}}
    refused = post(desk, f"/resources/services/{walk.id}/checklist", data)
    assert refused.status_code == 422 and "at most 200 lines" in text(refused)
    assert active_lines(walk) == [("Fresh water", True), ("Poo", False)]
    thousands = post(desk, f"/resources/services/{walk.id}/checklist",
                     {"rows": "5000", **{f"label-{i}": f"Line {i}" for i in range(5000)}})
    assert thousands.status_code == 400 and active_lines(walk) == [("Fresh water", True), ("Poo", False)]


def test_one_item_id_sent_twice_keeps_both_lines(app, desk, walk):
    water = db.session.scalar(select(ChecklistItem).where(ChecklistItem.label == "Fresh water"))
    saved = post(desk, f"/resources/services/{walk.id}/checklist",
                 {"rows": "2", "id-0": str(water.id), "label-0": "Fresh water", "required-0": "y",
                  "id-1": str(water.id), "label-1": "Walk"})
    assert saved.status_code == 200
    assert active_lines(walk) == [("Fresh water", True), ("Walk", False)]


def test_checklist_labels_are_shown_as_text(app, desk, as_fill_in, visit, walk):
    label = "<script>alert(1)</script>"
    post(desk, f"/resources/services/{walk.id}/checklist", {"rows": "1", "label-0": label})
    assert label not in text(desk.get(f"/resources/services/{walk.id}/checklist"))
    checked_in(as_fill_in, visit)
    card = text(as_fill_in.get(f"/visits/{visit.id}"))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in card and label not in card


def race(app, visit: Visit, work, runners: int = 2) -> list[str]:
    """`work(visit, staff)` run by several requests at once, each in its own session, as two phones would."""
    visit_id, sitter_id = visit.id, visit.sitter_id
    barrier = threading.Barrier(runners)
    outcomes = []

    def attempt():
        with app.app_context():
            try:
                staff = db.session.get(StaffUser, sitter_id)
                mine = checkins.load_visit_for_work(visit_id, staff)
                barrier.wait()
                work(mine, staff)
                db.session.commit()
                outcomes.append("won")
            except checkins.NotNow:
                db.session.rollback()
                outcomes.append("refused")
            except Exception as error:  # noqa: BLE001 - any other exception is the finding (a 500)
                db.session.rollback()
                outcomes.append(type(error).__name__)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=attempt) for _ in range(runners)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return sorted(outcomes)


def test_a_report_sent_from_two_tabs_at_once_is_sent_once(app, as_fill_in, visit):
    checked_in(as_fill_in, visit)
    water = db.session.scalar(select(ChecklistItem.id).where(ChecklistItem.label == "Fresh water"))
    outcomes = race(app, visit, lambda mine, staff: reports.send_report(mine, staff, {water}, "Sent twice", ""))
    assert outcomes == ["refused", "won"]
    db.session.expire_all()
    assert db.session.scalar(select(func.count(VisitReport.id))) == 1


def test_two_corrections_at_once_make_one_version(app, as_fill_in, visit):
    checked_in(as_fill_in, visit)
    post(as_fill_in, f"/visits/{visit.id}/report", fresh_water(visit))
    outcomes = race(app, visit, lambda mine, staff: reports.correct_report(mine, staff, {0}, "Again", "", "Typo"))
    assert outcomes == ["refused", "won"]
    db.session.expire_all()
    assert db.session.scalars(select(VisitReport.version).order_by(VisitReport.version)).all() == [1, 2]


def test_a_correction_of_a_version_already_corrected_is_refused(app, as_fill_in, visit, desk):
    checked_in(as_fill_in, visit)
    prefix = f"v{visit.id}-"
    post(as_fill_in, f"/visits/{visit.id}/report", {**fresh_water(visit), prefix + "notes": "Rex ate well"})
    form = text(as_fill_in.get(f"/visits/{visit.id}?correct=1"))
    assert re.search(r'name="version" value="1"', form)  # the sitter opens the correction of version 1
    by_manager = post(desk, f"/visits/{visit.id}/report", {"correct": "1", "version": "1", f"{prefix}item_0": "y",
                                                           prefix + "notes": "Rex ate half",
                                                           prefix + "reason": "The bowl was half full"})
    assert by_manager.status_code == 200
    stale = post(as_fill_in, f"/visits/{visit.id}/report", {"correct": "1", "version": "1", f"{prefix}item_0": "y",
                                                            prefix + "notes": "Rex ate it all",
                                                            prefix + "reason": "Typo"})
    assert stale.status_code == 409 and "corrected a moment ago" in text(stale)
    assert "Rex ate half" in text(stale)  # the card as it is now
    db.session.expire_all()
    assert db.session.scalars(select(VisitReport.notes).order_by(VisitReport.version)).all() == [
        "Rex ate well", "Rex ate half"]


def test_a_visit_from_days_ago_cannot_be_checked_in_to_now(app, as_fill_in, visit, me, walk, rex):
    """Checking in today to last week's visit would make it look done: a manager records or marks it missed."""
    old = book(me.client, walk, visit.sitter, [rex], starts_in=timedelta(days=-3))
    refused = post(as_fill_in, f"/visits/{old.id}/check-in")
    assert refused.status_code == 409 and "can no longer be checked in to" in text(refused)
    assert fresh(old).status == VisitStatus.SCHEDULED and fresh(old).checked_in_at is None and events(old) == []
    late = book(me.client, walk, visit.sitter, [rex], starts_in=timedelta(minutes=-50))  # over 20 minutes ago
    assert post(as_fill_in, f"/visits/{late.id}/check-in").status_code == 200  # she is late, not a day late
    assert fresh(late).status == VisitStatus.IN_PROGRESS


def add_photo(browser, visit: Visit, data: bytes, name: str = "IMG_0001.jpg"):
    return browser.post(f"/visits/{visit.id}/photos", headers=HX, content_type="multipart/form-data",
                        data={f"v{visit.id}-photo": (io.BytesIO(data), name)})


def test_emailed_photo_links_answer_404_once_clients_no_longer_see_reports(app, as_fill_in, visit, inbox):
    checked_in(as_fill_in, visit)
    assert add_photo(as_fill_in, visit, jpeg_with_gps()).status_code == 200
    post(as_fill_in, f"/visits/{visit.id}/report", fresh_water(visit))
    outbox.deliver_all()
    [mail] = inbox.to("nia@example.com")
    link = re.search(r'<img src="https?://[^/]+(/visits/emailed/[^"]+\.jpg)"', inbox.html(mail)).group(1)
    anonymous = app.test_client()
    assert anonymous.get(link).status_code == 200
    get_settings().portal_visit_reports = False
    db.session.commit()
    assert anonymous.get(link).status_code == 404


def mpo_with_gps() -> bytes:
    """A phone's JPEG with a second image inside (Ultra HDR gain map, portrait depth): Pillow reads it as MPO."""
    main, extra = Image.new("RGB", (800, 600), (200, 120, 40)), Image.new("RGB", (400, 300), (0, 0, 0))
    exif = Image.Exif()
    exif[0x0110] = "PhoneCam 12"
    exif[0x8825] = {1: "N", 2: (42.0, 21.0, 36.0), 3: "W", 4: (71.0, 3.0, 0.0)}
    out = io.BytesIO()
    main.save(out, "MPO", save_all=True, append_images=[extra], exif=exif)
    data = out.getvalue()
    assert Image.open(io.BytesIO(data)).format == "MPO"
    return data


def test_a_phone_jpeg_with_a_second_image_inside_is_taken_without_its_exif(app, as_fill_in, visit):
    checked_in(as_fill_in, visit)
    added = add_photo(as_fill_in, visit, mpo_with_gps())
    assert added.status_code == 200, text(added)[:300]
    photo = db.session.scalar(select(ReportPhoto))
    kept = open(reports.photo_path(photo), "rb").read()
    image = Image.open(io.BytesIO(kept))
    assert image.format == "JPEG" and image.size == (800, 600) and not image.getexif() and b"PhoneCam" not in kept


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims huge dimensions: a decompression bomb, refused from its header before decoding."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (10, 10), colour) for colour in ((255, 0, 0), (0, 255, 0))]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:])
    return out.getvalue()


@pytest.mark.parametrize("data, name, said", [
    (b"", "empty.jpg", "The photo is empty"),
    (b"just some words", "notes.jpg", "could not be read"),
    (png_header(100_000, 100_000), "bomb.png", "too many pixels"),
    (animated_gif(), "dance.gif", "Take or choose a JPEG, PNG or WebP photo"),
])
def test_uploads_that_are_no_photo_are_refused_beside_the_field_and_leave_no_file(app, as_fill_in, visit, data, name,
                                                                                  said):
    checked_in(as_fill_in, visit)
    refused = add_photo(as_fill_in, visit, data, name)
    assert refused.status_code == 422 and said in text(refused)
    assert db.session.scalar(select(func.count(ReportPhoto.id))) == 0
    folder = app.config["UPLOAD_FOLDER"] + "/visit-photos"
    import os
    assert not os.path.isdir(folder) or os.listdir(folder) == []


def test_the_photo_limits_answer_with_a_message(app, as_fill_in, visit):
    app.config.update(VISIT_PHOTOS_PER_VISIT=1, VISIT_PHOTO_MAX_BYTES=20_000)
    checked_in(as_fill_in, visit)
    small = io.BytesIO()
    Image.new("RGB", (40, 30)).save(small, "JPEG")
    big = io.BytesIO()
    Image.effect_noise((400, 400), 100).convert("RGB").save(big, "PNG")
    too_big = add_photo(as_fill_in, visit, big.getvalue(), "big.png")
    assert too_big.status_code == 422 and "The photo is larger than" in text(too_big)
    assert add_photo(as_fill_in, visit, small.getvalue()).status_code == 200
    over = add_photo(as_fill_in, visit, small.getvalue())
    assert over.status_code == 422 and "A visit keeps at most 1 photos" in text(over)
    app.config["MAX_CONTENT_LENGTH"] = 10_000  # the whole request, before any view reads it
    refused = add_photo(as_fill_in, visit, big.getvalue(), "big.png")
    assert refused.status_code == 413 and "File too large" in text(refused)
    assert refused.headers["HX-Retarget"] == "#flashes"
    assert db.session.scalar(select(func.count(ReportPhoto.id))) == 1


def test_no_link_or_image_on_a_fill_in_sitters_pages_fails_for_her_cancelled_or_missed_visits(app, as_fill_in, fill_in, make,
                                                                                     walk):
    home = make.client(first_name="Cora", last_name="Lane")
    kit = make.pet(home, name="Kit")
    kit.photo = store_photo(home, FileStorage(io.BytesIO(png_bytes()), "kit.png"))
    cancelled = book(home, walk, fill_in, [kit], starts_in=timedelta(minutes=30))
    cancelled.status, cancelled.reason = VisitStatus.CANCELLED, "Away after all"
    elsewhere = make.client(first_name="Mo", last_name="Reed")
    missed = book(elsewhere, walk, fill_in, [make.pet(elsewhere, name="Bo")], starts_in=timedelta(minutes=-90))
    missed.status = VisitStatus.MISSED
    db.session.commit()
    pages = ["/today/", f"/schedule/?view=day&date={fresh(missed).day.isoformat()}",
             f"/schedule/?view=day&date={fresh(cancelled).day.isoformat()}",
             f"/schedule/visits/{cancelled.id}", f"/schedule/visits/{missed.id}", f"/visits/{cancelled.id}",
             f"/visits/{missed.id}"]
    broken = {}
    for page in pages:
        body = text(as_fill_in.get(page))
        assert "Cora Lane" in body or "Mo Reed" in body or page.startswith("/schedule/?"), page
        for href in set(re.findall(r'(?:href|src)="(/(?:clients|pets|visits|schedule)/[^"]*)"', body)):
            status = as_fill_in.get(href.replace("&amp;", "&")).status_code
            if status != 200:
                broken[f"{page} -> {href}"] = status
    assert broken == {}
    # A cancelled visit still reads as such: a line on her day, its card (a tap away) with the reason.
    line = re.search(rf'<li class="state-cancelled"><a href="/visits/{cancelled.id}">.*?</li>', text(as_fill_in.get("/today/")))
    assert line and "Cora Lane" in line[0] and "Cancelled" in line[0]
    assert "Away after all" in text(as_fill_in.get(f"/visits/{cancelled.id}"))


AREAS_OF_ISSUE_15 = ("visits.", "today.", "board.", "schedule.reassign_visit", "schedule.move_visit",
                     "clients.add_key_holder", "clients.remove_key_holder", "clients.set_lockbox_code",
                     "resources.save_checklist", "settings.update")


def test_every_post_of_visits_under_way_needs_its_csrf_token(app, client, manager, visit, me, walk):
    app.config["WTF_CSRF_ENABLED"] = True
    login_as(client, manager)
    values = {"visit_id": visit.id, "client_id": me.client_id, "staff_id": visit.sitter_id, "report_photo_id": 1,
              "item_id": walk.id}
    tried = []
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods or not rule.endpoint.startswith(AREAS_OF_ISSUE_15):
            continue
        url = rule.build({k: values[k] for k in rule.arguments}, append_unknown=False)[1]
        for headers in ({}, HX):
            response = client.post(url, data={"reason": "x", "rows": "0", "lockbox_code": "1"}, headers=headers)
            assert response.status_code == 400, (url, headers)
        tried.append(rule.endpoint)
    assert len(tried) >= 15 and "visits.check_in" in tried and "schedule.move_visit" in tried
    db.session.expire_all()
    assert events(visit) == [] and fresh(visit).status == VisitStatus.SCHEDULED and not me.client.lockbox_code
    sitter = app.test_client()
    login_as(sitter, visit.sitter)
    token = re.search(r'"X-CSRFToken": "([^"]+)"', text(sitter.get("/today/"))).group(1)
    assert sitter.post(f"/visits/{visit.id}/check-in", headers={**HX, "X-CSRFToken": token}).status_code == 200


def test_another_sitters_visit_and_photos_answer_404_and_staff_routes_refuse_the_others(app, as_fill_in, visit, me,
                                                                                        walk, rex, make, portal):
    gus = make.staff(Role.SITTER, first_name="Gus")
    theirs = book(me.client, walk, gus, [rex])
    their_phone = app.test_client()
    login_as(their_phone, gus)
    checked_in(their_phone, theirs)
    assert add_photo(their_phone, theirs, jpeg_with_gps()).status_code == 200
    photo = db.session.scalar(select(ReportPhoto))
    for url in (f"/visits/{theirs.id}", f"/visits/{theirs.id}?correct=1", f"/visits/photos/{photo.id}",
                f"/visits/photos/{photo.id}?thumb=1"):
        assert as_fill_in.get(url).status_code == 404, url
    for action in ("check-in", "check-out", "undo", "code", "report", "photos", f"photos/{photo.id}/delete"):
        assert post(as_fill_in, f"/visits/{theirs.id}/{action}").status_code == 404, action
    assert post(as_fill_in, f"/visits/{visit.id}/photos/{photo.id}/delete").status_code == 404  # her visit, his photo
    for url in (f"/visits/{visit.id}/times", f"/visits/{visit.id}/missed", f"/clients/{me.client_id}/keys",
                f"/clients/{me.client_id}/keys/{gus.id}/delete", f"/clients/{me.client_id}/lockbox",
                f"/schedule/visits/{visit.id}/reassign", f"/schedule/visits/{visit.id}/move",
                f"/resources/services/{walk.id}/checklist", "/settings/"):
        assert post(as_fill_in, url, {"reason": "x", "action": "check"}).status_code == 403, url
    assert as_fill_in.get("/board/").status_code == 403
    for url in ("/today/", "/board/", f"/visits/{visit.id}", f"/visits/photos/{photo.id}"):
        assert portal.get(url).status_code == 403, url
    assert post(portal, f"/visits/{visit.id}/check-in").status_code == 403
    assert portal.get(f"/portal/reports/photos/{photo.id}").status_code == 404  # not sent yet
    db.session.expire_all()
    assert db.session.get(ReportPhoto, photo.id) is not None and fresh(theirs).status == VisitStatus.IN_PROGRESS
    assert fresh(visit).status == VisitStatus.SCHEDULED and events(visit) == []


@pytest.mark.parametrize("status", [VisitStatus.REQUESTED, VisitStatus.DECLINED, VisitStatus.CANCELLED])
def test_a_visit_that_will_not_happen_takes_no_tap_photo_report_or_code(app, as_fill_in, visit, status):
    visit.status = status
    visit.client.lockbox_code = "4711"
    db.session.commit()
    for action in ("check-in", "check-out", "undo", "code", "report"):
        refused = post(as_fill_in, f"/visits/{visit.id}/{action}")
        assert refused.status_code == 409 and "4711" not in text(refused), action
    assert add_photo(as_fill_in, visit, jpeg_with_gps()).status_code == 409
    assert events(visit) == [] and fresh(visit).status == status
    assert db.session.scalar(select(func.count(ReportPhoto.id))) == 0


def test_a_sent_report_takes_no_undo_and_a_scheduled_visit_no_report(app, as_fill_in, visit):
    assert post(as_fill_in, f"/visits/{visit.id}/report", fresh_water(visit)).status_code == 409  # not checked in
    assert db.session.scalar(select(func.count(VisitReport.id))) == 0
    checked_in(as_fill_in, visit)
    post(as_fill_in, f"/visits/{visit.id}/report", fresh_water(visit))
    undo = post(as_fill_in, f"/visits/{visit.id}/undo")
    assert undo.status_code == 409 and "The report is sent" in text(undo)
    assert fresh(visit).status == VisitStatus.COMPLETED
    again = post(as_fill_in, f"/visits/{visit.id}/report", fresh_water(visit))
    assert again.status_code == 409 and db.session.scalar(select(func.count(VisitReport.id))) == 1


SCRIPT = "<script>alert(1)</script>"


def test_what_people_type_is_shown_as_text_on_the_board_today_the_card_the_portal_and_emails(
        app, desk, as_fill_in, visit, me, rex, walk, portal, inbox):
    me.client.first_name, me.client.key_notes, me.client.lockbox_code = SCRIPT, SCRIPT, SCRIPT[:40]
    rex.name = SCRIPT
    db.session.add(ChecklistItem(service_id=walk.id, label=SCRIPT, required=False, position=2))
    db.session.commit()
    prefix = f"v{visit.id}-"
    shown = {"today": text(as_fill_in.get("/today/")), "code": text(post(as_fill_in, f"/visits/{visit.id}/code"))}
    checked_in(as_fill_in, visit)
    post(as_fill_in, f"/visits/{visit.id}/report", {**fresh_water(visit), prefix + "notes": SCRIPT})
    post(as_fill_in, f"/visits/{visit.id}/report", {"correct": "1", f"{prefix}item_0": "y", prefix + "notes": SCRIPT,
                                                    prefix + "reason": SCRIPT})
    earlier = book(me.client, walk, visit.sitter, [rex], starts_in=timedelta(hours=-3))
    post(desk, f"/visits/{earlier.id}/missed", {"reason": SCRIPT})
    shown.update(board=text(desk.get("/board/")), record=text(desk.get(f"/visits/{visit.id}")),
                 missed=text(desk.get(f"/visits/{earlier.id}")), profile=text(desk.get(f"/clients/{me.client_id}")),
                 panel=text(desk.get(f"/schedule/visits/{visit.id}")),
                 portal=text(portal.get(f"/portal/reports/{visit.id}")), reports=text(portal.get("/portal/reports")))
    outbox.deliver_all()
    shown.update({f"email {i}": inbox.html(mail) for i, mail in enumerate(inbox.to("nia@example.com"))})
    assert len(shown) == 11
    for where, body in shown.items():
        assert SCRIPT not in body and "&lt;script&gt;" in body, where


def test_a_check_in_racing_a_reassignment_does_not_check_in_the_old_sitter(app, visit, make, manager):
    """The sitter's phone loaded the visit a moment before a manager gave it to Gus: her tap must not land."""
    from services import visits

    fern = db.session.get(StaffUser, visit.sitter_id)
    on_her_phone = checkins.load_visit_for_work(visit.id, fern)
    gus = make.staff(Role.SITTER, first_name="Gus")
    with app.app_context():  # the manager's request, in its own session
        other = db.session.get(Visit, visit.id)
        visits.reassign_visit(other, db.session.get(StaffUser, gus.id), db.session.get(StaffUser, manager.id))
        db.session.commit()
        db.session.remove()
    with pytest.raises(checkins.NotNow):
        checkins.check_in(on_her_phone, fern, None)
    db.session.rollback()
    assert fresh(visit).status == VisitStatus.SCHEDULED and fresh(visit).sitter_id == gus.id
    assert events(visit, "check_in") == []


def test_a_check_in_racing_a_move_does_not_check_in_to_the_new_day(app, visit, manager):
    """The sitter's phone loaded the visit a moment before a manager moved it to next week."""
    from datetime import time

    from services import visits

    fern = db.session.get(StaffUser, visit.sitter_id)
    on_her_phone = checkins.load_visit_for_work(visit.id, fern)
    next_week = visit.day + timedelta(days=7)
    with app.app_context():  # the manager's request, in its own session
        other = db.session.get(Visit, visit.id)
        visits.move_visit(other, next_week, "custom", time(10), time(11), db.session.get(StaffUser, manager.id))
        db.session.commit()
        db.session.remove()
    with pytest.raises(checkins.NotNow):
        checkins.check_in(on_her_phone, fern, None)
    db.session.rollback()
    assert fresh(visit).status == VisitStatus.SCHEDULED and fresh(visit).day == next_week
    assert events(visit, "check_in") == []


def test_a_jpeg_comment_is_not_kept_either(app, as_fill_in, visit):
    """Pillow writes a JPEG's comment (COM) again unless told not to; apps put places and names there too."""
    original = io.BytesIO()
    Image.new("RGB", (300, 200), (10, 120, 60)).save(original, "JPEG", comment=b"Home: 42.3601 N, 71.0589 W")
    checked_in(as_fill_in, visit)
    assert add_photo(as_fill_in, visit, original.getvalue()).status_code == 200
    photo = db.session.scalar(select(ReportPhoto))
    for thumb in (False, True):
        kept = open(reports.photo_path(photo, thumb), "rb").read()
        assert b"42.3601" not in kept and "comment" not in Image.open(io.BytesIO(kept)).info


@pytest.mark.parametrize("where", [
    {"latitude": "NaN", "longitude": "-71.06"}, {"latitude": "Infinity", "longitude": "-Infinity"},
    {"latitude": "1e400", "longitude": "0"}, {"latitude": "-90.0001", "longitude": "10"},
    {"latitude": "42", "longitude": "180.5"}, {"latitude": "42", "longitude": ""}, {"latitude": "x" * 5000},
    {"latitude": "42.36", "longitude": "-71.06", "accuracy": "-5"},
    {"latitude": "42.36", "longitude": "-71.06", "accuracy": "NaN"},
])
def test_a_position_that_is_no_place_on_earth_is_not_kept_and_required_refuses_it(app, as_fill_in, visit, where):
    post(as_fill_in, f"/visits/{visit.id}/check-in", where)
    tapped = fresh(visit)
    assert tapped.status == VisitStatus.IN_PROGRESS and tapped.check_in_accuracy is None
    kept = tapped.check_in_latitude is not None
    assert not kept or (tapped.check_in_latitude, tapped.check_in_longitude) == (42.36, -71.06)
    post(as_fill_in, f"/visits/{visit.id}/undo")
    get_settings().location_mode = "required"
    db.session.commit()
    if not kept:
        refused = post(as_fill_in, f"/visits/{visit.id}/check-in", where)
        assert refused.status_code == 422 and "Allow this page to use your location" in text(refused)
        assert fresh(visit).status == VisitStatus.SCHEDULED


@pytest.mark.parametrize("field, value, said", [
    ("mood", "ecstatic", "Not a valid choice"),
    ("notes", "x" * 20_000, "Field cannot be longer than"),
])
def test_a_report_with_an_unknown_mood_or_endless_notes_is_refused_and_nothing_is_sent(app, as_fill_in, visit, inbox,
                                                                                     field, value, said):
    checked_in(as_fill_in, visit)
    refused = post(as_fill_in, f"/visits/{visit.id}/report", {**fresh_water(visit), f"v{visit.id}-{field}": value})
    assert refused.status_code == 422 and said in text(refused)
    assert db.session.scalar(select(func.count(VisitReport.id))) == 0 and fresh(visit).status == VisitStatus.IN_PROGRESS


def test_long_reasons_codes_and_key_notes_are_refused_beside_their_field(app, desk, visit, me, manager):
    earlier = book(me.client, visit.service, visit.sitter, visit.pets, starts_in=timedelta(hours=-3))
    missed = post(desk, f"/visits/{earlier.id}/missed", {"reason": "x" * 2001})
    assert missed.status_code == 422 and fresh(earlier).status == VisitStatus.SCHEDULED
    code = post(desk, f"/clients/{me.client_id}/lockbox", {"lockbox_code": "1" * 41})
    assert code.status_code == 422 and "40 characters" in text(code)
    holder = post(desk, f"/clients/{me.client_id}/keys", {"key-staff_id": str(manager.id), "key-has_key": "y",
                                                          "key-notes": "x" * 201})
    assert holder.status_code == 422
    db.session.expire_all()
    assert me.client.lockbox_code == "" and me.client.key_holders == [] and events(earlier) == []
