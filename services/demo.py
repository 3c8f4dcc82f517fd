"""Demo data for trying Pawtal: a business with staff, clients, pets and resources."""
from __future__ import annotations

import io
import itertools
import random
import unicodedata
from datetime import date, timedelta

from PIL import Image, ImageDraw
from sqlalchemy import delete, select, update
from werkzeug.datastructures import FileStorage

from extensions import db
from filters import business_today
from models import (
    WINDOWS,
    BlockOut, ChecklistItem, ClientEmail, ClientLogin, ClientProfile, ClientStatus, CustomPrice, Pet, RequestStatus,
    NewsletterSubscriber, OutboxMessage, Role, Service,
    StaffUser, Visit, VisitEvent, VisitReport, VisitRequest, VisitStatus, as_utc, utcnow,
)
from services import billing, messages, newsletter, resources, signals
from services.settings import get_settings
from services.accounts import hash_password
from services.clients import digits, territory_for_zip
from services.pets import store_photo
from services.visits import local_moment

STAFF_LOGINS = [
    ("owner", "owner@pawtal.example", "demo-owner-2026"),
    ("manager", "manager@pawtal.example", "demo-manager-2026"),
    ("sitter", "sam@pawtal.example", "demo-sitter-2026"),
    ("sitter", "riley@pawtal.example", "demo-sitter-2026"),
]
CLIENT_LOGINS = [("jane.doe@example.com", "demo-client-2026")]

# Forty different people, so the demo reads like a real client list.
FIRST = ["Jane", "Omar", "Priya", "Liam", "Sofia", "Mateo", "Grace", "Noah", "Ava", "Ethan", "Mia", "Lucas",
         "Chloe", "Henry", "Zoe", "Arjun", "Ella", "Owen", "Nora", "Felix", "Hannah", "Diego", "Leila", "Marcus",
         "Ingrid", "Tomás", "Yuki", "Samuel", "Amara", "Victor", "Rachel", "Kwame", "Elena", "Patrick", "Mei",
         "Jonah", "Beatriz", "Isaac", "Fatima", "Theo"]
LAST = ["Doe", "Haddad", "Patel", "Murphy", "Rossi", "Garcia", "Kim", "Okafor", "Nguyen", "Schmidt", "Lopez",
        "Brown", "Dubois", "Walsh", "Cohen", "Singh", "Berg", "Tanaka", "Silva", "Novak", "Fischer", "Mendes",
        "Karimi", "Sullivan", "Larsen", "Ortega", "Sato", "Adeyemi", "Costa", "Lindqvist", "Goldberg", "Mensah",
        "Petrova", "O'Brien", "Chen", "Weiss", "Almeida", "Hughes", "Rahman", "Moreau"]
STREETS = ["Elm Street", "Hampshire Street", "Oxford Street", "Magazine Street", "Pearl Street", "Highland Avenue",
           "Beacon Street", "Summer Street", "Walnut Street", "Cedar Street", "Prospect Street", "Willow Avenue"]
DOGS = [("Biscuit", "Beagle"), ("Luna", "Labrador Retriever"), ("Milo", "Border Collie"), ("Pepper", "Poodle"),
        ("Rosie", "Golden Retriever"), ("Bear", "Bernese Mountain Dog"), ("Daisy", "Dachshund"),
        ("Scout", "Australian Shepherd"), ("Hazel", "Cocker Spaniel"), ("Otis", "French Bulldog"),
        ("Juniper", "Whippet"), ("Waffles", "Corgi"), ("Nova", "Siberian Husky"), ("Ziggy", "Jack Russell Terrier"),
        ("Maple", "Vizsla"), ("Bruno", "Boxer"), ("Penny", "Shih Tzu"), ("Atlas", "German Shepherd"),
        ("Clover", "Miniature Schnauzer"), ("Finn", "Greyhound"), ("Poppy", "Cavalier King Charles Spaniel"),
        ("Remy", "Shiba Inu"), ("Sadie", "Mixed breed"), ("Toby", "Pug")]
CATS = [("Mochi", "Domestic Shorthair"), ("Olive", "Siamese"), ("Tiger", "Maine Coon"), ("Cleo", "Ragdoll"),
        ("Pickles", "Domestic Longhair"), ("Salem", "Bombay"), ("Ginger", "Tabby"), ("Misty", "Russian Blue"),
        ("Figaro", "Tuxedo"), ("Lulu", "Bengal"), ("Smokey", "British Shorthair"), ("Nala", "Abyssinian")]
COLOURS = [(201, 140, 82), (60, 45, 40), (230, 215, 190), (120, 120, 125), (180, 90, 40)]
ZIPS = ["02139", "02140", "02141", "02142", "02143", "02144", "02145"]


def _slug(name: str) -> str:
    """ "Tomás" -> "tomas", "O'Brien" -> "obrien": a name as the plain letters of an email address."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum())


def draw_pet(name: str, colour: tuple[int, int, int], cat: bool) -> bytes:
    """A friendly cartoon face drawn with Pillow, so the demo downloads nothing."""
    image = Image.new("RGB", (480, 480), (236, 244, 240))
    d = ImageDraw.Draw(image)
    if cat:
        d.polygon([(110, 170), (150, 60), (210, 150)], fill=colour)
        d.polygon([(370, 170), (330, 60), (270, 150)], fill=colour)
    else:
        d.ellipse((70, 120, 160, 300), fill=tuple(max(0, c - 40) for c in colour))
        d.ellipse((320, 120, 410, 300), fill=tuple(max(0, c - 40) for c in colour))
    d.ellipse((110, 110, 370, 390), fill=colour)
    d.ellipse((175, 200, 205, 235), fill=(30, 30, 30))
    d.ellipse((275, 200, 305, 235), fill=(30, 30, 30))
    d.ellipse((218, 270, 262, 300), fill=(40, 25, 25))
    d.text((20, 440), name, fill=(30, 60, 50))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def seed(client_count: int = 40) -> bool:
    """Create the demo business unless it is already there; True when it created it."""
    if db.session.scalar(select(StaffUser).where(StaffUser.email == STAFF_LOGINS[0][1])):
        return False
    rng = random.Random(2026)
    staff = {}
    names = [("Olivia", "Bennett"), ("Marcus", "Reid"), ("Sam", "Ortiz"), ("Riley", "Chen")]
    for (role, email, password), (first, last) in zip(STAFF_LOGINS, names):
        user = StaffUser(email=email, first_name=first, last_name=last, role=Role(role),
                         password_hash=hash_password(password))
        db.session.add(user)
        staff[email] = user
    db.session.flush()
    sitters = [staff["sam@pawtal.example"], staff["riley@pawtal.example"]]

    walk = resources.save_service(None, "Dog walk (30 min)", 30, 2500, True)
    for position, (label, required) in enumerate([("Walked", True), ("Fresh water", True), ("Pee", False),
                                                  ("Poo", False), ("Treat given", False)]):
        db.session.add(ChecklistItem(service=walk, label=label, required=required, position=position))
    resources.save_service(None, "Dog walk (60 min)", 60, 4000, True)
    resources.save_service(None, "Drop-in visit", 30, 2200, True)
    resources.save_service(None, "Overnight stay", 720, 9500, True)
    vets = [
        resources.save_vet(None, "Riverside Animal Hospital", "(555) 010-2000", "12 River St"),
        resources.save_vet(None, "Cat & Canine Clinic", "(555) 010-3000", "400 Main St"),
    ]
    resources.save_territory(None, "Cambridge North", "02138 02139 02140")
    resources.save_territory(None, "Somerville", "02143 02144 02145")
    resources.save_policy(None, "Service agreement", "We care for your pets as our own. Visits are scheduled "
                                                      "once approved; cancellations within 24 hours are charged.", True)
    resources.save_policy(None, "Privacy notice", "We keep your details only to provide our services.", True)

    named = {True: itertools.count(), False: itertools.count()}
    statuses = [ClientStatus.ACTIVE] * 6 + [ClientStatus.PROSPECT] * 3 + [ClientStatus.INACTIVE]
    for i in range(client_count):
        first, last = FIRST[i % len(FIRST)], LAST[(i * 7 + i // len(FIRST)) % len(LAST)]
        zip_code = rng.choice(ZIPS)
        mobile = f"(555) 01{i // 10}-{1000 + i:04d}"
        client = ClientProfile(
            first_name=first, last_name=last, status=statuses[i % len(statuses)] if i else ClientStatus.ACTIVE,
            mobile_phone=mobile, phone_digits=digits(mobile), address_line1=f"{12 + (i * 37) % 180} {STREETS[i % len(STREETS)]}",
            city="Cambridge" if zip_code < "02143" else "Somerville", state="MA", zip=zip_code,
            territory_id=territory_for_zip(zip_code), uses_keys=i % 3 == 0,
            key_notes="Lockbox by the side door, code given by phone." if i % 3 == 0 else "",
            vet=vets[i % 2], emergency_name=f"{rng.choice(FIRST)} {last}", emergency_phone="(555) 010-9999",
            primary_sitter=sitters[i % 2], secondary_sitter=sitters[(i + 1) % 2] if i % 4 == 0 else None,
            staff_notes="Prefers texts to calls." if i % 5 == 0 else "",
        )
        address = "jane.doe@example.com" if i == 0 else f"{_slug(first)}.{_slug(last)}@example.com"
        client.emails = [ClientEmail(email=address, is_primary=True)]
        if i % 6 == 1:
            client.emails.append(ClientEmail(email=f"{_slug(last)}.household{i}@example.com", is_primary=False))
        db.session.add(client)
        db.session.flush()
        for j in range(1 + (i % 3 == 0) + (i % 7 == 0)):
            cat = (i + j) % 4 == 3
            kinds = CATS if cat else DOGS
            name, breed = kinds[next(named[cat]) % len(kinds)]  # each name in turn: few households share one
            pet = Pet(client=client, name=name, species="Cat" if cat else "Dog", breed=breed,
                      sex=rng.choice(["Female (spayed)", "Male (neutered)", "Female", "Male"]),
                      colour=rng.choice(["Tan", "Black", "Cream", "Grey", "Red"]),
                      born_year=2014 + (i + j) % 11, born_month=(i % 12) + 1 if i % 2 else None,
                      weight=None if cat else 20 + (i * 3) % 60, feeding="Breakfast and dinner, one cup.",
                      care_notes="Loves the park; pulls on the lead." if not cat else "Indoor only.",
                      active=not (i == 5 and j == 0))
            db.session.add(pet)
            upload = FileStorage(io.BytesIO(draw_pet(name, COLOURS[(i + j) % len(COLOURS)], cat)), "pet.png")
            pet.photo = store_photo(client, upload)
        client.refresh_search_text()
        if i % 8 == 0:
            db.session.add(CustomPrice(client=client, service=walk, price_cents=2200,
                                       effective_on=date.today() - timedelta(days=90), created_by=staff["owner@pawtal.example"]))
    jane = db.session.scalar(select(ClientEmail).where(ClientEmail.email == CLIENT_LOGINS[0][0])).client
    db.session.add(ClientLogin(client=jane, email=CLIENT_LOGINS[0][0], first_name=jane.first_name,
                               last_name=jane.last_name, password_hash=hash_password(CLIENT_LOGINS[0][1])))
    db.session.flush()
    _seed_visits(rng, sitters, staff["owner@pawtal.example"], jane)
    _seed_messages(staff["owner@pawtal.example"], jane)
    _seed_billing(rng, staff["owner@pawtal.example"])  # also drops the mail queued so far
    _seed_newsletter(staff["manager@pawtal.example"])
    # Written directly, like an import: onboarding learns who has finished getting started.
    signals.clients_imported.send(list(db.session.scalars(select(ClientProfile.id))))
    return True


def _seed_visits(rng: random.Random, sitters: list[StaffUser], owner: StaffUser, jane: ClientProfile) -> None:
    """Four weeks back and six ahead of walks for the active clients, a few requests waiting for
    approval (one of them Jane's), and the business closed over the holidays."""
    services = db.session.scalars(select(Service).order_by(Service.id)).all()
    today = business_today()
    active = db.session.scalars(select(ClientProfile).where(ClientProfile.status == ClientStatus.ACTIVE)
                                .order_by(ClientProfile.id)).all()
    christmas = date(today.year, 12, 24)
    db.session.add(BlockOut(starts_on=christmas, ends_on=christmas + timedelta(days=2),
                            note="Closed for the holidays", created_by=owner))
    for n, client in enumerate(active):
        pets = [p for p in client.pets if p.active]
        if not pets:
            continue
        window = list(WINDOWS)[n % 3]
        weekdays = {n % 5, (n + 2) % 5, (n + 4) % 7}
        pending = VisitRequest(client=client, status=RequestStatus.PENDING, notes="", decline_reason="",
                               login=client.logins[0] if client.logins else None)
        for offset in range(-28, 43):
            day = today + timedelta(days=offset)
            if day.weekday() not in weekdays or christmas <= day <= christmas + timedelta(days=2):
                continue
            waiting = (client is jane and 7 <= offset <= 11) or (n % 5 == 2 and 14 <= offset <= 16)
            service = services[n % 2] if rng.random() < .9 else services[2]
            _, start, end = WINDOWS[window]
            visit = Visit(client=client, service=service, day=day, starts_at=local_moment(day, start),
                          ends_at=local_moment(day, end), window=window, price_cents=service.base_price_cents,
                          status=VisitStatus.REQUESTED if waiting else VisitStatus.SCHEDULED,
                          sitter=None if waiting else client.primary_sitter or sitters[n % 2], pets=pets[:2],
                          notes="", late_cancellation=False, cancelled_by="", reason="")
            if not waiting and rng.random() < .04:  # now and then a client calls one off, sometimes late
                visit.status, visit.cancelled_by = VisitStatus.CANCELLED, "client"
                visit.cancelled_at = visit.starts_at - timedelta(hours=rng.choice([2, 30, 72]))
                visit.late_cancellation = visit.starts_at - visit.cancelled_at < timedelta(hours=24)
            if waiting:
                pending.visits.append(visit)
            db.session.add(visit)
        if pending.visits:
            db.session.add(pending)
    db.session.flush()
    _seed_done_visits(rng)


NOTES = ["Lovely walk by the river; lots of sniffing.", "A bit shy at first, then very playful.",
         "Ate everything, drank well, and napped in the sun.", "Met a friendly spaniel at the park."]


def _seed_done_visits(rng: random.Random) -> None:
    """The visits whose time has passed were checked in and out, mostly with a report; a few were short."""
    now = utcnow()
    past = db.session.scalars(select(Visit).where(Visit.status == VisitStatus.SCHEDULED, Visit.ends_at <= now)
                              .order_by(Visit.starts_at)).all()
    for visit in past:
        arrived = as_utc(visit.starts_at) + timedelta(minutes=rng.randint(0, 25))
        stayed = visit.service.duration_minutes * (rng.choice([1, 1, 1, 1.1, 0.4]))
        left = min(arrived + timedelta(minutes=stayed), now)
        visit.status, visit.checked_in_at, visit.checked_out_at = VisitStatus.COMPLETED, arrived, left
        db.session.add_all([VisitEvent(visit_id=visit.id, kind="check_in", at=arrived, staff_id=visit.sitter_id),
                            VisitEvent(visit_id=visit.id, kind="check_out", at=left, staff_id=visit.sitter_id)])
        if rng.random() < .85:
            lines = [{"label": item.label, "required": item.required, "done": item.required or rng.random() < .7}
                     for item in visit.service.checklist]
            db.session.add(VisitReport(visit_id=visit.id, client_id=visit.client_id, version=1, checklist=lines, notes=rng.choice(NOTES),
                                       mood=rng.choice(["happy", "calm", "playful", "tired"]), created_at=left,
                                       created_by_id=visit.sitter_id, reason=""))
    db.session.flush()


def _seed_newsletter(manager: StaffUser) -> None:
    """A few subscribers (most of them clients) and one newsletter sent last week, delivered long ago (nothing is
    queued to example.com addresses), one reader having left through its link; and a draft for the next one."""
    addresses = db.session.execute(select(ClientEmail.email, ClientEmail.client_id).where(ClientEmail.is_primary)
                                   .order_by(ClientEmail.id).limit(8)).all()
    week_ago = utcnow() - timedelta(days=7)
    for n, (address, client_id) in enumerate(addresses):
        name = db.session.get(ClientProfile, client_id).name
        db.session.add(NewsletterSubscriber(email=address, name=name, client_id=client_id, source="demo",
                                            state="pending" if n == 7 else "confirmed",
                                            created_at=week_ago - timedelta(days=30 - n), confirmed_at=None if n == 7
                                            else week_ago - timedelta(days=29 - n)))
    db.session.add(NewsletterSubscriber(email="walker.fan@example.net", name="Alex Walker", source="demo",
                                        state="confirmed", created_at=week_ago - timedelta(days=3),
                                        confirmed_at=week_ago - timedelta(days=3)))
    db.session.flush()
    sent = newsletter.create_campaign(newsletter.Draft(
        "Spring walks are back", "# Spring is here\n\nLonger days mean **longer walks**. Book early for the "
        "Easter week:\n\n- morning walks from 7 am\n- new drop-in visits for cats\n\nSee you soon!"), manager)
    newsletter.send_campaign(sent.id, manager)
    sent.sent_at = week_ago
    db.session.execute(update(OutboxMessage).where(OutboxMessage.kind == newsletter.KIND)
                       .values(sent_at=week_ago, secrets=None, attempts=1))
    leaver = db.session.scalars(select(NewsletterSubscriber).where(NewsletterSubscriber.state == "confirmed")
                                .order_by(NewsletterSubscriber.id.desc())).first()
    newsletter.unsubscribe(leaver, sent.id)
    newsletter.create_campaign(newsletter.Draft("Summer holidays: book your sitter", "Going away this summer? "
                                                "Tell us your dates early."), manager)
    db.session.flush()


def _seed_messages(owner: StaffUser, jane: ClientProfile) -> None:
    """Jane asked a question and was answered; she wrote to her sitter about a visit to come; a visitor wrote from
    the Contact page and waits for an answer."""
    login = jane.logins[0]
    thread = messages.write_to_business(jane, login, "Spare key", "Hi! I'll leave a spare key with my neighbour at "
                                                                  "no. 14 next week. Is that all right?")
    messages.reply(thread, owner, "Perfectly all right, thank you Jane. We'll pick it up on Monday.")
    upcoming = db.session.scalar(select(Visit).where(Visit.client_id == jane.id, Visit.status == VisitStatus.SCHEDULED,
                                                     Visit.day > business_today()).order_by(Visit.starts_at))
    if upcoming is not None:
        messages.write_about_visit(upcoming, login, "The gate code changed: it is 2468 now.")
        if upcoming.sitter is not None:
            messages.write_about_visit(upcoming, upcoming.sitter, "Got it, thanks! See you then.")
    # As the Contact page keeps it, past its guards against robots (which are for what browsers send).
    messages.from_visitor(messages.Contact("Priya Shah", "priya.shah@example.com", "(555) 010-4321", "Puppy walks?",
                                           "Do you walk puppies under six months? Ours is four months old."))


def _seed_billing(rng: random.Random, owner: StaffUser) -> None:
    """Last month's visits invoiced on the 1st, most of them paid by check or transfer since; this month's
    done visits are left for the owner to bill ("Create invoices")."""
    settings = get_settings()
    settings.billing_mode, settings.billing_cycle, settings.billing_cycle_day = "cycle", "monthly", 1
    settings.payment_terms_days = 14
    settings.how_to_pay = ("Pay by check to Pawtal Pet Care, or by bank transfer to account 000123456 "
                           "(routing 011000015), with your invoice number as the reference.")
    settings.late_fee_tiers = [{"hours": 24, "percent": 50}, {"hours": 2, "percent": 100}]
    today = business_today()
    start, end = billing.period_containing(today.replace(day=1) - timedelta(days=1))
    issued = end + timedelta(days=1)
    for invoice in billing.create_drafts(start, end, owner):
        billing.issue_invoice(invoice, owner, today=issued)
        paid_on = min(today, issued + timedelta(days=rng.randint(3, 12)))
        if rng.random() < .7:
            method, reference = rng.choice([("check", str(rng.randint(1000, 9999))), ("bank_transfer", "")])
            billing.record_payment(invoice.client, method, invoice.total_cents, paid_on, reference, "", owner)
    db.session.flush()
    # The demo's invoices and receipts were "sent" long ago: nothing is queued to example.com addresses.
    db.session.execute(delete(OutboxMessage).where(OutboxMessage.sent_at.is_(None)))
