"""The office's live board: each visit's state at a glance, by sitter, refreshing itself, in a fixed
number of queries. Visits are placed at times relative to now, on the business's today."""
import re
from datetime import datetime, timedelta, timezone

import pytest

from extensions import db
from filters import business_today
from models import Role, Visit, VisitStatus
from services import board
from services.settings import get_settings
from tests.conftest import HX, login_as



def utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


@pytest.fixture
def walk(make):
    return make.service(name="Dog walk", duration_minutes=30)


@pytest.fixture
def ann(make):
    return make.staff(Role.SITTER, first_name="Ann", last_name="Avery")


@pytest.fixture
def bob(make):
    return make.staff(Role.SITTER, first_name="Bob", last_name="Burns")


def add_visit(make, service, sitter, starts: timedelta, length: timedelta = timedelta(hours=1),
              status: VisitStatus = VisitStatus.SCHEDULED, checked_in: timedelta | None = None,
              checked_out: timedelta | None = None, day=None, client=None, pets: int = 1) -> Visit:
    """A visit starting `starts` from now (negative: in the past), on the business's today unless `day`;
    check-in and check-out times are also relative to now."""
    client = client or make.client()
    now = utc_now()
    start = now + starts
    visit = Visit(client=client, service=service, sitter=sitter, day=day or business_today(), starts_at=start,
                  ends_at=start + length, window="custom", price_cents=2500, status=status,
                  pets=[make.pet(client) for _ in range(pets)], notes="", late_cancellation=False,
                  cancelled_by="", reason="",
                  checked_in_at=now + checked_in if checked_in is not None else None,
                  checked_out_at=now + checked_out if checked_out is not None else None)
    db.session.add(visit)
    db.session.commit()
    return visit


def entry(body: str, visit: Visit) -> str:
    """The board's entry of one visit."""
    for item in re.findall(r'<li class="board-visit.*?</li>', body, re.S):
        if f'href="/schedule/visits/{visit.id}"' in item:
            return item
    raise AssertionError(f"visit {visit.id} is not on the board")


def state(body: str, visit: Visit) -> str:
    return re.match(r'<li class="board-visit board-(\w+)"', entry(body, visit))[1]


def badge(body: str, visit: Visit) -> str:
    return re.search(r'<span class="board-badge">([^<]*)</span>', entry(body, visit))[1]


def test_every_state_is_computed_and_shown_with_its_words(app, as_manager, make, walk, ann):
    visits = {
        "to_come": add_visit(make, walk, ann, timedelta(hours=2)),
        "within_grace": add_visit(make, walk, ann, timedelta(minutes=-10)),
        "late": add_visit(make, walk, ann, timedelta(minutes=-20)),
        "no_check_in": add_visit(make, walk, ann, timedelta(hours=-3)),
        "marked_missed": add_visit(make, walk, ann, timedelta(hours=-2), status=VisitStatus.MISSED),
        "in_progress": add_visit(make, walk, ann, timedelta(minutes=-30), status=VisitStatus.IN_PROGRESS,
                                 checked_in=timedelta(minutes=-25)),
        "done": add_visit(make, walk, ann, timedelta(hours=-4), status=VisitStatus.COMPLETED,
                          checked_in=timedelta(hours=-4), checked_out=timedelta(hours=-4, minutes=35)),
        "short": add_visit(make, walk, ann, timedelta(hours=-5), status=VisitStatus.COMPLETED,
                           checked_in=timedelta(hours=-5), checked_out=timedelta(hours=-5, minutes=10)),
        "unrecorded": add_visit(make, walk, ann, timedelta(hours=-6), status=VisitStatus.UNRECORDED),
        "cancelled": add_visit(make, walk, ann, timedelta(hours=1), status=VisitStatus.CANCELLED),
    }
    body = as_manager.get("/board/").get_data(as_text=True)
    expected = {"to_come": ("to_come", "Not started"), "within_grace": ("to_come", "Not started"),
                "late": ("late", "Late"), "no_check_in": ("missed", "Missed"), "marked_missed": ("missed", "Missed"),
                "in_progress": ("in_progress", "In progress"), "done": ("done", "Done"), "short": ("short", "Short"),
                "unrecorded": ("unrecorded", "Completed, not checked in"), "cancelled": ("cancelled", "Cancelled")}
    for name, (key, words) in expected.items():
        assert (state(body, visits[name]), badge(body, visits[name])) == (key, words), name
    assert "No check-in, 20 min after the start" in entry(body, visits["late"])
    assert "No check-in before the window ended" in entry(body, visits["no_check_in"])
    assert "Marked missed" in entry(body, visits["marked_missed"])
    assert "25 min so far" in entry(body, visits["in_progress"])
    assert "· 35 min" in entry(body, visits["done"])
    assert "10 min of 30 min" in entry(body, visits["short"])
    # The board's short is the model's.
    assert visits["short"].is_short(50) and not visits["done"].is_short(50)
    counts = re.search(r'<ul class="board-counts".*?</ul>', body, re.S)[0]
    words = [re.sub(r"\s+", " ", w).strip() for w in re.findall(r"<li[^>]*>(.*?)</li>", counts, re.S)]
    assert words == ["1 late", "2 missed", "1 short", "1 in progress", "2 done", "2 to come", "1 cancelled"]
    # Late, missed and short are marked as such in the counts too, not only on their visits.
    assert 'class="count-late has-some"' in counts and 'class="count-short has-some"' in counts


def test_the_grace_period_and_short_share_are_site_options(app, as_manager, make, walk, ann):
    late = add_visit(make, walk, ann, timedelta(minutes=-20))
    short = add_visit(make, walk, ann, timedelta(hours=-5), status=VisitStatus.COMPLETED,
                      checked_in=timedelta(hours=-5), checked_out=timedelta(hours=-5, minutes=10))
    body = as_manager.get("/board/").get_data(as_text=True)
    assert (state(body, late), state(body, short)) == ("late", "short")
    settings = get_settings()
    settings.late_grace_minutes, settings.short_visit_percent = 30, 20
    db.session.commit()
    body = as_manager.get("/board/").get_data(as_text=True)
    assert (state(body, late), state(body, short)) == ("to_come", "done")


def test_board_state_edges():
    now = utc_now()
    start, end = now, now + timedelta(hours=1)
    scheduled = VisitStatus.SCHEDULED

    def at(minutes: int, **kw) -> str:
        args = dict(status=scheduled, starts_at=start, ends_at=end, checked_in_at=None, checked_out_at=None,
                    duration_minutes=30, now=now + timedelta(minutes=minutes), grace_minutes=15, short_percent=50)
        args.update(kw)
        return board.board_state(**args)

    assert at(15) == "to_come" and at(16) == "late" and at(59) == "late" and at(60) == "missed"
    # SQLite hands back naive UTC: compared as UTC all the same.
    assert at(16, starts_at=start.replace(tzinfo=None), ends_at=end.replace(tzinfo=None)) == "late"
    finished = dict(status=VisitStatus.COMPLETED, checked_in_at=start)
    assert at(0, checked_out_at=start + timedelta(minutes=14, seconds=59), **finished) == "short"
    assert at(0, checked_out_at=start + timedelta(minutes=15), **finished) == "done"
    assert at(90, status=VisitStatus.IN_PROGRESS, checked_in_at=start) == "in_progress"
    assert board.span_text(timedelta(minutes=65)) == "1 h 05 min"


def test_visits_are_grouped_by_sitter_then_not_assigned_in_time_order(app, as_manager, make, walk, ann, bob):
    bob_late = add_visit(make, walk, bob, timedelta(hours=3))
    bob_early = add_visit(make, walk, bob, timedelta(hours=1))
    nobody = add_visit(make, walk, None, timedelta(hours=2))
    ann_one = add_visit(make, walk, ann, timedelta(hours=4), pets=2)
    body = as_manager.get("/board/").get_data(as_text=True)
    lanes = re.findall(r'<section class="lane[^"]*" aria-labelledby="lane-\d+">\s*<h2[^>]*>([^<]*)<', body)
    assert [name.strip() for name in lanes] == ["Ann Avery", "Bob Burns", "Not assigned"]
    assert body.index(f"/schedule/visits/{bob_early.id}\"") < body.index(f"/schedule/visits/{bob_late.id}\"")
    assert body.index(f"/schedule/visits/{bob_late.id}\"") < body.index(f"/schedule/visits/{nobody.id}\"")
    shown = entry(body, ann_one)
    assert ann_one.client.name in shown and "Dog walk" in shown
    assert all(pet.name in shown for pet in ann_one.pets)
    assert "$" not in body  # no prices on the board


def test_requested_and_declined_visits_stay_off_the_board(app, as_manager, make, walk, ann):
    add_visit(make, walk, ann, timedelta(hours=1), status=VisitStatus.REQUESTED)
    add_visit(make, walk, ann, timedelta(hours=1), status=VisitStatus.DECLINED)
    body = as_manager.get("/board/").get_data(as_text=True)
    assert "board-visit" not in body and "No visits on this day." in body


def test_page_polls_itself_and_htmx_gets_the_fragment(app, as_manager, make, walk, ann):
    add_visit(make, walk, ann, timedelta(hours=1))
    page = as_manager.get("/board/")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in body
    assert 'hx-get="/board/" hx-trigger="every 30s"' in body
    assert re.search(r'<a class="button small secondary" href="/board/"[^>]*>Refresh</a>', body)  # without JavaScript
    assert 'href="/board/" aria-current="page"' in body  # the Board link in the menu
    fragment = as_manager.get("/board/", headers=HX)
    text = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in text and 'id="board"' in text and "every 30s" in text
    assert "HX-Request" in fragment.headers["Vary"]


def test_another_day_by_date_parameter(app, as_manager, make, walk, ann):
    today = business_today()
    tomorrow = today + timedelta(days=1)
    now_visit = add_visit(make, walk, ann, timedelta(hours=1))
    later = add_visit(make, walk, ann, timedelta(days=1), day=tomorrow)
    body = as_manager.get(f"/board/?date={tomorrow.isoformat()}").get_data(as_text=True)
    assert f"/schedule/visits/{later.id}\"" in body and f"/schedule/visits/{now_visit.id}\"" not in body
    assert "every 30s" not in body  # only today changes by itself
    assert f'href="/board/?date={tomorrow.isoformat()}"' in body  # Refresh keeps the day
    assert state(body, later) == "to_come"
    yesterday = as_manager.get(f"/board/?date={(today - timedelta(days=1)).isoformat()}").get_data(as_text=True)
    assert "No visits on this day." in yesterday
    assert as_manager.get("/board/?date=garbage").status_code == 200  # today, then


def test_sitters_and_clients_cannot_reach_the_board(app, client, portal, sitter):
    assert client.get("/board/").status_code == 302  # signed out: to the staff sign-in
    login_as(client, sitter)
    assert client.get("/board/").status_code == 403
    assert 'href="/board/"' not in client.get("/schedule/").get_data(as_text=True)
    assert portal.get("/board/").status_code == 403


def test_query_count_is_the_same_for_5_and_50_visits(app, as_manager, make, walk, ann, bob, count_queries):
    keyed = make.client(uses_keys=True)
    for n in range(5):
        add_visit(make, walk, (ann, bob, None)[n % 3], timedelta(minutes=30 * n - 60), client=keyed if n == 0 else None)
    as_manager.get("/board/")  # creates the settings row
    db.session.expire_all()  # each request starts from an empty identity map, as in production
    with count_queries() as few:
        assert as_manager.get("/board/").status_code == 200
    for n in range(45):
        add_visit(make, walk, (ann, bob, None)[n % 3], timedelta(minutes=10 * n - 200),
                  status=(VisitStatus.SCHEDULED, VisitStatus.COMPLETED, VisitStatus.IN_PROGRESS)[n % 3],
                  checked_in=timedelta(minutes=-100) if n % 3 else None,
                  checked_out=timedelta(minutes=-80) if n % 3 == 1 else None, pets=2)
    db.session.expire_all()
    with count_queries() as many:
        body = as_manager.get("/board/").get_data(as_text=True)
    assert body.count('<li class="board-visit') == 50
    assert many.count == few.count
