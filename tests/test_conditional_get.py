"""Conditional GET: the tables, the schedule, the portal calendar, the sitter's day and the board answer a repeat
request with 304 Not Modified while nothing they show has changed, and never once anything has: the data, the
viewer, the query, page or fragment, a flash, the unread count, the business's details, the language, or the
CSRF token's time window."""
import re
import time
from datetime import timedelta

import pytest
from babel import Locale
from flask import g
from markupsafe import Markup

import rendering
from access import VIEWING
from app import create_app
from extensions import db
from filters import business_today
from models import BlockOut, ClientLogin, Role, Visit, VisitStatus
from services import messages
from services.settings import get_settings
from tests.conftest import HX, login_as, make_config
from tests.test_board import add_visit
from tests.test_visits import ask, decide, next_month_day, the_request


def get(browser, url: str, tag: str | None = None, headers: dict | None = None):
    return browser.get(url, headers={**(headers or {}), **({"If-None-Match": tag} if tag else {})})


def revalidated(browser, url: str, headers: dict | None = None) -> tuple[str, str]:
    """GET gives 200 with an ETag, kept by no shared cache and revalidated every time; the same GET with that
    ETag gives 304 and no body. The ETag and the first body."""
    first = get(browser, url, headers=headers)
    assert first.status_code == 200, url
    tag = first.headers["ETag"]
    assert tag.startswith('W/"') and first.headers["Cache-Control"] == "private, no-cache"
    again = get(browser, url, tag, headers)
    assert again.status_code == 304, url
    assert again.data == b"" and again.headers["ETag"] == tag and "Content-Length" not in again.headers
    assert again.headers["Cache-Control"] == "private, no-cache"
    return tag, first.get_data(as_text=True)


def fresh(browser, url: str, tag: str, headers: dict | None = None) -> str:
    """The repeat after a change: 200 with a new ETag; its body."""
    response = get(browser, url, tag, headers)
    assert response.status_code == 200, url
    assert response.headers.get("ETag") != tag  # none when it shows a flash
    return response.get_data(as_text=True)


@pytest.fixture
def office(app, manager):
    browser = app.test_client()
    login_as(browser, manager)
    return browser


@pytest.fixture
def sami(app, sitter):
    browser = app.test_client()
    login_as(browser, sitter)
    return browser


def today_visit(make, walk, sitter, client, starts=timedelta(hours=2)) -> Visit:
    return add_visit(make, walk, sitter, starts, client=client)


ROWS = {**HX, "HX-Target": "client-rows"}
# Who looks at what: every conditional page, as a page and as the fragment htmx asks for.
PAGES = [
    ("office", "/clients/", None), ("office", "/clients/?q=Reyes&sort=city", None), ("office", "/clients/?q=Reyes", ROWS),
    ("office", "/pets/", None), ("office", "/pets/?q=Rex", HX),
    ("office", "/schedule/", None), ("office", "/schedule/?view=day", HX), ("office", "/schedule/?view=month", None),
    ("office", "/board/", None), ("office", "/board/", HX),
    ("sami", "/today/", None), ("sami", "/today/", HX), ("sami", "/schedule/?view=week", None),
    ("portal", "/portal/calendar", None), ("portal", "/portal/calendar?month=2031-05", {**HX, "HX-Target": "calendar-view"}),
]


@pytest.mark.parametrize("who, url, headers", PAGES)
def test_a_repeat_of_an_unchanged_page_is_304_with_no_body(request, make, walk, rex, me, sitter, who, url, headers):
    today_visit(make, walk, sitter, me.client)
    revalidated(request.getfixturevalue(who), url, headers)


def test_the_query_string_and_page_or_fragment_each_have_their_own_tag(office, make, walk, me, rex, sitter):
    for n in range(30):
        make.client(last_name=f"Zed{n:02d}")
    today_visit(make, walk, sitter, me.client)
    pairs = [("/clients/", "/clients/?sort=city"), ("/clients/", "/clients/?q=Reyes"), ("/clients/", "/clients/?page=2"),
             ("/clients/?dir=desc", "/clients/"), ("/pets/", "/pets/?q=Rex"),
             ("/schedule/?view=week", "/schedule/?view=day"), ("/schedule/?view=month", "/schedule/?view=week"),
             (f"/schedule/?date={business_today() + timedelta(days=7)}", "/schedule/")]
    for one, other in pairs:
        tag, _ = revalidated(office, one)
        fresh(office, other, tag)
    for url, fragment in [("/clients/", ROWS), ("/schedule/", HX), ("/board/", HX), ("/pets/", HX)]:
        tag, _ = revalidated(office, url)
        fresh(office, url, tag, fragment)
        fragment_tag, _ = revalidated(office, url, fragment)
        fresh(office, url, fragment_tag)


def test_the_client_table_and_pets_change_with_a_name_or_a_pet(office, make, me, rex):
    tag, _ = revalidated(office, "/clients/")
    rows_tag, _ = revalidated(office, "/clients/", ROWS)
    pets_tag, _ = revalidated(office, "/pets/")
    me.client.last_name = "Reyes-Ortiz"
    me.client.refresh_search_text()
    db.session.commit()
    assert "Reyes-Ortiz" in fresh(office, "/clients/", tag)
    assert "Reyes-Ortiz" in fresh(office, "/clients/", rows_tag, ROWS)
    assert "Reyes-Ortiz" in fresh(office, "/pets/", pets_tag)
    pets_tag, _ = revalidated(office, "/pets/")
    make.pet(me.client, name="Biscuit")
    assert "Biscuit" in fresh(office, "/pets/", pets_tag)
    pets_tag, _ = revalidated(office, "/pets/")
    rex.breed = "Beagle"
    db.session.commit()
    assert "Beagle" in fresh(office, "/pets/", pets_tag)


def test_the_schedule_and_calendar_change_with_a_request_its_approval_and_a_cancellation(
        office, portal, sami, make, walk, rex, me, sitter):
    day = next_month_day(3)
    week, month = f"/schedule/?view=week&date={day}", f"/portal/calendar?month={day:%Y-%m}"
    staff_tag, _ = revalidated(office, week)
    client_tag, _ = revalidated(portal, month)
    assert ask(portal, walk, [rex], start=day, end=day).status_code == 303  # a new request
    assert "state-requested" in fresh(portal, month, client_tag)
    staff_page = fresh(office, week, staff_tag)
    assert "Rex" in staff_page or me.client.last_name in staff_page

    staff_tag, _ = revalidated(office, week)
    client_tag, _ = revalidated(portal, month)
    sitter_tag, _ = revalidated(sami, week)
    assert decide(office, the_request(), sitter=sitter).status_code == 303  # approved, given to Sami
    assert "state-scheduled" in fresh(portal, month, client_tag)
    fresh(office, week, staff_tag)
    assert "Dog walk" in fresh(sami, week, sitter_tag)

    [visit] = the_request().visits
    staff_tag, _ = revalidated(office, week)
    client_tag, _ = revalidated(portal, month)
    sitter_tag, _ = revalidated(sami, week)
    assert office.post(f"/schedule/visits/{visit.id}/cancel", data={"reason": "Storm"}).status_code == 303
    assert "state-cancelled" in fresh(portal, month, client_tag)
    fresh(office, week, staff_tag)
    fresh(sami, week, sitter_tag)

    staff_tag, _ = revalidated(office, week)
    make_visit = Visit(client=me.client, service=walk, sitter=sitter, day=day + timedelta(days=1),
                       starts_at=visit.starts_at + timedelta(days=1), ends_at=visit.ends_at + timedelta(days=1),
                       window="custom", price_cents=2500, status=VisitStatus.SCHEDULED, pets=[rex], notes="",
                       late_cancellation=False, cancelled_by="", reason="")
    db.session.add(make_visit)  # added by the office
    db.session.commit()
    assert f"/schedule/visits/{make_visit.id}" in fresh(office, week, staff_tag)


def test_a_calendar_day_is_rendered_once_for_the_same_visits_and_afresh_for_other_arguments_or_language(app):
    """rendering.remembered keeps a pure macro's output by its arguments (compared by value) and the locale."""
    calls = []

    def entries(visits, url, label, staff=False, key_notices=None):
        calls.append(visits)
        return Markup(f"<li>{len(calls)}</li>")

    entries.name = "entries"
    rendering._REMEMBERED.clear()
    with app.test_request_context():
        first = rendering.remembered(entries, [(1, "Rex")], "/v/", "Mon:", staff=True, key_notices={1: "no key"})
        again = rendering.remembered(entries, [(1, "Rex")], "/v/", "Mon:", staff=True, key_notices={1: "no key"})
        assert first == again and len(calls) == 1
        changed = [rendering.remembered(entries, [(1, "Max")], "/v/", "Mon:", staff=True, key_notices={1: "no key"}),
                   rendering.remembered(entries, [(1, "Rex")], "/v/", "Mon:", staff=True, key_notices={}),
                   rendering.remembered(entries, [(1, "Rex")], "/v/", "Tue:", staff=True, key_notices={1: "no key"}),
                   rendering.remembered(entries, [(1, "Rex")], "/v/", "Mon:", key_notices={1: "no key"})]
        assert len(calls) == 5 and len(set(changed + [first])) == 5
    with app.test_request_context():
        g._pawtal_locale = Locale.parse("fr_FR")  # the request's language (filters.locale)
        assert rendering.remembered(entries, [(1, "Rex")], "/v/", "Mon:", staff=True,
                                    key_notices={1: "no key"}) != first and len(calls) == 6


def test_what_remembered_keeps_is_bounded_by_its_size(app, monkeypatch):
    monkeypatch.setattr(rendering, "_REMEMBERED_CHARS", 100)
    monkeypatch.setattr(rendering, "_remembered_size", 0)
    monkeypatch.setattr(rendering, "_REMEMBERED", rendering.OrderedDict())

    def entries(n):
        return Markup("x" * 30)

    entries.name = "entries"
    with app.test_request_context():
        for n in range(10):
            rendering.remembered(entries, n)
    assert len(rendering._REMEMBERED) == 3 and rendering._remembered_size == 90  # the last three, newest kept
    assert [key[2] for key in rendering._REMEMBERED] == [(7,), (8,), (9,)]


def test_the_week_shows_a_renamed_client_and_a_cancelled_visit_at_once(office, make, walk, me, sitter):
    """The week's days are kept rendered while their visits stay the same: a change shows on the next load."""
    visit = add_visit(make, walk, sitter, timedelta(hours=2), client=me.client)
    week = f"/schedule/?view=week&date={visit.day.isoformat()}"
    assert f"{me.client.first_name} {me.client.last_name}" in office.get(week).get_data(as_text=True)
    me.client.last_name = "Reyes-Ortiz"
    db.session.commit()
    page = office.get(week).get_data(as_text=True)
    assert f"{me.client.first_name} Reyes-Ortiz" in page and "state-cancelled" not in page
    db.session.get(Visit, visit.id).status = VisitStatus.CANCELLED
    db.session.commit()
    assert "state-cancelled" in office.get(week).get_data(as_text=True)


def test_the_clients_month_shows_a_closed_day_and_a_request_at_once(portal, me, rex, walk, manager):
    """The month's grid is kept rendered while what it shows stays the same: a change shows on the next load."""
    day = next_month_day(12)
    month = f"/portal/calendar?month={day:%Y-%m}"
    assert '<p class="closed-tag">' not in portal.get(month).get_data(as_text=True)
    db.session.add(BlockOut(starts_on=day, ends_on=day, note="", created_by=manager))
    db.session.commit()
    page = portal.get(month).get_data(as_text=True)
    assert page.count('<p class="closed-tag">Closed</p>') == 1 and '<a class="visit state-requested"' not in page
    assert ask(portal, walk, [rex], start=day + timedelta(days=2), end=day + timedelta(days=2)).status_code == 303
    assert '<a class="visit state-requested"' in portal.get(month).get_data(as_text=True)


def test_the_sitters_day_and_the_board_change_with_a_check_in(office, sami, make, walk, me, rex, sitter):
    visit = today_visit(make, walk, sitter, me.client, starts=timedelta(minutes=5))
    day_tag, _ = revalidated(sami, "/today/")
    day_fragment_tag, _ = revalidated(sami, "/today/", HX)
    board_tag, _ = revalidated(office, "/board/")
    board_fragment_tag, _ = revalidated(office, "/board/", HX)
    assert sami.post(f"/visits/{visit.id}/check-in", data={}, headers=HX).status_code == 200
    db.session.expire_all()
    assert db.session.get(Visit, visit.id).checked_in_at is not None
    fresh(sami, "/today/", day_tag)
    fresh(sami, "/today/", day_fragment_tag, HX)
    fresh(office, "/board/", board_tag)
    fresh(office, "/board/", board_fragment_tag, HX)


def test_the_sitters_day_leaves_out_its_message_forms_keys_but_never_confirms_a_page_whose_key_was_used(
        sami, make, walk, me, rex, sitter):
    """The day's cards carry a random key per message form (one message for a double click), left out of its
    ETag; a message sent with the key the browser holds shows in that card, so the held page is never confirmed."""
    visit = today_visit(make, walk, sitter, me.client)
    tag, page = revalidated(sami, "/today/")
    # A thread with no messages yet holds no form on the day: opening it fetches the form, with its key.
    assert f'name="visit{visit.id}-form_key"' not in page
    opened = sami.get(f"/messages/visits/{visit.id}", headers=HX).get_data(as_text=True)
    [key] = re.findall(rf'name="visit{visit.id}-form_key" type="hidden" value="(m-[0-9a-f]{{32}})"', opened)
    for body in ("The gate sticks; I used the side door.", "Rex ate all his dinner."):
        sent = sami.post(f"/messages/visits/{visit.id}", headers=HX,
                         data={f"visit{visit.id}-body": body, f"visit{visit.id}-form_key": key})
        assert sent.status_code == 200
        again = get(sami, "/today/", tag)
        assert again.status_code == 200 and body in again.get_data(as_text=True)
        assert key not in again.get_data(as_text=True)
        tag, page = again.headers["ETag"], again.get_data(as_text=True)
        [key] = re.findall(rf'name="visit{visit.id}-form_key" type="hidden" value="(m-[0-9a-f]{{32}})"', page)
    assert get(sami, "/today/", tag).status_code == 304


def test_another_viewer_never_gets_a_304_for_someone_elses_tag(app, make, office, portal, sami, manager, me, rex,
                                                              walk, sitter):
    today_visit(make, walk, sitter, me.client)
    other_manager = app.test_client()
    login_as(other_manager, make.staff(Role.MANAGER, first_name="Marta"))  # the same first name: the same menu
    elsewhere = app.test_client()
    login_as(elsewhere, manager)  # the same account, another session
    for url in ("/clients/", "/pets/", "/schedule/", "/board/"):
        tag, _ = revalidated(office, url)
        fresh(other_manager, url, tag)
        fresh(elsewhere, url, tag)
    other_sitter = app.test_client()
    login_as(other_sitter, make.staff(Role.SITTER, first_name="Sami"))
    tag, _ = revalidated(sami, "/today/")
    fresh(other_sitter, "/today/", tag)
    twin = make.client(first_name="Nia", last_name="Reyes", email="nia.two@example.com")
    twin_login = ClientLogin(client=twin, email="nia.two@example.com", first_name="Nia", password_hash=me.password_hash)
    db.session.add(twin_login)
    db.session.commit()
    other_portal = app.test_client()
    login_as(other_portal, twin_login)
    tag, _ = revalidated(portal, "/portal/calendar")
    fresh(other_portal, "/portal/calendar", tag)
    with office.session_transaction() as session:  # a manager looking at Nia's portal, as "View portal" does
        session[VIEWING] = {"staff": manager.id, "client": me.client.id}
    fresh(office, "/portal/calendar", tag)


def test_a_flash_is_shown_once_with_a_200_never_hidden_by_a_304(office, me):
    tag, _ = revalidated(office, "/clients/")
    with office.session_transaction() as session:
        session["_flashes"] = [("success", "Saved the price list.")]
    shown = get(office, "/clients/", tag)
    assert shown.status_code == 200 and "Saved the price list." in shown.get_data(as_text=True)
    assert "ETag" not in shown.headers  # a page with a message is never the one to revalidate
    assert get(office, "/clients/", tag).status_code == 304  # the message was shown once; the table is as it was
    with office.session_transaction() as session:
        session["_flashes"] = [("success", "Saved the price list.")]
    assert "Saved the price list." in get(office, "/schedule/").get_data(as_text=True)


def test_the_menus_unread_count_and_the_business_details_change_the_tag(office, portal, me, rex):
    tag, page = revalidated(office, "/clients/")
    assert 'class="count"' not in page
    messages.write_to_business(me.client, me, "Keys", "Where do I leave the keys?")
    db.session.commit()
    assert 'class="count">1' in fresh(office, "/clients/", tag)
    tag, _ = revalidated(office, "/schedule/")
    client_tag, _ = revalidated(portal, "/portal/calendar")
    get_settings().business_name = "Happy Tails of Springfield"
    db.session.commit()
    assert "Happy Tails of Springfield" in fresh(office, "/schedule/", tag)
    assert "Happy Tails of Springfield" in fresh(portal, "/portal/calendar", client_tag)


def test_the_language_changes_the_tag(app, office, _schema, tmp_path, manager):
    tag, _ = revalidated(office, "/schedule/?view=month")
    french = create_app(make_config(_schema, tmp_path, BABEL_DEFAULT_LOCALE="fr_FR")).test_client()
    login_as(french, manager)
    with office.session_transaction() as english_session, french.session_transaction() as session:
        session.update(english_session)  # the very same session, read in French
    assert 'lang="fr-FR"' in fresh(french, "/schedule/?view=month", tag)


@pytest.fixture
def app_config(request):
    return {"WTF_CSRF_ENABLED": True, "WTF_CSRF_TIME_LIMIT": 4} if "csrf" in request.node.name else {}


def test_a_304_never_leaves_a_csrf_token_the_server_would_refuse(office, me):
    """The token lives 4 s here: a page kept by 304s past that would hold a dead token. Each repeat either brings a
    new page or keeps the held one, and the held page's token must always be accepted."""
    held = get(office, "/clients/")
    answers = []
    deadline = time.monotonic() + 9
    while time.monotonic() < deadline:
        response = get(office, "/clients/", held.headers["ETag"])
        answers.append(response.status_code)
        if response.status_code == 200:
            held = response
        token = held.get_data(as_text=True).split('"X-CSRFToken": "', 1)[1].split('"', 1)[0]
        # An invalid form, refused by its fields (422) and not by its token (400), changes nothing.
        sent = office.post("/clients/", data={"first_name": ""}, headers={"X-CSRFToken": token})
        assert sent.status_code == 422, answers
        time.sleep(0.5)
    assert answers.count(304) >= 6 and answers.count(200) >= 3, answers  # kept while fresh, renewed in time
    stale = office.post("/clients/", data={}, headers={"X-CSRFToken": "x" + token[1:]})
    assert stale.status_code == 400  # the check is on: a token it cannot read is refused
