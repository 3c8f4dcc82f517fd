"""Every route states who may use it; walk them all with each kind of account."""
import io
from datetime import date, time

import pytest
from werkzeug.datastructures import FileStorage

from access import CLIENT, PUBLIC, STAFF, rule_of
from extensions import db
from sqlalchemy import select

from models import BlockOut, ClientLogin, OutboxMessage, PaymentMethod, Policy, Role
from services import visits
from services.documents import store_document
from services.forms import FieldSpec, save_form, submit
from services.invites import send_invitations
from services.pets import store_photo
from services.resources import save_service
from tests.conftest import login_as
from tests.test_pets import png_bytes


def test_every_route_declares_its_rule(app):
    undeclared = [rule.endpoint for rule in app.url_map.iter_rules()
                  if rule.endpoint != "static" and rule_of(rule.endpoint) is None]
    assert undeclared == []


@pytest.fixture
def world(app, make, password_hash):
    sitter = make.staff(Role.SITTER)
    client = make.client(primary_sitter_id=sitter.id)
    pet = make.pet(client)
    photo = store_photo(client, FileStorage(io.BytesIO(png_bytes()), "p.png"))
    db.session.commit()
    service = save_service(None, "Walk", 30, 2000, True)
    db.session.commit()
    login = ClientLogin(client=client, email="portal@example.com", password_hash=password_hash)
    db.session.add(login)
    db.session.commit()
    other = make.client()
    [invitation] = send_invitations([other], None)
    db.session.commit()
    policy = Policy(title="Terms", body="Be kind.", version=1, required_at_registration=True)
    db.session.add(policy)
    db.session.commit()
    form = save_form(None, "Vet release", "", False, False, True, [FieldSpec("Vet may treat?", "yes_no")])
    db.session.commit()
    response = submit(form, client, None, login, {"f1": "yes"}, {})
    db.session.commit()
    document = store_document(client, FileStorage(io.BytesIO(png_bytes()), "cert.png"), "Rabies", pet)
    db.session.commit()
    method = PaymentMethod(client_id=client.id, stripe_id="pm_world", kind="card", brand="visa", last4="4242")
    db.session.add(method)
    blockout = BlockOut(starts_on=date(2030, 1, 1), ends_on=date(2030, 1, 2), note="Closed")
    db.session.add(blockout)
    db.session.commit()
    visit_request = visits.request_visits(client, login, visits.Plan([service], [date(2030, 2, 4)], "morning", time(8),
                                                                     time(11), [pet]))
    db.session.commit()
    accounts = {
        "anonymous": None,
        "client": login,
        "sitter": sitter,
        "manager": make.staff(Role.MANAGER),
        "owner": make.staff(Role.OWNER),
    }
    values = {"client_id": client.id, "pet_id": pet.id, "photo_id": photo.id, "item_id": service.id,
              "kind": "services", "staff_id": sitter.id, "fmt": "csv", "login_id": login.id,
              "invitation_id": invitation.id, "message_id": db.session.scalar(select(OutboxMessage.id)),
              "policy_id": policy.id, "purpose": "reset", "token": "not-a-token", "form_id": form.id,
              "response_id": response.id, "document_id": document.id, "method_id": method.id,
              "visit_id": visit_request.visits[0].id, "request_id": visit_request.id, "blockout_id": blockout.id}
    return accounts, values


def _allowed(rule, who: str) -> bool:
    kind, roles = rule
    if kind == PUBLIC:
        return True
    if who == "anonymous":
        return False
    if kind == CLIENT:
        return who == "client"
    assert kind == STAFF
    return who != "client" and (not roles or Role(who) in roles)


@pytest.mark.parametrize("who", ["anonymous", "client", "sitter", "manager", "owner"])
def test_role_matrix(app, world, who):
    accounts, values = world
    checked = 0
    for url_rule in app.url_map.iter_rules():
        if url_rule.endpoint == "static":
            continue
        rule = rule_of(url_rule.endpoint)
        url = url_rule.build({k: values[k] for k in url_rule.arguments}, append_unknown=False)[1]
        for method in sorted(url_rule.methods - {"HEAD", "OPTIONS"}):
            test_client = app.test_client()
            if accounts[who] is not None:
                login_as(test_client, accounts[who])
            response = test_client.open(url, method=method, data={})
            status = response.status_code
            where = f"{method} {url} as {who}: {status}"
            if _allowed(rule, who):
                assert status not in (401, 403), where
                if rule[0] != PUBLIC:
                    assert not (status == 302 and "login" in response.headers.get("Location", "")), where
            elif who == "anonymous":
                sign_in = "/login" if rule[0] == CLIENT else "/staff/login"
                assert status == 302 and response.headers["Location"].startswith(sign_in), where
            else:
                assert status == 403, where
            checked += 1
    assert checked > 30
