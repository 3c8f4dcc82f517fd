"""Every route states who may use it; walk them all with each kind of account."""
import io
import re
from dataclasses import dataclass
from datetime import date, time

import pytest
from werkzeug.datastructures import FileStorage

from access import CLIENT, PUBLIC, STAFF, rule_of
from extensions import db
from sqlalchemy import select

from models import BlockOut, ClientLogin, ClientProfile, OutboxMessage, PaymentMethod, Policy, Role, StaffUser
from models import NewsletterCampaign, NewsletterSubscriber
from models import Invoice, InvoiceStatus, LedgerEntry, OnlinePayment, VisitStatus, utcnow
from filters import business_today
from services import billing, messages, reports, visits
from services.documents import store_document
from services.forms import FieldSpec, save_form, submit
from services.invites import send_invitations, use_invitation
from services.pets import store_photo
from services.resources import save_service
from tests.conftest import login_as, stripe_config
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
    subscriber = NewsletterSubscriber(email="reader@example.com", state="confirmed", client_id=client.id)
    campaign = NewsletterCampaign(subject="News", body_markdown="Hello.")
    db.session.add_all([subscriber, campaign])
    db.session.commit()
    thread = messages.write_to_business(client, login, "Hello", "A question",
                                        FileStorage(io.BytesIO(png_bytes()), "q.png"))
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
              "visit_id": visit_request.visits[0].id, "request_id": visit_request.id, "blockout_id": blockout.id,
              "report_photo_id": 1, "invoice_id": 1, "entry_id": 1, "payment_id": 1, "line_id": 1, "online_id": 1,
              "logo_name": "no-such-logo.png", "campaign_id": campaign.id, "subscriber_id": subscriber.id,
              "thread_id": thread.id, "attachment_id": thread.messages[0].id}
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


@dataclass
class Household:
    """One client's whole file: the ids that name their things, their login and their sitter."""

    ids: dict
    login: ClientLogin
    sitter: StaffUser


def _furnish(make, client: ClientProfile, sitter: StaffUser, manager: StaffUser, service, form,
             label: str) -> Household:
    """Give a client what clients have: a login from an invitation, a pet with a photo and a document,
    form answers, a card on file and a visit request approved for their own sitter."""
    pet = make.pet(client, name=f"Pet{label}")
    pet.photo = store_photo(client, FileStorage(io.BytesIO(png_bytes()), f"{label}.png"))
    db.session.commit()
    [invitation] = send_invitations([client], manager)
    db.session.commit()
    login = ClientLogin(client=client, email=client.emails[0].email, first_name=client.first_name,
                        password_hash=make.password_hash)
    db.session.add(login)
    db.session.flush()
    use_invitation(invitation, login)
    db.session.commit()
    response = submit(form, client, None, login, {"f1": "yes"}, {})
    db.session.commit()
    document = store_document(client, FileStorage(io.BytesIO(png_bytes()), f"{label}.png"), "Rabies", pet)
    db.session.commit()
    method = PaymentMethod(client_id=client.id, stripe_id=f"pm_{label}", kind="card", brand="visa", last4="4242")
    db.session.add(method)
    db.session.commit()
    visit_request = visits.request_visits(client, login, visits.Plan([service], [date(2030, 3, 4)], "morning",
                                                                     time(8), time(11), [pet]))
    db.session.commit()
    [visit] = visit_request.visits
    visits.decide_request(visit_request, manager, [visits.Approval(visit.id, True)], sitter, "")
    db.session.commit()
    # The visit happened (set here: it is years ahead), with a report and a photo the client may see.
    visit.status, visit.checked_in_at = VisitStatus.IN_PROGRESS, utcnow()
    db.session.commit()
    report_photo = reports.add_photo(visit, sitter, FileStorage(io.BytesIO(png_bytes()), f"{label}.png"))
    reports.send_report(visit, sitter, set(), f"Walked {label}", "happy")
    db.session.commit()
    # An invoice sent and a payment recorded against it: the account page, the invoice, its PDF, the receipt.
    invoice = Invoice(client=client, status=InvoiceStatus.DRAFT, notes="", void_reason="", paid_cents=0)
    db.session.add(invoice)
    billing.add_line(invoice, "charge", f"Key cut {label}", 1500, None, None)
    billing.issue_invoice(invoice, manager)
    payment = billing.record_payment(client, "cash", 500, business_today(), "", "", manager)
    db.session.commit()
    entry = db.session.scalars(select(LedgerEntry).where(LedgerEntry.payment_id == payment.id)).one()
    # A payment started online whose card was declined: its page says so (no call to Stripe needed).
    online = OnlinePayment(client_id=client.id, idempotency_key=f"key-{label}", content_key=f"content-{label}",
                           source="portal", status="failed", amount_cents=1000, plan=[[invoice.id, 1000]],
                           method_kind="card", method_label="Visa ending 4242", failure_message="Declined")
    db.session.add(online)
    db.session.commit()
    # The visit's thread (its sitter and the client read it), a photo with its first message.
    thread = messages.write_about_visit(visit, login, f"Gate code {label}", FileStorage(io.BytesIO(png_bytes()), "gate.png"))
    db.session.commit()
    ids = {"client_id": client.id, "pet_id": pet.id, "photo_id": pet.photo_id, "document_id": document.id,
           "response_id": response.id, "method_id": method.id, "login_id": login.id, "invitation_id": invitation.id,
           "request_id": visit_request.id, "visit_id": visit.id, "report_photo_id": report_photo.id,
           "invoice_id": invoice.id, "entry_id": entry.id, "online_id": online.id, "thread_id": thread.id,
           "attachment_id": thread.messages[0].id}
    return Household(ids, login, sitter)


@pytest.fixture
def households(app, make, localstripe):
    """Households A and B, each the only client of its own sitter; the business's service and form are shared."""
    app.config.update(stripe_config(localstripe))  # the card routes exist only when Stripe is set up
    manager = make.staff(Role.MANAGER)
    service = save_service(None, "Walk", 30, 2000, True)
    db.session.commit()
    form = save_form(None, "Vet release", "", False, False, True, [FieldSpec("Vet may treat?", "yes_no")])
    db.session.commit()
    sitters = [make.staff(Role.SITTER, first_name=f"Sitter{label}") for label in "AB"]
    clients = [make.client(first_name=f"Client{label}", primary_sitter_id=sitter.id)
               for label, sitter in zip("AB", sitters)]
    # B's things are made first: where tables number rows from the same start, B's pet, photo, visit...
    # carry A's client id and A's carry B's, so a view that checks one kind of id as another is caught.
    theirs = _furnish(make, clients[1], sitters[1], manager, service, form, "B")
    mine = _furnish(make, clients[0], sitters[0], manager, service, form, "A")
    return mine, theirs


# Routes with an integer id that names none of a client's things, so there is no "other client's id"
# to try: each is the business's own, shared by every client, or about staff.
NOT_CLIENT_OWNED = {
    "auth.policy": "a policy is a public page that every visitor may read",
    "client_forms.edit": "a form's definition is the business's (owners and managers build forms)",
    "portal.fill_form": "form_id names a business-wide form that every client may fill; a per-pet form's pet "
                        "comes in ?pet=, which _task_or_404 checks against the client's own pets",
    "resources.edit": "services, vets, territories and policies are the business's, not a client's",
    "resources.update": "services, vets, territories and policies are the business's, not a client's",
    "resources.delete": "services, vets, territories and policies are the business's, not a client's",
    "staff.update": "a staff id names a team member (owners only)",
    "outbox.retry": "an outbox message is the business's mail queue (owners and managers only)",
    "schedule.delete_blockout": "a block-out closes the business for every client (owners and managers only)",
}
INT_ARGUMENT = re.compile(r"<int(?:\([^)]*\))?:(\w+)>")


def test_not_client_owned_routes_exist(app):
    """The allow-list names routes that exist and take an id, so a renamed route cannot hide behind it."""
    with_ids = {r.endpoint for r in app.url_map.iter_rules() if INT_ARGUMENT.search(r.rule)}
    assert set(NOT_CLIENT_OWNED) - with_ids == set()


def _walkers(rule) -> tuple[str, ...]:
    """Who walks a route with another client's ids: the kind of account that may use it but must not
    see every client. Nobody walks the routes for owners and managers only: sitters are refused
    with 403 before any id is read (test_role_matrix), and owners and managers see every client."""
    kind, roles = rule
    if kind == CLIENT:
        return ("client",)
    if kind == STAFF and not roles:
        return ("sitter",)
    return ()


def _id_routes(app, who: str) -> list[tuple]:
    """(url rule, method) for every route with an integer id that `who` walks, GETs first."""
    routes = []
    for url_rule in app.url_map.iter_rules():
        if not INT_ARGUMENT.search(url_rule.rule) or url_rule.endpoint in NOT_CLIENT_OWNED:
            continue
        rule = rule_of(url_rule.endpoint)
        assert rule[0] != PUBLIC, f"{url_rule.rule} is public but takes a client's id"
        if who in _walkers(rule):
            routes += [(url_rule, method) for method in url_rule.methods & {"GET", "POST"}]
    return sorted(routes, key=lambda item: (item[1], item[0].rule))


def _status(app, account, url: str, method: str) -> int | str:
    """The status `account` gets, or what the view raised: a crash is reported with the other answers."""
    test_client = app.test_client()
    login_as(test_client, account)
    try:
        return test_client.open(url, method=method, data={}).status_code
    except Exception as error:  # noqa: BLE001 - walk every route, then assert once
        db.session.rollback()
        return f"raised {type(error).__name__}: {error}"


def _walk(app, account, routes: list[tuple], household: Household):
    """(method, url, endpoint, status) for each route, built with the household's ids."""
    for url_rule, method in routes:
        missing = sorted(url_rule.arguments - household.ids.keys())
        if missing:
            yield (method, url_rule.rule, url_rule.endpoint,
                   f"no household id for {', '.join(missing)}: add it in _furnish, or the route to NOT_CLIENT_OWNED")
            continue
        url = url_rule.build({k: household.ids[k] for k in url_rule.arguments}, append_unknown=False)[1]
        yield method, url, url_rule.endpoint, _status(app, account, url, method)


@pytest.mark.parametrize("who", ["client", "sitter"])
def test_other_clients_ids_answer_404(app, households, who):
    """Every route with an id, with household B's ids, as A's client login or A's sitter: 404, as if
    B's things did not exist. With A's own ids the same routes must answer (not 404, no server
    error), so the walk cannot pass by answering 404 to everyone."""
    mine, theirs = households
    account = mine.login if who == "client" else mine.sitter
    routes = _id_routes(app, who)
    assert routes, f"no route with an id is walked as {who}"
    leaks = [f"{method} {url} ({endpoint}) as {who}: {status}"
             for method, url, endpoint, status in _walk(app, account, routes, theirs) if status != 404]
    blind = [f"{method} {url} ({endpoint}) as {who}: {status}"
             for method, url, endpoint, status in _walk(app, account, routes, mine)
             if not isinstance(status, int) or status == 404 or status >= 500]
    assert not leaks and not blind, "\n".join(
        [f"{len(leaks)} of {len(routes)} routes did not answer 404 to B's ids:", *leaks,
         f"{len(blind)} of {len(routes)} routes did not answer A's own ids:", *blind])
