"""Card on file against localstripe (a fake Stripe over HTTP), and the signed, replay-safe webhook."""
import time

import pytest
import stripe
from sqlalchemy import select

from extensions import db
from models import ClientProfile, PaymentMethod, StripeEvent
from services import cards
from services.settings import update_settings
from tests.conftest import HX, signed_event, stripe_config


@pytest.fixture
def app_config(localstripe):
    return stripe_config(localstripe)


@pytest.fixture
def me(me, make):
    """Nia with a pet: the pets step is done."""
    make.pet(me.client, name="Rex")
    return me


def _stripe(app) -> stripe.StripeClient:
    with app.app_context():
        return cards.client()


def _confirm_in_stripe(app, secret: str, card: str = "pm_card_visa") -> str:  # localstripe knows pm_card_visa
    """What Stripe.js does in the browser: confirm the SetupIntent with a card."""
    intent_id = secret.split("_secret_")[0]
    return _stripe(app).v1.setup_intents.confirm(intent_id, params={"payment_method": card}).id


def _secret(response) -> str:
    body = response.get_data(as_text=True)
    return body.split('data-client-secret="')[1].split('"')[0]


def test_card_on_file_add_show_replace_remove(app, portal, me):
    page = portal.get("/portal/card")
    assert page.status_code == 200 and "No card on file yet." in page.get_data(as_text=True)
    assert "/js.stripe.com/v3/" not in page.get_data(as_text=True)  # Stripe.js comes with the card form only
    assert "127.0.0.1" in page.headers["Content-Security-Policy"]
    entry = portal.post("/portal/card/setup", data={"kind": "card"}, headers={**HX, "HX-Target": "card-entry"})
    assert entry.status_code == 200 and "<html" not in entry.get_data(as_text=True)
    assert "/js.stripe.com/v3/" in entry.get_data(as_text=True)
    client = db.session.get(ClientProfile, me.client_id)
    assert client.stripe_customer_id.startswith("cus_")
    intent = _confirm_in_stripe(app, _secret(entry))
    saved = portal.post("/portal/card/confirm", data={"setup_intent": intent})
    assert saved.status_code == 303
    [method] = db.session.scalars(select(PaymentMethod)).all()
    assert (method.kind, method.brand, method.last4, method.status) == ("card", "visa", "4242", "active")
    assert method.exp_year and method.stripe_id.startswith("pm_")
    assert "Visa ending 4242" in portal.get("/portal/card").get_data(as_text=True)
    attached = _stripe(app).v1.payment_methods.retrieve(method.stripe_id)
    assert attached.customer == client.stripe_customer_id

    replace = portal.post("/portal/card/setup", data={"kind": "card"}, headers={**HX, "HX-Target": "card-entry"})
    first_id = method.stripe_id
    second = _confirm_in_stripe(app, _secret(replace))
    portal.post("/portal/card/confirm", data={"setup_intent": second})
    db.session.expire_all()
    [method] = db.session.scalars(select(PaymentMethod)).all()
    assert method.stripe_id != first_id  # the old card was replaced...
    assert _stripe(app).v1.payment_methods.retrieve(first_id).customer is None  # ...and detached at Stripe
    removed = portal.post(f"/portal/card/{method.id}/remove", headers={**HX, "HX-Target": "card"})
    assert removed.status_code == 200 and "No card on file yet." in removed.get_data(as_text=True)
    assert db.session.scalar(select(PaymentMethod)) is None


def test_a_setup_intent_of_another_customer_is_refused(app, portal, make, password_hash):
    other = make.client(email="other@example.com")
    with app.app_context():
        secret = cards.start_setup(other)
    intent = _confirm_in_stripe(app, secret)
    response = portal.post("/portal/card/confirm", data={"setup_intent": intent})
    assert response.status_code == 303
    assert "does not belong to this account" in portal.get("/portal/card").get_data(as_text=True)
    assert db.session.scalar(select(PaymentMethod)) is None


def test_another_clients_card_id_is_404(app, portal, make):
    other = make.client()
    row = PaymentMethod(client_id=other.id, stripe_id="pm_other", kind="card", brand="visa", last4="1111")
    db.session.add(row)
    db.session.commit()
    assert portal.post(f"/portal/card/{row.id}/remove").status_code == 404
    assert db.session.get(PaymentMethod, row.id) is not None


def test_required_card_is_an_onboarding_step_until_on_file(app, portal, me):
    update_settings(True, True, {}, {})
    db.session.commit()
    body = portal.get("/portal/").get_data(as_text=True)
    assert "Getting started: step 3 of 3" in body and "Put a card on file." in body and "Add a card" in body
    entry = portal.post("/portal/card/setup", data={"kind": "card", "widget": "1"},
                        headers={**HX, "HX-Target": "card-entry"})
    assert 'name="widget" value="1"' in entry.get_data(as_text=True)
    intent = _confirm_in_stripe(app, _secret(entry))
    done = portal.post("/portal/card/confirm", data={"setup_intent": intent, "widget": "1"})
    assert done.headers["Location"] == "/portal/"
    assert "Welcome, Nia" in portal.get("/portal/").get_data(as_text=True)


def test_without_stripe_keys_the_card_step_and_pages_are_hidden(app, portal, as_manager):
    app.config.update(STRIPE_SECRET_KEY="", STRIPE_PUBLISHABLE_KEY="")
    update_settings(True, True, {}, {})
    db.session.commit()
    body = portal.get("/portal/").get_data(as_text=True)
    assert "Card on File" not in body and "Welcome, Nia" in body
    assert portal.get("/portal/card").status_code == 404
    assert "Card features are hidden from clients until Stripe is set up" in as_manager.get("/settings/").get_data(
        as_text=True)


def test_cards_switch_off_hides_the_menu_and_404s(portal):
    assert ">Card on file</a>" in portal.get("/portal/").get_data(as_text=True)
    update_settings(True, False, {}, {}, {"portal_cards": False})
    db.session.commit()
    assert portal.get("/portal/card").status_code == 404
    assert ">Card on file</a>" not in portal.get("/portal/").get_data(as_text=True)


def _post_event(client, event: dict, **kw):
    body, signature = signed_event(event, **kw)
    return client.post("/stripe/webhook", data=body, headers={"Stripe-Signature": signature,
                                                               "Content-Type": "application/json"})


def _event(event_id: str, kind: str, obj: dict) -> dict:
    return {"id": event_id, "object": "event", "type": kind, "created": int(time.time()), "api_version": "2024-06-20",
            "data": {"object": obj}}


def _bank(pm_id: str, customer: str) -> dict:
    return {"id": pm_id, "object": "payment_method", "type": "us_bank_account", "customer": customer,
            "us_bank_account": {"bank_name": "STRIPE TEST BANK", "last4": "6789", "account_type": "checking"}}


def test_webhook_refuses_bad_signatures_and_changes_nothing(app, client, me):
    profile = db.session.get(ClientProfile, me.client_id)
    profile.stripe_customer_id = "cus_bank"
    db.session.commit()
    event = _event("evt_1", "payment_method.attached", _bank("pm_bank", "cus_bank"))
    assert _post_event(client, event, secret="whsec_wrong").status_code == 400
    assert _post_event(client, event, timestamp=int(time.time()) - 3600).status_code == 400  # too old
    body, signature = signed_event(event)
    tampered = client.post("/stripe/webhook", data=body.replace(b"6789", b"0000"),
                           headers={"Stripe-Signature": signature})
    assert tampered.status_code == 400
    assert client.post("/stripe/webhook", data=body).status_code == 400  # no signature
    assert db.session.scalar(select(PaymentMethod)) is None and db.session.scalar(select(StripeEvent)) is None


def test_bank_account_states_follow_signed_events_and_a_replay_changes_nothing(app, client, portal, me):
    update_settings(True, True, {}, {}, accept_bank_accounts=True)
    db.session.commit()
    profile = db.session.get(ClientProfile, me.client_id)
    profile.stripe_customer_id = "cus_bank"
    db.session.commit()
    attached = _post_event(client, _event("evt_a", "payment_method.attached", _bank("pm_bank", "cus_bank")))
    assert attached.status_code == 200 and attached.json["outcome"] == "kept"
    method = db.session.scalar(select(PaymentMethod))
    assert (method.kind, method.brand, method.last4, method.status) == ("us_bank_account", "STRIPE TEST BANK", "6789",
                                                                        "pending")
    assert "waiting for verification" in portal.get("/portal/card").get_data(as_text=True)
    assert "Put a card on file." in portal.get("/portal/").get_data(as_text=True)  # pending is not usable yet

    succeeded = _event("evt_s", "setup_intent.succeeded", {"id": "seti_1", "object": "setup_intent",
                                                          "customer": "cus_bank", "payment_method": "pm_bank",
                                                          "status": "succeeded"})
    assert _post_event(client, succeeded).json["outcome"] == "active"
    db.session.expire_all()
    assert db.session.scalar(select(PaymentMethod)).status == "active"
    assert "Welcome, Nia" in portal.get("/portal/").get_data(as_text=True)

    updated = _event("evt_u", "payment_method.updated", {**_bank("pm_bank", "cus_bank"),
                                                          "us_bank_account": {"bank_name": "NEW BANK",
                                                                              "last4": "6789"}})
    assert _post_event(client, updated).json["outcome"] == "updated"
    detached = _event("evt_d", "payment_method.detached", {**_bank("pm_bank", None)})
    assert _post_event(client, detached).json["outcome"] == "removed"
    assert db.session.scalar(select(PaymentMethod)) is None
    replay = _post_event(client, _event("evt_a", "payment_method.attached", _bank("pm_bank", "cus_bank")))
    assert replay.status_code == 200 and replay.json["outcome"] == "duplicate"
    assert db.session.scalar(select(PaymentMethod)) is None  # the replayed attach did not bring it back
    assert db.session.scalar(select(db.func.count(StripeEvent.id))) == 4


def test_a_failed_bank_setup_removes_the_pending_account(app, client, me):
    profile = db.session.get(ClientProfile, me.client_id)
    profile.stripe_customer_id = "cus_bank"
    db.session.commit()
    _post_event(client, _event("evt_r", "setup_intent.requires_action", {
        "id": "seti_2", "object": "setup_intent", "customer": "cus_bank", "status": "requires_action",
        "payment_method": _bank("pm_bank2", "cus_bank")}))
    assert db.session.scalar(select(PaymentMethod)).status == "pending"
    _post_event(client, _event("evt_f", "setup_intent.setup_failed", {
        "id": "seti_2", "object": "setup_intent", "customer": "cus_bank", "status": "requires_payment_method",
        "payment_method": "pm_bank2"}))
    assert db.session.scalar(select(PaymentMethod)) is None


def test_bank_accounts_are_offered_only_when_the_business_accepts_them(portal):
    assert "Add a US bank account" not in portal.get("/portal/card").get_data(as_text=True)
    assert portal.post("/portal/card/setup", data={"kind": "us_bank_account"}).status_code == 404
    update_settings(True, False, {}, {}, accept_bank_accounts=True)
    db.session.commit()
    assert "Add a US bank account" in portal.get("/portal/card").get_data(as_text=True)
