"""Late cancellation and no-show fees (tiers, across daylight-saving changes, the portal's panel, the business's
email, waiving, billing), and custom prices repricing the visits already booked. Email goes to a real SMTP
server on loopback."""
import re
from html import unescape
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from extensions import db
from models import Invoice, InvoiceLine, InvoiceStatus, Role, Visit, VisitEvent, VisitStatus
from services import billing, fees, outbox, visits
from services.clients import add_custom_price
from services.settings import get_settings
from tests.conftest import HX, login_as, smtp_config

NY = ZoneInfo("America/New_York")
TIERS = [{"hours": 24, "percent": 50}, {"hours": 2, "percent": 100}]
OCTOBER = (date(2026, 10, 1), date(2026, 10, 31))


@pytest.fixture
def app_config(smtp):
    return smtp_config(smtp)


@pytest.fixture
def tiers(app):
    get_settings().late_fee_tiers = TIERS
    db.session.commit()
    return TIERS


def book(client, service, starts_at: datetime, price=2500, status=VisitStatus.SCHEDULED, pets=(), sitter=None,
         save=True) -> Visit:
    """A visit starting at an absolute moment (its day is the business's local day)."""
    starts_at = starts_at.astimezone(timezone.utc)
    visit = Visit(client=client, service=service, sitter=sitter, day=starts_at.astimezone(NY).date(),
                  starts_at=starts_at, ends_at=starts_at + timedelta(hours=1), window="custom", price_cents=price,
                  status=status, pets=list(pets), notes="", late_cancellation=False, cancelled_by="", reason="")
    if save:
        db.session.add(visit)
        db.session.commit()
    return visit


def in_(delta: timedelta) -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0) + delta


def words(html: str) -> str:
    """The text a person reads: tags dropped, entities read, spaces collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def fresh(visit: Visit) -> Visit:
    db.session.expire_all()
    return db.session.get(Visit, visit.id)


# ---- Tiers ---------------------------------------------------------------------------------------------------

NOW = datetime(2026, 12, 10, 15, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("left, percent, cents", [
    (timedelta(hours=24, seconds=1), 0, 0),
    (timedelta(hours=24), 0, 0),  # a tier applies when its hours are MORE than the time left
    (timedelta(hours=24) - timedelta(seconds=1), 50, 1250),
    (timedelta(hours=2, seconds=1), 50, 1250),
    (timedelta(hours=2), 50, 1250),
    (timedelta(hours=2) - timedelta(seconds=1), 100, 2500),
    (timedelta(minutes=1), 100, 2500),
])
def test_each_tier_boundary(app, make, walk, tiers, left, percent, cents):
    visit = book(make.client(), walk, NOW + left, save=False)
    assert fees.late_fee(visit, NOW) == (percent, cents)


def test_a_fee_is_rounded_as_invoices_round_and_a_request_not_yet_booked_is_free(app, make, walk, tiers):
    client = make.client()
    assert fees.late_fee(book(client, walk, NOW + timedelta(hours=5), price=2499, save=False), NOW) == (50, 1250)
    assert fees.late_fee(book(client, walk, NOW + timedelta(hours=5), price=2497, save=False), NOW) == (50, 1249)
    requested = book(client, walk, NOW + timedelta(hours=1), status=VisitStatus.REQUESTED, save=False)
    assert fees.late_fee(requested, NOW) == (0, 0)


def test_no_tiers_no_fee(app, make, walk):
    visit = book(make.client(), walk, NOW + timedelta(minutes=5), save=False)
    assert get_settings().late_fee_tiers == []
    assert fees.late_fee(visit, NOW) == (0, 0)
    assert fees.no_show_fee(visit).cents == 0
    get_settings().late_fee_tiers = [{"hours": "soon", "percent": 50}, {"hours": 3, "percent": 250}, "junk"]
    assert fees.late_fee(visit, NOW) == (0, 0)  # entries that make no sense charge nothing


def test_fall_back_a_tier_counts_real_hours_not_the_wall_clock(app, me, walk, tiers):
    """Sunday 1 Nov 2026 the clocks in New York go back an hour. From Saturday 09:30 EDT to Sunday 09:00 EST the
    wall clock moves 23.5 hours, but 24.5 real hours pass: the 24 h tier does NOT apply."""
    starts = datetime(2026, 11, 1, 9, 0, tzinfo=NY)
    at = datetime(2026, 10, 31, 9, 30, tzinfo=NY)
    assert starts.astimezone(timezone.utc) - at.astimezone(timezone.utc) == timedelta(hours=24, minutes=30)
    assert starts.replace(tzinfo=None) - at.replace(tzinfo=None) == timedelta(hours=23, minutes=30)
    visit = book(me.client, walk, starts)
    assert fees.late_fee(visit, at.astimezone(timezone.utc)) == (0, 0)
    visits.cancel_visit(visit, me, now=at.astimezone(timezone.utc))
    db.session.commit()
    visit = fresh(visit)
    assert visit.status == VisitStatus.CANCELLED and visit.late_fee_cents == 0 and not visit.late_cancellation


def test_spring_forward_a_tier_counts_real_hours_not_the_wall_clock(app, me, walk, tiers):
    """Sunday 14 Mar 2027 the clocks go forward an hour. From Saturday 08:30 EST to Sunday 09:00 EDT the wall
    clock moves 24.5 hours, but only 23.5 real hours pass: the 24 h tier (50%) applies."""
    starts = datetime(2027, 3, 14, 9, 0, tzinfo=NY)
    at = datetime(2027, 3, 13, 8, 30, tzinfo=NY)
    assert starts.astimezone(timezone.utc) - at.astimezone(timezone.utc) == timedelta(hours=23, minutes=30)
    assert starts.replace(tzinfo=None) - at.replace(tzinfo=None) == timedelta(hours=24, minutes=30)
    visit = book(me.client, walk, starts)
    visits.cancel_visit(visit, me, now=at.astimezone(timezone.utc))
    db.session.commit()
    visit = fresh(visit)
    assert visit.late_fee_cents == 1250 and visit.late_cancellation


def test_staff_cancelling_never_charges_a_fee(app, client, manager, me, rex, walk, tiers):
    visit = book(me.client, walk, in_(timedelta(hours=1)), pets=[rex])
    login_as(client, manager)
    response = client.post(f"/schedule/visits/{visit.id}/cancel", data={"reason": "Sitter is ill"}, headers=HX)
    assert response.status_code == 200
    visit = fresh(visit)
    assert visit.status == VisitStatus.CANCELLED and visit.late_fee_cents == 0 and not visit.late_cancellation


# ---- The client's panel, the confirmation, the business's email --------------------------------------------

def test_the_panel_shows_the_fee_before_confirming_and_the_stored_fee_matches(app, portal, me, rex, walk, tiers):
    visit = book(me.client, walk, in_(timedelta(hours=3)), pets=[rex])
    page = portal.get(f"/portal/visits/{visit.id}").get_data(as_text=True)
    said = "Cancelling now costs $12.50 (50% of $25.00): less than 24 hours before the visit."
    assert "<html" in page and said in words(page)
    panel = portal.get(f"/portal/visits/{visit.id}", headers={**HX, "HX-Target": "request-panel"})
    assert "<html" not in panel.get_data(as_text=True) and said in words(panel.get_data(as_text=True))
    assert fresh(visit).status == VisitStatus.SCHEDULED  # showing the fee changes nothing

    response = portal.post(f"/portal/visits/{visit.id}/cancel", data={"shown_fee": "1250"},
                           headers={**HX, "HX-Target": "calendar-view"})
    body = words(response.get_data(as_text=True))
    assert response.status_code == 200
    assert "Cancelled. The late cancellation fee of $12.50 (50% of $25.00) goes on your next invoice." in body
    visit = fresh(visit)
    assert visit.status == VisitStatus.CANCELLED and visit.late_fee_cents == 1250 and visit.late_cancellation
    again = words(portal.get(f"/portal/visits/{visit.id}").get_data(as_text=True))
    assert "$12.50 late cancellation fee, billed on your invoice" in again and "Cancel this visit" not in again


def test_a_free_cancellation_says_so(app, portal, me, rex, walk, tiers):
    visit = book(me.client, walk, in_(timedelta(days=3)), pets=[rex])
    assert "Cancelling now is free." in words(portal.get(f"/portal/visits/{visit.id}").get_data(as_text=True))
    response = portal.post(f"/portal/visits/{visit.id}/cancel", data={"shown_fee": "0"})
    assert response.status_code == 303
    assert "Cancelled. We have let the team know." in portal.get(response.location).get_data(as_text=True)
    assert fresh(visit).late_fee_cents == 0


def test_a_fee_that_rose_after_it_was_shown_asks_again_and_charges_nothing_meanwhile(app, portal, me, rex, walk,
                                                                                     tiers):
    visit = book(me.client, walk, in_(timedelta(hours=3)), pets=[rex])
    assert "costs $12.50" in words(portal.get(f"/portal/visits/{visit.id}").get_data(as_text=True))
    get_settings().late_fee_tiers = [{"hours": 4, "percent": 100}]  # the tiers change before the client confirms
    db.session.commit()
    refused = portal.post(f"/portal/visits/{visit.id}/cancel", data={"shown_fee": "1250"}, headers=HX)
    assert refused.status_code == 409
    page = words(refused.get_data(as_text=True))
    assert "The fee went up while you were deciding: cancelling now costs $25.00" in page
    assert "Cancelling now costs $25.00 (100% of $25.00)" in page  # the panel again, with the fee it would cost
    assert fresh(visit).status == VisitStatus.SCHEDULED and fresh(visit).late_fee_cents == 0
    # Without JavaScript, and without the shown fee (agreed to none): back to the visit, which shows the new fee.
    plain = portal.post(f"/portal/visits/{visit.id}/cancel", data={})
    assert plain.status_code == 303 and plain.location.endswith(f"/portal/visits/{visit.id}")
    assert "The fee went up while you were deciding" in words(portal.get(plain.location).get_data(as_text=True))
    assert fresh(visit).status == VisitStatus.SCHEDULED
    assert portal.post(f"/portal/visits/{visit.id}/cancel", data={"shown_fee": "2500"}).status_code == 303
    assert fresh(visit).late_fee_cents == 2500


def test_a_fee_that_fell_after_it_was_shown_is_charged_as_it_is_now(app, portal, me, rex, walk, tiers):
    visit = book(me.client, walk, in_(timedelta(hours=3)), pets=[rex])
    get_settings().late_fee_tiers = [{"hours": 24, "percent": 20}]
    db.session.commit()
    response = portal.post(f"/portal/visits/{visit.id}/cancel", data={"shown_fee": "1250"})
    message = words(portal.get(response.location).get_data(as_text=True))
    assert "instead of the $12.50 shown" in message
    assert fresh(visit).late_fee_cents == 500


def test_the_business_email_states_the_fee_and_the_sitters_does_not(app, portal, me, rex, walk, sitter, tiers,
                                                                      inbox):
    visit = book(me.client, walk, in_(timedelta(hours=3)), pets=[rex], sitter=sitter)
    assert portal.post(f"/portal/visits/{visit.id}/cancel", data={"shown_fee": "1250"}).status_code == 303
    outbox.deliver_all()
    [message] = inbox.to("hello@example.com")
    assert "(LATE cancellation, fee $12.50)" in message["Subject"]
    text = " ".join(inbox.text(message).split())
    assert ("Late cancellation fee: $12.50 (50% of $25.00), cancelled less than 24 hours before the visit. "
            "It goes on the client's next invoice") in text
    assert "Late cancellation fee: $12.50 (50% of $25.00)" in words(inbox.html(message))
    [to_sitter] = inbox.to(sitter.email)
    assert "$" not in inbox.text(to_sitter)  # sitters never see money


# ---- Billing, waiving ----------------------------------------------------------------------------------------

def cancelled_late(me, walk, day: int, hours_before=3) -> Visit:
    """A visit on an October day that the client cancelled `hours_before` it started (its fee fixed then)."""
    starts = datetime(2026, 10, day, 9, 0, tzinfo=NY)
    visit = book(me.client, walk, starts)
    visits.cancel_visit(visit, me, now=starts.astimezone(timezone.utc) - timedelta(hours=hours_before))
    db.session.commit()
    return fresh(visit)


def fee_lines(visit: Visit) -> list[InvoiceLine]:
    return db.session.scalars(select(InvoiceLine).where(InvoiceLine.visit_id == visit.id,
                                                        InvoiceLine.kind == "fee")).all()


def test_a_waived_fee_is_not_billed_and_an_unwaived_one_is_billed_once(app, client, manager, me, walk, tiers):
    kept = cancelled_late(me, walk, 12)
    waived = cancelled_late(me, walk, 14, hours_before=1)
    assert (kept.late_fee_cents, waived.late_fee_cents) == (1250, 2500)
    login_as(client, manager)
    assert client.post(f"/schedule/visits/{waived.id}/fee/waive", data={"waive-reason": "First time"}).status_code == 303
    [plan] = billing.plan_run(*OCTOBER)
    assert [v.id for v in plan.fees] == [kept.id] and plan.total_cents == 1250
    [draft] = billing.create_drafts(*OCTOBER, manager)
    db.session.commit()
    assert [(line.kind, line.amount_cents) for line in draft.lines] == [("fee", 1250)]
    assert billing.plan_run(*OCTOBER) == [] and billing.create_drafts(*OCTOBER, manager) == []
    assert len(fee_lines(kept)) == 1 and fee_lines(waived) == []


def test_waiving_needs_a_reason_and_an_owner_or_manager(app, client, make, manager, owner, me, walk, tiers):
    visit = cancelled_late(me, walk, 12)
    url = f"/schedule/visits/{visit.id}/fee/waive"
    sitter = make.staff(Role.SITTER)
    visit.sitter_id = sitter.id  # her own visit: still no money for her
    db.session.commit()
    login_as(client, sitter)
    assert client.post(url, data={"waive-reason": "Kind"}).status_code == 403
    assert "Waive the fee" not in client.get(f"/schedule/visits/{visit.id}").get_data(as_text=True)

    login_as(client, manager)
    panel = client.get(f"/schedule/visits/{visit.id}").get_data(as_text=True)
    assert "Waive the fee" in panel and "goes on the client's next invoice" in words(panel)
    for headers in ({}, HX):
        missing = client.post(url, data={"waive-reason": "  "}, headers=headers)
        body = missing.get_data(as_text=True)
        assert missing.status_code == 422 and ("<html" in body) == (headers == {})
        assert body.index("Say why the fee is waived") > body.index('name="waive-reason"')  # beside the field
        assert fresh(visit).fee_waived_at is None

    login_as(client, owner)
    done = client.post(url, data={"waive-reason": "Family emergency"}, headers=HX)
    body = words(done.get_data(as_text=True))
    assert done.status_code == 200 and "Fee of $12.50 waived" in body
    assert "waived by Olive" in body and "Family emergency" in body
    visit = fresh(visit)
    assert visit.fee_waived_by_id == owner.id and visit.fee_waive_reason == "Family emergency"
    assert visit.fee_waived_at is not None and visit.late_fee_cents == 1250  # the fee stays on record
    twice = client.post(url, data={"waive-reason": "Again"}, headers=HX)
    assert twice.status_code == 409 and "waived already" in twice.get_data(as_text=True)


def test_a_fee_on_an_issued_invoice_cannot_be_waived(app, client, manager, me, walk, tiers):
    visit = cancelled_late(me, walk, 12)
    [invoice] = billing.create_drafts(*OCTOBER, manager)
    billing.issue_invoice(invoice, manager, today=date(2026, 11, 2))
    db.session.commit()
    login_as(client, manager)
    panel = words(client.get(f"/schedule/visits/{visit.id}").get_data(as_text=True))
    assert "on INV-2026-00001: void that invoice or give credit" in panel and "Waive the fee" not in panel
    refused = client.post(f"/schedule/visits/{visit.id}/fee/waive", data={"waive-reason": "Kind"}, headers=HX)
    assert refused.status_code == 409
    assert "It is on INV-2026-00001 already; void that invoice or give credit." in refused.get_data(as_text=True)
    assert fresh(visit).fee_waived_at is None
    assert billing.check_ledger(me.client_id) == []


def test_waiving_a_fee_on_a_draft_takes_it_off_the_draft(app, client, manager, me, walk, tiers):
    done_visit = book(me.client, walk, datetime(2026, 10, 5, 9, 0, tzinfo=NY), status=VisitStatus.COMPLETED)
    visit = cancelled_late(me, walk, 12)
    [draft] = billing.create_drafts(*OCTOBER, manager)
    db.session.commit()
    assert draft.total_cents == 3750
    login_as(client, manager)
    panel = words(client.get(f"/schedule/visits/{visit.id}").get_data(as_text=True))
    assert "waiving it takes it off the draft" in panel
    assert client.post(f"/schedule/visits/{visit.id}/fee/waive", data={"waive-reason": "Kind"}).status_code == 303
    db.session.expire_all()
    draft = db.session.get(Invoice, draft.id)
    assert [(line.kind, line.visit_id) for line in draft.lines] == [("visit", done_visit.id)]
    assert (draft.subtotal_cents, draft.total_cents) == (2500, 2500)


# ---- No-shows ------------------------------------------------------------------------------------------------

def test_a_no_show_charges_the_tightest_tier_and_a_plain_missed_visit_nothing(app, client, manager, me, rex, walk,
                                                                              tiers):
    no_show = book(me.client, walk, in_(-timedelta(hours=3)), pets=[rex])
    missed = book(me.client, walk, in_(-timedelta(hours=5)), pets=[rex])
    login_as(client, manager)
    card = words(client.get(f"/visits/{no_show.id}").get_data(as_text=True))
    assert "The client was not there / turned us away (no-show fee)" in card
    assert "Charges $25.00 (100% of $25.00) on the client's next invoice." in card
    response = client.post(f"/visits/{no_show.id}/missed", data={"reason": "Nobody home", "no_show": "y"},
                           headers=HX)
    assert response.status_code == 200
    assert "the fee of $25.00 goes on the client's next invoice" in words(response.get_data(as_text=True))
    assert client.post(f"/visits/{missed.id}/missed", data={"reason": "Sitter was ill"}).status_code == 303
    no_show, missed = fresh(no_show), fresh(missed)
    assert (no_show.status, no_show.late_fee_cents) == (VisitStatus.MISSED, 2500)
    assert (missed.status, missed.late_fee_cents) == (VisitStatus.MISSED, 0)
    [plan] = billing.plan_run(None, no_show.day)
    assert [v.id for v in plan.fees] == [no_show.id] and plan.visits == []


# ---- Prices already booked -----------------------------------------------------------------------------------

def test_a_custom_price_reprices_the_visits_booked_from_its_date(app, make, client, manager, me, walk):
    nia, other = me.client, make.client()
    cat_visit = make.service(name="Cat visit", base_price_cents=2000)
    at = lambda day, **kw: book(nia, walk, datetime.combine(day, time(9), NY), **kw)  # noqa: E731
    before = at(date(2026, 11, 30))
    first_day = at(date(2026, 12, 1))
    requested = at(date(2026, 12, 8), status=VisitStatus.REQUESTED)
    later = at(date(2026, 12, 15))
    done_visit = at(date(2026, 12, 3), status=VisitStatus.COMPLETED)
    under_way = at(date(2026, 12, 10), status=VisitStatus.IN_PROGRESS)
    cancelled = at(date(2026, 12, 12), status=VisitStatus.CANCELLED)
    on_issued = at(date(2026, 12, 22))
    on_draft = at(date(2026, 12, 29))
    next_price = at(date(2027, 1, 5))
    cat = book(nia, cat_visit, datetime.combine(date(2026, 12, 5), time(9), NY))
    theirs = book(other, walk, datetime.combine(date(2026, 12, 5), time(9), NY))
    # A custom price from 1 Jan 2027 is set first; the one from 1 Dec stops where it begins.
    assert add_custom_price(nia, walk.id, 3500, date(2027, 1, 1), manager).repriced == 1
    for status, visit, number in ((InvoiceStatus.SENT, on_issued, "INV-2026-00001"),
                                  (InvoiceStatus.DRAFT, on_draft, None)):
        invoice = Invoice(client=nia, status=status, number=number, notes="", void_reason="")
        invoice.lines.append(InvoiceLine(kind="visit", visit_id=visit.id, billed_visit_id=visit.id, description="Walk",
                                         amount_cents=2500))
        db.session.add(invoice)
    db.session.commit()

    login_as(client, manager)
    response = client.post(f"/clients/{nia.id}/prices", data={"service_id": walk.id, "price": "30.00",
                                                             "effective_on": "2026-12-01"}, headers=HX)
    body = words(response.get_data(as_text=True))
    assert response.status_code == 200 and "<html" not in response.get_data(as_text=True)
    assert ("Custom price added. 3 scheduled visits repriced to $30.00 from 1 Dec 2026; "
            "2 already invoiced kept their price.") in body
    db.session.expire_all()
    prices = {v.id: v.price_cents for v in db.session.scalars(select(Visit))}
    assert {prices[v.id] for v in (first_day, requested, later)} == {3000}
    assert [prices[v.id] for v in (before, done_visit, under_way, cancelled, on_issued, on_draft, cat, theirs)] \
        == [2500] * 8
    assert prices[next_price.id] == 3500
    [event] = db.session.scalars(select(VisitEvent).where(VisitEvent.visit_id == first_day.id)).all()
    assert (event.kind, event.details, event.staff_id) == ("repriced", {"price_cents": [2500, 3000]}, manager.id)

    again = client.post(f"/clients/{nia.id}/prices", data={"service_id": walk.id, "price": "30.00",
                                                          "effective_on": "2026-12-01"})
    assert again.status_code == 303  # plain POST: a flash on the profile
    assert ("Custom price added. No scheduled visit repriced: 2 already invoiced kept their price."
            in words(client.get(again.location).get_data(as_text=True)))
    assert db.session.scalar(select(func.count(VisitEvent.id)).where(VisitEvent.kind == "repriced")) == 4


def test_a_price_with_nothing_booked_says_only_that_it_was_added(app, make, client, manager, walk):
    nia = make.client()
    book(nia, walk, datetime(2026, 12, 10, 9, tzinfo=NY))
    login_as(client, manager)
    response = client.post(f"/clients/{nia.id}/prices", data={"service_id": walk.id, "price": "25.00",
                                                             "effective_on": "2026-12-01"}, headers=HX)
    body = words(response.get_data(as_text=True))
    assert "Custom price added." in body and "scheduled visit" not in body  # at that price already: no change
