"""Keys: key holders on the client profile, the lockbox code kept from sitters there and shown to the
assigned sitter on the day of her visit only (each showing logged), and key notices."""
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from extensions import db
from filters import business_today
from models import KeyHolder, Role, Visit, VisitEvent, VisitStatus
from services import keys, visits
from services.errors import DomainError
from services.settings import get_settings
from tests.conftest import HX, login_as

CODE = "4-7-1-9"


@pytest.fixture
def smiths(make, sitter):
    """A household that uses keys, with a lockbox; Sami (the sitter) is their primary sitter."""
    return make.client(first_name="Jane", last_name="Smith", uses_keys=True, key_notes="Lockbox by the back door",
                       lockbox_code=CODE, primary_sitter_id=sitter.id)


@pytest.fixture
def mia(make):
    return make.staff(Role.SITTER, first_name="Mia", last_name="Lopez")


@pytest.fixture
def walk(make):
    return make.service(name="Dog walk")


def a_visit(make, client, service, sitter, day=None, status=VisitStatus.SCHEDULED, starts_in=timedelta(hours=1)) -> Visit:
    day = day or business_today()
    start = datetime.now(timezone.utc).replace(microsecond=0) + starts_in
    visit = Visit(client=client, service=service, sitter=sitter, day=day, starts_at=start,
                  ends_at=start + timedelta(hours=1), window="custom", price_cents=2500, status=status,
                  pets=[make.pet(client)], notes="", late_cancellation=False, cancelled_by="", reason="")
    db.session.add(visit)
    db.session.commit()
    return visit


def holders(client) -> list[tuple]:
    db.session.expire_all()
    return [(h.staff_id, h.has_key, h.knows_code, h.notes)
            for h in db.session.scalars(select(KeyHolder).where(KeyHolder.client_id == client.id))]


def test_a_manager_adds_changes_and_removes_key_holders(app, as_manager, smiths, mia, sitter):
    page = as_manager.get(f"/clients/{smiths.id}").get_data(as_text=True)
    assert "Key holders" in page and "Nobody holds a key or knows the code yet." in page
    response = as_manager.post(f"/clients/{smiths.id}/keys", data={"key-staff_id": str(mia.id), "key-has_key": "y",
                                                                    "key-notes": "Blue ring"})
    assert response.status_code == 303
    assert holders(smiths) == [(mia.id, True, False, "Blue ring")]
    # With htmx the section comes back with its message; the same person again changes what she holds.
    fragment = as_manager.post(f"/clients/{smiths.id}/keys", headers=HX,
                               data={"key-staff_id": str(mia.id), "key-knows_code": "y"})
    body = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in body and 'id="keys"' in body
    assert "Mia Lopez is on the list of key holders." in body and "knows the code" in body
    assert holders(smiths) == [(mia.id, False, True, "")]
    as_manager.post(f"/clients/{smiths.id}/keys", data={"key-staff_id": str(sitter.id), "key-has_key": "y"})
    assert len(holders(smiths)) == 2
    removed = as_manager.post(f"/clients/{smiths.id}/keys/{mia.id}/delete", headers=HX)
    assert "Mia Lopez no longer holds a key." in removed.get_data(as_text=True)
    assert holders(smiths) == [(sitter.id, True, False, "")]
    again = as_manager.post(f"/clients/{smiths.id}/keys/{mia.id}/delete", headers=HX)
    assert again.status_code == 409 and "holds no key for Jane Smith" in again.get_data(as_text=True)


def test_a_key_holder_needs_someone_and_something_held(app, as_manager, smiths, mia, make):
    nothing = as_manager.post(f"/clients/{smiths.id}/keys", headers=HX, data={"key-staff_id": str(mia.id)})
    body = nothing.get_data(as_text=True)
    assert nothing.status_code == 422 and "Tick what they hold" in body and 'id="keys"' in body
    nobody = as_manager.post(f"/clients/{smiths.id}/keys", data={"key-staff_id": "", "key-has_key": "y"})
    assert nobody.status_code == 422 and "Choose a team member." in nobody.get_data(as_text=True)
    smiths.blocked_sitters = [mia]
    db.session.commit()
    blocked = as_manager.post(f"/clients/{smiths.id}/keys", data={"key-staff_id": str(mia.id), "key-has_key": "y"})
    assert blocked.status_code == 422 and holders(smiths) == []


def test_the_lockbox_code_is_the_managers_to_see_and_set(app, as_manager, smiths):
    page = as_manager.get(f"/clients/{smiths.id}").get_data(as_text=True)
    assert f'value="{CODE}"' in page and "Lockbox code" in page
    saved = as_manager.post(f"/clients/{smiths.id}/lockbox", headers=HX, data={"lockbox_code": " 2468 "})
    assert saved.status_code == 200 and "Lockbox code saved." in saved.get_data(as_text=True)
    db.session.expire_all()
    assert smiths.lockbox_code == "2468"
    too_long = as_manager.post(f"/clients/{smiths.id}/lockbox", data={"lockbox_code": "9" * 41})
    assert too_long.status_code == 422
    as_manager.post(f"/clients/{smiths.id}/lockbox", data={"lockbox_code": ""})
    db.session.expire_all()
    assert smiths.lockbox_code == ""


def test_sitters_see_who_holds_keys_but_never_the_code_and_cannot_change_them(app, client, smiths, sitter, mia):
    db.session.add(KeyHolder(client=smiths, staff=mia, has_key=True, knows_code=False, notes="Blue ring"))
    db.session.commit()
    login_as(client, sitter)
    page = client.get(f"/clients/{smiths.id}")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "Key holders" in body and "Mia Lopez" in body and "Blue ring" in body
    assert CODE not in body and "Lockbox code" not in body and "Add a key holder" not in body
    assert CODE not in client.get(f"/clients/{smiths.id}", headers={**HX, "HX-Target": "desk"}).get_data(as_text=True)
    for url, data in ((f"/clients/{smiths.id}/keys", {"key-staff_id": str(sitter.id), "key-has_key": "y"}),
                      (f"/clients/{smiths.id}/keys/{mia.id}/delete", {}),
                      (f"/clients/{smiths.id}/lockbox", {"lockbox_code": "0000"})):
        assert client.post(url, data=data).status_code == 403, url
    db.session.expire_all()
    assert smiths.lockbox_code == CODE and len(holders(smiths)) == 1


def test_a_client_who_uses_no_keys_has_no_key_section(app, as_manager, make):
    plain = make.client()
    assert 'id="keys"' not in as_manager.get(f"/clients/{plain.id}").get_data(as_text=True)


def test_the_code_is_revealed_to_the_assigned_sitter_on_the_day_and_every_reveal_is_logged(
        app, make, smiths, walk, sitter, mia):
    today = a_visit(make, smiths, walk, sitter)
    assert keys.reveal_code(today, sitter) == CODE
    assert keys.reveal_code(today, sitter) == CODE
    db.session.commit()
    events = db.session.scalars(select(VisitEvent).where(VisitEvent.visit_id == today.id)).all()
    assert [(e.kind, e.staff_id) for e in events] == [("code_shown", sitter.id)] * 2

    refusals = [
        (today, mia, "Only the sitter of this visit"),  # another sitter
        (a_visit(make, smiths, walk, mia), sitter, "Only the sitter of this visit"),  # another sitter's visit
        (a_visit(make, smiths, walk, sitter, day=business_today() + timedelta(days=1)), sitter, "on the day"),
        (a_visit(make, smiths, walk, sitter, day=business_today() - timedelta(days=1), starts_in=-timedelta(hours=4)),
         sitter, "on the day"),  # yesterday's, and too late to check in to
        (a_visit(make, smiths, walk, None), sitter, "Only the sitter of this visit"),
        (a_visit(make, smiths, walk, sitter, status=VisitStatus.CANCELLED), sitter, "not booked"),
    ]
    for visit, who, words in refusals:
        with pytest.raises(DomainError, match=words):
            keys.reveal_code(visit, who)
    smiths.lockbox_code = ""
    db.session.commit()
    with pytest.raises(DomainError, match="no lockbox code"):
        keys.reveal_code(today, sitter)
    db.session.commit()
    assert db.session.scalar(select(db.func.count(VisitEvent.id))) == 2  # only what was shown


def test_past_midnight_a_late_visit_still_open_shows_its_code_and_one_past_its_window_does_not(app, client, make,
                                                                                                    smiths, walk, sitter):
    """A late evening's visit is dated the day before: while it is under way, or still taking a check-in, the
    sitter sees the code on her day (the button on the card too); after that, not."""
    yesterday = business_today() - timedelta(days=1)
    late = a_visit(make, smiths, walk, sitter, day=yesterday, starts_in=-timedelta(hours=2))  # ended an hour ago
    under_way = a_visit(make, smiths, walk, sitter, day=yesterday, starts_in=-timedelta(hours=2),
                        status=VisitStatus.IN_PROGRESS)
    over = a_visit(make, smiths, walk, sitter, day=yesterday, starts_in=-timedelta(hours=4))  # ended 3 hours ago
    left_under_way = a_visit(make, smiths, walk, sitter, day=yesterday, starts_in=-timedelta(hours=5),
                             status=VisitStatus.IN_PROGRESS)  # never checked out: the office's to settle
    assert keys.reveal_code(late, sitter) == CODE and keys.reveal_code(under_way, sitter) == CODE
    for visit in (over, left_under_way):
        with pytest.raises(DomainError, match="on the day"):
            keys.reveal_code(visit, sitter)
    db.session.commit()
    login_as(client, sitter)
    assert "Show the lockbox code" in client.get(f"/visits/{late.id}").get_data(as_text=True)
    assert "Show the lockbox code" not in client.get(f"/visits/{over.id}").get_data(as_text=True)


def test_key_notices_name_visits_whose_sitter_holds_no_key(app, make, smiths, walk, sitter, mia):
    db.session.add(KeyHolder(client=smiths, staff=sitter, has_key=True, knows_code=False))
    code_only = make.staff(Role.SITTER, first_name="Cody")
    db.session.add(KeyHolder(client=smiths, staff=code_only, has_key=False, knows_code=True))
    neither = make.staff(Role.SITTER, first_name="Nell")
    db.session.add(KeyHolder(client=smiths, staff=neither, has_key=False, knows_code=False))
    db.session.commit()
    no_keys = make.client(first_name="Pat", last_name="Plain")
    holder_visit = a_visit(make, smiths, walk, sitter)
    code_visit = a_visit(make, smiths, walk, code_only)
    mia_visit = a_visit(make, smiths, walk, mia)
    nell_visit = a_visit(make, smiths, walk, neither)
    unassigned = a_visit(make, smiths, walk, None)
    cancelled = a_visit(make, smiths, walk, mia, status=VisitStatus.CANCELLED)
    keyless = a_visit(make, no_keys, walk, mia)
    notices = keys.key_notices([holder_visit, code_visit, mia_visit, nell_visit, unassigned, cancelled, keyless])
    assert notices == {mia_visit.id: "Mia holds no key for Jane Smith", nell_visit.id: "Nell holds no key for Jane Smith"}
    # Any row with the ids will do (a request being reviewed, say, with the sitter about to be chosen).
    proposed = SimpleNamespace(id=0, client_id=smiths.id, sitter_id=mia.id)
    assert keys.key_notices([proposed]) == {0: "Mia holds no key for Jane Smith"}
    assert keys.key_notices([]) == {}

    get_settings().key_notices = False
    db.session.commit()
    assert keys.key_notices([mia_visit, nell_visit]) == {}


def test_calendar_rows_of_cancelled_visits_get_no_key_notice(app, make, smiths, walk, mia):
    """A calendar's rows carry a `state`, not a `status`: a cancelled visit there needs no key either."""
    booked = a_visit(make, smiths, walk, mia)
    cancelled = a_visit(make, smiths, walk, mia, status=VisitStatus.CANCELLED)
    keyless = a_visit(make, make.client(first_name="Pat", last_name="Plain"), walk, mia)
    rows = visits.calendar_visits(booked.day, booked.day)
    assert {row.id: (row.state, row.uses_keys) for row in rows} == {
        booked.id: ("scheduled", True), cancelled.id: ("cancelled", True), keyless.id: ("scheduled", False)}
    assert keys.key_notices(rows) == {booked.id: "Mia holds no key for Jane Smith"}


def test_key_notices_take_a_fixed_number_of_queries(app, make, smiths, walk, mia, count_queries):
    def rows(visits):  # as a calendar reads them: plain columns, nothing left to load
        return [SimpleNamespace(id=v.id, client_id=v.client_id, sitter_id=v.sitter_id, status=v.status) for v in visits]

    get_settings()
    few = rows(a_visit(make, smiths, walk, mia) for _ in range(3))
    db.session.expire_all()
    with count_queries() as counter_few:
        assert len(keys.key_notices(few)) == 3
    more = few + rows(a_visit(make, make.client(uses_keys=True), walk, make.staff(Role.SITTER)) for _ in range(20))
    db.session.expire_all()
    with count_queries() as counter_more:
        assert len(keys.key_notices(more)) == 23
    assert counter_more.count == counter_few.count == 3  # the settings row, the clients and their holders, the sitters
    # A calendar knows its sitters' first names already: one query fewer, the same notices; a name it lacks is read.
    known = {mia.id: "Mia"}
    db.session.expire_all()
    with count_queries() as counter_named:
        named = keys.key_notices(few, known)
    assert counter_named.count == 2 and named == keys.key_notices(few)
    assert keys.key_notices(more, {mia.id: "Mia"}) == keys.key_notices(more)


def test_the_board_shows_the_key_notice_and_the_option_turns_it_off(app, as_manager, make, smiths, walk, mia):
    visit = a_visit(make, smiths, walk, mia)
    body = as_manager.get("/board/").get_data(as_text=True)
    assert '<span class="key-badge">Mia holds no key for Jane Smith</span>' in body
    assert f'href="/schedule/visits/{visit.id}"' in body
    get_settings().key_notices = False
    db.session.commit()
    assert "key-badge" not in as_manager.get("/board/").get_data(as_text=True)


def test_key_notices_on_the_request_review_the_schedule_and_a_reassignment(app, make, password_hash):
    """Staff are told, wherever they give a visit to a sitter, that she holds no key for a client who uses keys."""
    from datetime import date, time as clock_time

    from models import ClientLogin, Role
    from services import visits
    from tests.conftest import HX, login_as

    manager = make.staff(Role.MANAGER, first_name="Marta")
    mia = make.staff(Role.SITTER, first_name="Mia")
    kim = make.staff(Role.SITTER, first_name="Kim")
    smiths = make.client(first_name="Jane", last_name="Smith", uses_keys=True, primary_sitter_id=mia.id)
    rex = make.pet(smiths, name="Rex")
    walk = make.service(name="Dog walk")
    login = ClientLogin(client=smiths, email="jane@example.com", password_hash=password_hash)
    db.session.add(login)
    db.session.add(KeyHolder(client_id=smiths.id, staff_id=kim.id, has_key=True, knows_code=False, notes=""))
    db.session.commit()
    day = date(2030, 3, 4)
    asked = visits.request_visits(smiths, login, visits.Plan([walk], [day], "morning", clock_time(8), clock_time(11),
                                                             [rex]))
    db.session.commit()
    office = app.test_client()
    login_as(office, manager)
    review = office.get(f"/requests/{asked.id}").get_data(as_text=True)
    assert "Mia holds no key for Jane Smith" in review  # Mia, the primary sitter, is suggested
    with_kim = office.post(f"/requests/{asked.id}/decide", data={"action": "check", "sitter_id": str(kim.id)},
                           headers={**HX, "HX-Target": "sitter-clashes"}).get_data(as_text=True)
    assert "holds no key" not in with_kim
    with_mia = office.post(f"/requests/{asked.id}/decide", data={"action": "check", "sitter_id": str(mia.id)},
                           headers={**HX, "HX-Target": "sitter-clashes"}).get_data(as_text=True)
    assert "<html" not in with_mia and "Mia holds no key for Jane Smith" in with_mia
    [visit] = asked.visits
    visits.decide_request(asked, manager, [visits.Approval(visit.id, True)], mia, "")
    db.session.commit()
    week = office.get(f"/schedule/?view=week&date={day.isoformat()}").get_data(as_text=True)
    assert "no key" in week and "Mia holds no key for Jane Smith" in week
    panel = office.get(f"/schedule/visits/{visit.id}").get_data(as_text=True)
    assert "Mia holds no key for Jane Smith" in panel
    check = office.post(f"/schedule/visits/{visit.id}/reassign", data={"action": "check", "reassign-sitter_id": str(kim.id)},
                        headers={**HX, "HX-Target": "reassign-clashes"}).get_data(as_text=True)
    assert "holds no key" not in check
    lee = make.staff(Role.SITTER, first_name="Lee")
    check = office.post(f"/schedule/visits/{visit.id}/reassign", data={"action": "check", "reassign-sitter_id": str(lee.id)},
                        headers={**HX, "HX-Target": "reassign-clashes"}).get_data(as_text=True)
    assert "Lee holds no key for Jane Smith" in check
    get_settings().key_notices = False
    db.session.commit()
    assert "holds no key" not in office.get(f"/schedule/?view=week&date={day.isoformat()}").get_data(as_text=True)
    assert "holds no key" not in office.get(f"/requests/{asked.id}").get_data(as_text=True)
