"""`make loadtest`: a mixed crowd against 4 gunicorn workers on PostgreSQL with Redis, then a count of what it did.

Empties a PostgreSQL database (LOADTEST_DATABASE_URL, default postgresql+psycopg://postgres@127.0.0.1:5432/loadtest),
migrates it with `flask db upgrade`, seeds a business (services/demo.py with LOADTEST_CLIENTS clients, plus staff,
client logins, cards on file at localstripe, today's visits for the sitters), and serves it with gunicorn (4 workers)
on a free loopback port, with the sign-in limits counted in Redis (LOADTEST_REDIS_URL, a database of its own that is
flushed first), the outbox sender of each worker on, mail to a loopback SMTP server this script runs and Stripe at
localstripe. Then locust runs headless (LOADTEST_USERS users, LOADTEST_SPAWN_RATE a second, for LOADTEST_DURATION);
a third of the way in, `flask billing remind` and `flask billing autopay` each run twice at once, as from two hosts.

Afterwards it prints the requests, the failures and p50/p95 per kind, and checks that every change that was answered
2xx/3xx is in the database exactly once, that nothing the crowd did not ask for is, and that every email queued was
delivered once. Exit status 1 when any check fails.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from datetime import timedelta
from email import message_from_bytes
from email.header import decode_header, make_header

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
BIN = os.path.join(ROOT, ".venv", "bin")

DATABASE_URL = os.environ.get("LOADTEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/loadtest")
REDIS_URL = os.environ.get("LOADTEST_REDIS_URL", "redis://127.0.0.1:6379/14")
USERS = int(os.environ.get("LOADTEST_USERS", 40))
SPAWN_RATE = os.environ.get("LOADTEST_SPAWN_RATE", "2")
DURATION = os.environ.get("LOADTEST_DURATION", "3m")
CLIENTS = int(os.environ.get("LOADTEST_CLIENTS", 300))
WORKERS = int(os.environ.get("LOADTEST_WORKERS", 4))
PASSWORD = "loadtest-password-1"
# Every simulated person signs in from 127.0.0.1: the per-address sign-in limits (10 a minute by default) are
# raised for the run through their documented variables; the limits are still counted, in Redis.
LOGIN_LIMIT = "100000 per minute"
SITTERS, SITTER_VISITS, MANAGERS, DESK = 16, 30, 3, 4


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{what} did not start (exit {process.poll()})")
            time.sleep(0.2)


def wait_until_healthy(host: str, server: subprocess.Popen, seconds: float = 240) -> None:
    """Until /healthz answers 200 (the workers import the app first: tens of seconds on a busy machine)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if urllib.request.urlopen(f"{host}/healthz", timeout=seconds).status == 200:
                return
        except OSError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"gunicorn did not become healthy (exit {server.poll()})")
        time.sleep(0.5)


def parse_seconds(duration: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600}
    return int(duration[:-1]) * units[duration[-1]] if duration[-1] in units else int(duration)


def empty_database(url: str) -> None:
    """Drop and create the PostgreSQL database named in `url` (never anything but PostgreSQL)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    target = make_url(url)
    if not target.drivername.startswith("postgresql"):
        raise SystemExit(f"the load test runs on PostgreSQL, not {target.drivername}")
    engine = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    engine.dispose()


def flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


class Inbox:
    """aiosmtpd handler keeping (Message-ID, recipients, subject) of every message received."""

    def __init__(self):
        self.messages: list[tuple[str, tuple[str, ...], str]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        message = message_from_bytes(envelope.content)
        subject = str(make_header(decode_header(message["Subject"] or "")))
        with self.lock:
            self.messages.append((message["Message-ID"], tuple(sorted(envelope.rcpt_tos)), subject))
        return "250 OK"


def start_localstripe() -> tuple[subprocess.Popen, str]:
    port = free_port()
    code = ("import aiohttp.web, localstripe.server as s; "
            f"aiohttp.web.run_app(s.app, host='127.0.0.1', port={port}, print=None)")
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, process, "localstripe")
    return process, f"http://127.0.0.1:{port}"


def seed(app) -> dict:
    """The business the crowd works in, and the plan the locustfile reads: who signs in as what."""
    from sqlalchemy import delete, func, select

    from extensions import db
    from filters import business_today
    from models import (
        ClientLogin, ClientProfile, Invoice, InvoiceStatus, OutboxMessage, Role, Service, StaffUser, Visit,
        VisitStatus, utcnow,
    )
    from services import billing, cards, demo
    from services.accounts import hash_password
    from services.settings import get_settings

    with app.app_context():
        demo.seed(client_count=CLIENTS)
        secret = hash_password(PASSWORD)  # one hash for every account: argon2 takes a while each
        db.session.execute(StaffUser.__table__.update().values(password_hash=secret))
        staff = {}
        for kind, role, count in (("desk", Role.MANAGER, DESK - 1), ("managers", Role.MANAGER, MANAGERS),
                                  ("sitters", Role.SITTER, SITTERS)):
            staff[kind] = [StaffUser(email=f"{kind}{n}@loadtest.example", first_name=f"{kind.title()}{n}",
                                     last_name="Load", role=role, password_hash=secret) for n in range(count)]
            db.session.add_all(staff[kind])
        owner = db.session.scalar(select(StaffUser).where(StaffUser.role == Role.OWNER))
        settings = get_settings()
        settings.reminder_days = [1]
        settings.autopay_mode = "offered"
        db.session.flush()

        clients = db.session.scalars(select(ClientProfile).order_by(ClientProfile.id)).all()
        for profile in clients:
            if not profile.logins:
                db.session.add(ClientLogin(client=profile, email=f"client{profile.id}@loadtest.example",
                                           first_name=profile.first_name, last_name=profile.last_name))
        db.session.flush()
        db.session.execute(ClientLogin.__table__.update().values(password_hash=secret))

        today = business_today()
        # This month's visits done so far, billed as if three weeks ago: every active client owes something, overdue.
        if today.day > 1:
            for invoice in billing.create_drafts(today.replace(day=1), today - timedelta(days=1), owner):
                billing.issue_invoice(invoice, owner, today=today - timedelta(days=21))
        open_invoices = db.session.scalars(select(Invoice).where(Invoice.status == InvoiceStatus.SENT)
                                           .order_by(Invoice.id.desc())).all()
        # One invoice per client: a fifth charged by autopay, a fifth only reminded, the rest paid in the portal.
        by_client = list({invoice.client_id: invoice for invoice in open_invoices}.values())
        fifth = max(1, len(by_client) // 5)
        autopay, reminded, payers = by_client[:fifth], by_client[fifth:2 * fifth], by_client[2 * fifth:]
        stripe = cards.client()
        for invoice in autopay + payers:
            profile = invoice.client
            secret_id = cards.start_setup(profile).split("_secret_")[0]
            stripe.v1.setup_intents.confirm(secret_id, params={"payment_method": "pm_card_visa"})
            cards.finish_setup(profile, secret_id)
        for invoice in autopay:  # due today, with autopay agreed to before: the autopay runs charge them
            invoice.due_on = today
            profile = invoice.client
            profile.autopay, profile.autopay_consent_at, profile.autopay_consent_text = True, utcnow(), "load test"
        db.session.flush()

        # Today's visits for the sitters, their windows open now, at clients with a pet (not the payers).
        busy = {invoice.client_id for invoice in payers}
        walk = db.session.scalar(select(Service).order_by(Service.id))
        with_pets = [c for c in clients if c.id not in busy and any(p.active for p in c.pets)]
        now = utcnow().replace(microsecond=0)
        sitter_plan = []
        for n, sitter in enumerate(staff["sitters"]):
            ids = []
            for k in range(SITTER_VISITS):
                profile = with_pets[(n * SITTER_VISITS + k) % len(with_pets)]
                visit = Visit(client=profile, service=walk, sitter=sitter, day=today,
                              starts_at=now - timedelta(minutes=5), ends_at=now + timedelta(hours=3), window="custom",
                              price_cents=walk.base_price_cents, status=VisitStatus.SCHEDULED,
                              pets=[p for p in profile.pets if p.active][:1], notes="", late_cancellation=False,
                              cancelled_by="", reason="")
                db.session.add(visit)
                db.session.flush()
                ids.append(visit.id)
            sitter_plan.append({"email": sitter.email, "visit_ids": ids})

        # The mail of the seeding (the demo's and the cards') is not the run's.
        db.session.execute(delete(OutboxMessage).where(OutboxMessage.sent_at.is_(None)))
        db.session.commit()
        requesters = [c for c in clients if c.id not in busy and c.onboarding_complete
                      and any(p.active for p in c.pets)]
        plan = {
            "password": PASSWORD,
            # After the demo's visits (six weeks ahead): a client's requests, a day each, never meet her visits.
            "first_request_day": (today + timedelta(days=60)).isoformat(),
            "service_id": walk.id,
            "desk": [{"email": owner.email}] + [{"email": s.email} for s in staff["desk"]],
            "managers": [{"email": s.email} for s in staff["managers"]],
            "sitters": sitter_plan,
            # Each requester asks for one day after another from first_request_day (only her own visits could clash).
            "clients": [{"email": c.logins[0].email, "client_id": c.id, "pet_ids": [p.id for p in c.pets if p.active][:1]}
                        for c in requesters],
            "payers": [{"email": i.client.logins[0].email, "client_id": i.client_id, "invoice_id": i.id}
                       for i in payers],
            "autopay_invoice_ids": [i.id for i in autopay],
            "reminded_invoice_ids": [i.id for i in reminded],
            "client_ids": [c.id for c in clients[:50]],
            "search_terms": sorted({c.last_name[:4].lower() for c in clients})[:30],
            "outbox_baseline": db.session.scalar(select(func.coalesce(func.max(OutboxMessage.id), 0))),
        }
    return plan


def background_jobs(env: dict) -> list[tuple[str, int, str]]:
    """`flask billing remind` and `flask billing autopay`, each twice at once, as two hosts' timers would."""
    commands = [["billing", "remind"], ["billing", "autopay"]] * 2
    processes = [(" ".join(c), subprocess.Popen([os.path.join(BIN, "flask"), *c], env=env, cwd=ROOT,
                                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
                 for c in commands]
    finished = []
    for name, process in processes:
        out, _ = process.communicate(timeout=300)
        finished.append((name, process.returncode, out.strip().splitlines()[-1] if out.strip() else ""))
    return finished


def main() -> int:
    from aiosmtpd.controller import Controller

    workdir = tempfile.mkdtemp(prefix="pawtal-loadtest-")
    print(f"load test: {USERS} users (+{SPAWN_RATE}/s) for {DURATION}, gunicorn {WORKERS} workers, "
          f"{DATABASE_URL.split('@')[-1]}, {REDIS_URL}; files in {workdir}", flush=True)
    empty_database(DATABASE_URL)
    flush_redis(REDIS_URL)
    inbox = Inbox()
    smtp_port = free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    stripe_process, stripe_base = start_localstripe()
    env = {**os.environ, "FLASK_APP": "app:create_app", "DATABASE_URL": DATABASE_URL,
           "SECRET_KEY": "loadtest-secret-key-not-for-production", "PAWTAL_UPLOAD_FOLDER": os.path.join(workdir, "up"),
           "RATELIMIT_STORAGE_URI": REDIS_URL, "PAWTAL_STAFF_LOGIN_LIMIT": LOGIN_LIMIT,
           "PAWTAL_CLIENT_LOGIN_LIMIT": LOGIN_LIMIT, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(smtp_port),
           "MAIL_SUPPRESS_SEND": "0", "PAWTAL_OUTBOX_WORKER": "1", "PAWTAL_OUTBOX_POLL_SECONDS": "2",
           "STRIPE_SECRET_KEY": "sk_test_loadtest", "STRIPE_PUBLISHABLE_KEY": "pk_test_loadtest",
           "STRIPE_API_BASE": stripe_base, "STRIPE_WEBHOOK_SECRET": "whsec_loadtest", "PYTHONUNBUFFERED": "1"}
    server = None
    try:
        started = time.monotonic()
        subprocess.run([os.path.join(BIN, "flask"), "db", "upgrade"], env=env, cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.environ.update(env)  # the seeding and the checks use the same settings as the server
        from app import create_app

        app = create_app({"OUTBOX_WORKER": False})
        plan = seed(app)
        print(f"seeded in {time.monotonic() - started:.0f} s: {CLIENTS} clients, {len(plan['clients'])} requesting, "
              f"{len(plan['payers'])} with an invoice to pay, {len(plan['autopay_invoice_ids'])} on autopay, "
              f"{len(plan['reminded_invoice_ids'])} only reminded, "
              f"{SITTERS} sitters with {SITTER_VISITS} visits each today", flush=True)
        plan_path, record_path = os.path.join(workdir, "plan.json"), os.path.join(workdir, "record.jsonl")
        figures_path = os.path.join(workdir, "figures.json")
        json.dump(plan, open(plan_path, "w"))
        open(record_path, "w").close()

        port = free_port()
        server_log = open(os.path.join(workdir, "gunicorn.log"), "w")
        server = subprocess.Popen([os.path.join(BIN, "gunicorn"), "-c", "gunicorn.conf.py", "-w", str(WORKERS),
                                   "-b", f"127.0.0.1:{port}", "--error-logfile", "-", "--no-control-socket",
                                   "app:create_app()"],
                                  env={**env, "BASE_URL": f"http://127.0.0.1:{port}"}, cwd=ROOT,
                                  stdout=server_log, stderr=subprocess.STDOUT)
        host = f"http://127.0.0.1:{port}"
        wait_until_healthy(host, server)
        print(f"serving on {host} after {time.monotonic() - started:.0f} s", flush=True)

        jobs: list = []
        timer = threading.Timer(parse_seconds(DURATION) / 3, lambda: jobs.extend(background_jobs(env)))
        timer.start()
        crowd = subprocess.run([os.path.join(BIN, "locust"), "-f", os.path.join(HERE, "locustfile.py"), "--headless",
                                "-u", str(USERS), "-r", SPAWN_RATE, "-t", DURATION, "--host", host,
                                "--only-summary", "--stop-timeout", "60",
                                "--loglevel", "WARNING"],
                               env={**env, "LOADTEST_PLAN": plan_path, "LOADTEST_RECORD": record_path,
                                    "LOADTEST_FIGURES": figures_path}, cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=open(os.path.join(workdir, "locust.log"), "w"))
        timer.join()
        drained = wait_for_outbox(app, plan["outbox_baseline"])
        server.terminate()
        server.wait(30)
        server = None
        records = [json.loads(line) for line in open(record_path)]
        results = report(json.load(open(figures_path)), crowd.returncode)
        for name, code, last_line in jobs:
            print(f"flask {name} (exit {code}): {last_line}")
        with app.app_context():
            results += check(plan, records, inbox, drained, jobs, stripe_base)
    finally:
        if server is not None:
            server.kill()
        stripe_process.terminate()
        smtp.stop()
    for ok, line in results:
        print(f"{'PASS' if ok else 'FAIL'}  {line}")
    print(f"(server log, locust log, plan and record: {workdir})")
    return 0 if all(ok for ok, _ in results) else 1


def wait_for_outbox(app, baseline: int, seconds: float = 120) -> bool:
    """Whether every email queued during the run was delivered (the workers' senders poll every 2 s)."""
    from sqlalchemy import func, select

    from extensions import db
    from models import OutboxMessage

    deadline = time.monotonic() + seconds
    with app.app_context():
        while True:
            left = db.session.scalar(select(func.count(OutboxMessage.id)).where(
                OutboxMessage.id > baseline, OutboxMessage.sent_at.is_(None)))
            db.session.rollback()
            if not left:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(1)


def report(figures: dict, exit_code: int) -> list[tuple[bool, str]]:
    """Locust's figures per kind of request; the failures checked."""
    print(f"\n{'request':<38}{'count':>8}{'fail':>6}{'p50 ms':>9}{'p95 ms':>9}{'req/s':>8}")
    total = figures["total"]
    for row in figures["rows"] + [None, {**total, "name": "all requests"}]:
        if row is None:
            print("-" * 78)
            continue
        print(f"{row['name'][:37]:<38}{row['count']:>8}{row['failures']:>6}{row['p50']:>9}{row['p95']:>9}"
              f"{row['rps']:>8.1f}")
    print()
    for each in figures["failure_messages"]:
        print(f"failure ×{each['count']}: {each['message']}")
    for each in figures["errors"]:  # the crowd's own code failed (a form not found): not the app's answer, still a fail
        print(f"error in the crowd's code ×{each['count']}: {each['message']}")
    errors = sum(each["count"] for each in figures["errors"])
    return [(total["count"] > 0 and total["failures"] == errors == exit_code == 0,
             f"{total['count']} requests, {total['failures']} failures (target 0), {errors} errors in the crowd's "
             f"code, locust exit {exit_code}")]


def check(plan: dict, records: list[dict], inbox: Inbox, drained: bool, jobs: list,
          stripe_base: str) -> list[tuple[bool, str]]:
    """Every change the crowd was told was made is in the database exactly once; nothing else is."""
    from sqlalchemy import func, select

    from extensions import db
    from models import (
        Allocation, AutopayAttempt, Invoice, InvoiceReminder, InvoiceStatus, OnlinePayment, OutboxMessage,
        RequestStatus, StaffUser, Visit, VisitEvent, VisitRequest, VisitStatus,
    )
    from services import billing

    done: dict[str, list[dict]] = {}
    for each in records:
        done.setdefault(each["kind"], []).append(each)
    results = []

    asked = Counter(r["marker"] for r in done.get("visit_request", []))
    stored = Counter(db.session.scalars(select(VisitRequest.notes).where(VisitRequest.notes.like("loadtest %"))))
    requested = dict(db.session.execute(select(VisitRequest.notes, func.count(Visit.id)).join(VisitRequest.visits)
                                        .where(VisitRequest.notes.like("loadtest %")).group_by(VisitRequest.notes)).all())
    results.append((asked == stored and max(asked.values(), default=1) == 1 and set(requested.values()) <= {1},
                    f"visit requests: {len(asked)} answered as sent, {sum(stored.values())} in the database "
                    f"({len(set(stored) - set(asked))} not answered, {len(set(asked) - set(stored))} lost, "
                    f"{sum(n - 1 for n in stored.values() if n > 1)} doubled), one visit each"))

    for step, kind, status in (("check-in", "check_in", (VisitStatus.IN_PROGRESS, VisitStatus.COMPLETED)),
                               ("check-out", "check_out", (VisitStatus.COMPLETED,))):
        tapped = Counter(r["visit_id"] for r in done.get(step, []))
        events = Counter(db.session.scalars(select(VisitEvent.visit_id).where(
            VisitEvent.kind == kind, VisitEvent.visit_id.in_([i for s in plan["sitters"] for i in s["visit_ids"]]))))
        states = dict(db.session.execute(select(Visit.id, Visit.status).where(Visit.id.in_(list(tapped)))).all())
        results.append((tapped == events and all(states[i] in status for i in tapped),
                        f"{step}s: {sum(tapped.values())} answered, {sum(events.values())} recorded "
                        f"({sum(n - 1 for n in events.values() if n > 1)} doubled, "
                        f"{len(set(tapped) - set(events))} lost, {len(set(events) - set(tapped))} not answered)"))

    approved = {r["request_id"]: r["manager"] for r in done.get("approval", [])}
    managers = dict(db.session.execute(select(StaffUser.id, StaffUser.email)).all())
    rows = db.session.scalars(select(VisitRequest).where(VisitRequest.id.in_(list(approved)))).all()
    wrong = [r.id for r in rows if r.status != RequestStatus.APPROVED or managers.get(r.decided_by_id) != approved[r.id]
             or any(v.status != VisitStatus.SCHEDULED or v.sitter_id is None for v in r.visits)]
    by_loadtest = db.session.scalar(select(func.count(VisitRequest.id)).where(
        VisitRequest.decided_by_id.in_([i for i, e in managers.items() if e.startswith("managers")])))
    lost = {r["request_id"] for r in done.get("approval_lost", [])}
    undecided = db.session.scalar(select(func.count(VisitRequest.id)).where(
        VisitRequest.id.in_(lost), VisitRequest.status == RequestStatus.PENDING))
    results.append((len(rows) == len(approved) == len(done.get("approval", [])) == by_loadtest and not wrong
                    and not undecided,
                    f"approvals: {len(done.get('approval', []))} answered, {by_loadtest} decided by the managers, "
                    f"{len(wrong)} not as approved; {len(lost)} lost to another manager at the same moment (409), "
                    f"{undecided} of those left undecided"))

    paid = Counter(r["invoice_id"] for r in done.get("payment", []))
    autopaid = plan["autopay_invoice_ids"]
    allocations = Counter(db.session.scalars(select(Allocation.invoice_id).where(
        Allocation.invoice_id.in_(list(paid) + autopaid))))
    status = dict(db.session.execute(select(Invoice.id, Invoice.status).where(Invoice.id.in_(list(paid) + autopaid)))
                  .all())
    charges = Counter(db.session.scalars(select(OnlinePayment.client_id).where(OnlinePayment.status == "succeeded")))
    at_stripe = stripe_charges(stripe_base)
    results.append((all(allocations[i] == 1 and status[i] == InvoiceStatus.PAID for i in paid)
                    and max(paid.values(), default=1) == 1,
                    f"portal payments: {len(paid)} answered, each invoice paid once "
                    f"({sum(1 for i in paid if allocations[i] != 1)} not once)"))
    attempts = Counter(db.session.scalars(select(AutopayAttempt.invoice_id).where(
        AutopayAttempt.invoice_id.in_(autopaid))))
    results.append((all(allocations[i] == 1 and attempts[i] == 1 and status[i] == InvoiceStatus.PAID
                        for i in autopaid),
                    f"autopay (two runs at once): {sum(1 for i in autopaid if status[i] == InvoiceStatus.PAID)} of "
                    f"{len(autopaid)} invoices paid, {sum(attempts.values())} tries, "
                    f"{sum(1 for i in autopaid if allocations[i] > 1)} paid twice"))
    results.append((sum(charges.values()) == at_stripe == len(paid) + len(autopaid),
                    f"charges: {sum(charges.values())} succeeded in Pawtal, {at_stripe} at Stripe, "
                    f"{len(paid) + len(autopaid)} expected"))
    problems = [p for client_id in {r["client_id"] for r in done.get("payment", [])} | set(
        db.session.scalars(select(Invoice.client_id).where(Invoice.id.in_(autopaid))))
        for p in billing.check_ledger(client_id)]
    results.append((not problems, f"books of the paying clients agree ({len(problems)} problems{': ' if problems else ''}"
                                  f"{'; '.join(problems[:3])})"))

    reminders = Counter(db.session.scalars(select(InvoiceReminder.invoice_id)))
    reminder_mail = db.session.scalar(select(func.count(OutboxMessage.id)).where(
        OutboxMessage.kind == "invoice-reminder"))
    unreminded = [i for i in plan["reminded_invoice_ids"] if reminders[i] != 1]
    results.append((sum(reminders.values()) == reminder_mail and not unreminded and len(jobs) == 4
                    and all(code == 0 for _name, code, _out in jobs),
                    f"reminders (two runs at once): {len(reminders)} invoices reminded, {reminder_mail} emails, "
                    f"{len(unreminded)} of the {len(plan['reminded_invoice_ids'])} left unpaid not reminded once; "
                    f"jobs exited {[code for _name, code, _out in jobs]}"))

    queued = Counter((tuple(sorted(row.recipients)), row.subject) for row in db.session.execute(
        select(OutboxMessage.recipients, OutboxMessage.subject).where(OutboxMessage.id > plan["outbox_baseline"])))
    received = Counter((to, subject) for _id, to, subject in inbox.messages)
    ids = Counter(message_id for message_id, _to, _subject in inbox.messages)
    results.append((drained and queued == received and max(ids.values(), default=1) == 1,
                    f"email: {sum(queued.values())} queued, {len(inbox.messages)} received "
                    f"({sum((queued - received).values())} missing, {sum((received - queued).values())} extra, "
                    f"{sum(n - 1 for n in ids.values() if n > 1)} repeated Message-IDs; "
                    f"{'all' if drained else 'NOT all'} marked sent)"))
    return results


def stripe_charges(base: str) -> int:
    """The PaymentIntents localstripe made that succeeded (every charge of the run: cards were set up, not charged)."""
    succeeded, after = 0, ""
    while True:
        request = urllib.request.Request(f"{base}/v1/payment_intents?limit=100{after}",
                                         headers={"Authorization": "Bearer sk_test_loadtest"})
        found = json.load(urllib.request.urlopen(request, timeout=30))
        succeeded += sum(1 for intent in found["data"] if intent["status"] == "succeeded")
        if not found.get("has_more") or not found["data"]:
            return succeeded
        after = f"&starting_after={found['data'][-1]['id']}"


if __name__ == "__main__":
    sys.exit(main())
