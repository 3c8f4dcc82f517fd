"""The public intake form (/start): a visitor becomes a Prospect with pets (and a pending request when dates were
given); the office is told; the visitor gets a link to set a portal password. Spam guards: a honeypot, a minimum
time, a rate limit; the same form posted twice makes one profile; the page may be framed only by the business's
own site."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from extensions import db
from filters import business_today
from models import (
    ClientLogin, ClientProfile, ClientStatus, OutboxMessage, Pet, PolicyAgreement, RequestStatus, VisitRequest,
)
from services import intake, outbox
from services.resources import save_policy, save_service
from tests.conftest import smtp_config
from tests.test_client_accounts import LINK, NEW_PASSWORD


@pytest.fixture
def app_config(smtp):
    return {**smtp_config(smtp), "FRAME_ANCESTORS": "https://www.barkandstroll.example"}


@pytest.fixture
def no_wait(monkeypatch):
    """The minimum time between serving and sending, off (one test keeps it to show it works)."""
    monkeypatch.setattr(intake, "MIN_SECONDS", 0)


def served_key(visitor) -> str:
    page = visitor.get("/start").get_data(as_text=True)
    return page.split('name="form_key" type="hidden" value="')[1].split('"')[0]


def sent(visitor, **changes) -> dict:
    data = {"first_name": "Ola", "last_name": "Nordmann", "email": "ola@example.com", "phone": "(555) 010-3344",
            "address_line1": "12 Elm St", "city": "Cambridge", "zip": "02139",
            "pets-0-name": "Biscuit", "pets-0-species": "Dog", "pets-0-breed": "Beagle", "pets-0-age": "4",
            "pets-1-name": "Mochi", "pets-1-species": "Cat", "pets-1-breed": "", "pets-1-age": "",
            "service_id": "", "start": "", "end": "", "notes": "Biscuit pulls on the lead.", "website": "",
            "form_key": served_key(visitor)}
    return {**data, **changes}


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_a_visitor_becomes_a_prospect_with_pets_a_request_and_a_link_to_set_a_password(app, make, inbox, no_wait):
    walk = save_service(None, "Dog walk", 30, 2500, True)
    policy = save_policy(None, "Terms of service", "Be kind.", True)
    db.session.commit()
    visitor = app.test_client()
    page = visitor.get("/start")
    assert page.status_code == 200 and "Start with us" in page.get_data(as_text=True)
    first = business_today() + timedelta(days=3)
    data = sent(visitor, service_id=str(walk.id), start=first.isoformat(), end=(first + timedelta(days=2)).isoformat(),
                policies=str(policy.id))
    answer = visitor.post("/start", data=data)
    assert answer.status_code == 200 and "Thank you!" in answer.get_data(as_text=True)
    [profile] = db.session.scalars(select(ClientProfile)).all()
    assert (profile.name, profile.status, profile.primary_emails) == ("Ola Nordmann", ClientStatus.PROSPECT,
                                                                      ["ola@example.com"])
    assert sorted((p.name, p.species, p.breed) for p in profile.pets) == [("Biscuit", "Dog", "Beagle"),
                                                                          ("Mochi", "Cat", "")]
    assert db.session.scalar(select(Pet.born_year).where(Pet.name == "Biscuit")) == business_today().year - 4
    [request] = db.session.scalars(select(VisitRequest)).all()
    assert request.status == RequestStatus.PENDING and len(request.visits) == 3
    [login] = db.session.scalars(select(ClientLogin)).all()
    assert login.client_id == profile.id and not login.has_password
    assert db.session.scalar(select(PolicyAgreement.policy_id)) == policy.id
    # The same form posted again (a double click, a resend) makes nothing more.
    again = visitor.post("/start", data=data)
    assert again.status_code == 200 and count(ClientProfile) == 1 and count(VisitRequest) == 1
    outbox.deliver_all()
    assert [m["Subject"] for m in inbox.to("ola@example.com")] == ["Set your Pawtal Pet Care password"]
    told = [m for m in inbox.messages if m["Subject"].startswith("New client from the intake form")]
    assert len(told) == 1 and "Biscuit" in inbox.text(told[0])
    # The link from the email sets the password, and the new client is in their portal.
    link = LINK.search(inbox.text(inbox.to("ola@example.com")[0])).group(1)
    visitor.get(link)
    assert visitor.post("/password/set", data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code == 303
    assert visitor.get("/portal/").status_code == 200


def test_what_is_missing_or_wrong_is_said_beside_each_field_and_nothing_is_kept(app, no_wait):
    visitor = app.test_client()
    refused = visitor.post("/start", data=sent(visitor, first_name="", email="not-an-email", **{
        "pets-0-species": "", "pets-1-age": "old", "start": (business_today() - timedelta(days=1)).isoformat()}))
    body = refused.get_data(as_text=True)
    assert refused.status_code == 422
    for field_id in ("first_name-error", "email-error", "pets-0-species-error", "pets-1-age-error", "start-error"):
        assert f'id="{field_id}"' in body, field_id
    assert 'value="Nordmann"' in body and "Biscuit pulls on the lead." in body  # what was typed is kept
    assert count(ClientProfile) == 0 and count(OutboxMessage) == 0


def test_robots_are_answered_as_people_and_nothing_is_kept(app):
    visitor = app.test_client()
    trapped = visitor.post("/start", data=sent(visitor, website="http://spam.example"))
    too_fast = visitor.post("/start", data=sent(visitor))  # sent at once: no person fills a form that fast
    forged = visitor.post("/start", data=sent(visitor, form_key="made-up"))
    assert trapped.status_code == too_fast.status_code == 200 and "Thank you!" in too_fast.get_data(as_text=True)
    assert forged.status_code == 422
    assert count(ClientProfile) == 0 and count(OutboxMessage) == 0


def test_an_email_already_on_file_makes_no_second_profile_and_the_office_is_told(app, make, no_wait):
    make.client(first_name="Ola", last_name="Known", email="ola@example.com")
    visitor = app.test_client()
    answer = visitor.post("/start", data=sent(visitor))
    assert answer.status_code == 200 and "Thank you!" in answer.get_data(as_text=True)  # the same answer: no enumeration
    assert count(ClientProfile) == 1 and count(ClientLogin) == 0
    assert [m.kind for m in db.session.scalars(select(OutboxMessage))] == ["intake-received"]


def test_sending_is_rate_limited(app, no_wait):
    app.config["INTAKE_LIMIT"] = "2 per minute"
    visitor = app.test_client()
    statuses = [visitor.post("/start", data=sent(visitor, email=f"n{n}@example.com")).status_code for n in range(3)]
    assert statuses == [200, 200, 429] and count(ClientProfile) == 2


def test_only_the_business_site_may_frame_it_and_the_switch_turns_it_off(app):
    visitor = app.test_client()
    policy = visitor.get("/start").headers["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://www.barkandstroll.example" in policy
    assert "frame-ancestors 'none'" in visitor.get("/login").headers["Content-Security-Policy"]
    from services.settings import get_settings
    get_settings().intake_enabled = False
    db.session.commit()
    assert visitor.get("/start").status_code == 404


def test_odd_answers_are_refused_beside_their_fields_not_a_500(app, no_wait):
    visitor = app.test_client()
    odd = visitor.post("/start", data=sent(visitor, **{"pets-0-age": "²", "service_id": "99999999999999999999",
                                                       "start": "9999-12-31"}))
    body = odd.get_data(as_text=True)
    assert odd.status_code == 422
    for field_id in ("pets-0-age-error", "service_id-error", "start-error"):
        assert f'id="{field_id}"' in body, field_id
    # A message goes to the row it is about: the first row left empty, the second without its kind.
    rows = visitor.post("/start", data=sent(visitor, **{"pets-0-name": "", "pets-0-species": "", "pets-0-breed": "",
                                                        "pets-0-age": "", "pets-1-name": "Rex", "pets-1-species": ""}))
    assert rows.status_code == 422
    assert 'id="pets-1-species-error"' in rows.get_data(as_text=True)
    assert 'id="pets-0-species-error"' not in rows.get_data(as_text=True)
    assert count(ClientProfile) == 0


def test_an_email_on_file_in_other_letters_case_is_still_known(app, make, no_wait):
    known = make.client(first_name="Ola", last_name="Known", email="x@example.com")
    known.emails[0].email = "Ola@Example.com"  # as an old import may have kept it
    db.session.commit()
    visitor = app.test_client()
    assert visitor.post("/start", data=sent(visitor, email="ola@example.com")).status_code == 200
    assert count(ClientProfile) == 1 and count(ClientLogin) == 0
