"""`make bench`, billing part: a month's invoice run for 2,000 clients on the 200,000-visit data, sending
them, and the query counts of the billing desk, the aging report and both account pages at 100 and at
10,000 invoices (they must not grow)."""
from __future__ import annotations

import random
import time
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import func, insert, select, text

RUN_CLIENTS = 2_000
VISITS_PER_CLIENT = 8


def _last_month(today: date) -> tuple[date, date]:
    end = today.replace(day=1) - timedelta(days=1)
    return end.replace(day=1), end


def seed_done_month(app, first_visit_id: int) -> int:
    """Eight completed walks last month for each of 2,000 clients (besides what the month already holds)."""
    from extensions import db
    from filters import business_today
    from models import Visit, visit_pet

    with app.app_context():
        start, end = _last_month(business_today())
        days = (end - start).days + 1
        rng = random.Random(16)
        now = datetime.now(timezone.utc)
        rows, pets = [], []
        for n in range(RUN_CLIENTS * VISITS_PER_CLIENT):
            client_id = 1 + n // VISITS_PER_CLIENT
            day = start + timedelta(days=rng.randrange(days))
            starts = datetime(day.year, day.month, day.day, 14, tzinfo=timezone.utc)
            rows.append({"id": first_visit_id + n, "client_id": client_id, "service_id": 1, "sitter_id": 2,
                         "day": day, "starts_at": starts, "ends_at": starts + timedelta(minutes=30),
                         "window": "custom", "price_cents": 2500, "status": "completed", "notes": "",
                         "late_cancellation": False, "cancelled_by": "", "reason": "", "created_at": now,
                         "checked_in_at": starts, "checked_out_at": starts + timedelta(minutes=30)})
            pets.append({"visit_id": first_visit_id + n, "pet_id": client_id})
        db.session.execute(insert(Visit), rows)
        db.session.execute(insert(visit_pet), pets)
        # The bench's older visits were seeded "scheduled"; last month's are done by now.
        db.session.execute(text("UPDATE visit SET status = 'completed' WHERE status = 'scheduled' "
                                "AND day BETWEEN :a AND :b"), {"a": start, "b": end})
        db.session.commit()
        _resequence(db, "visit")
    return len(rows)


def _resequence(db, table: str) -> None:
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
        db.session.commit()


def seed_invoices(app, count: int, client_id: int) -> None:
    """`count` issued invoices of one line each, spread over clients (every tenth on `client_id`, the
    portal's client), with their ledger entries: the history a desk has after some years."""
    from extensions import db
    from models import Invoice, InvoiceLine, LedgerEntry

    with app.app_context():
        first = (db.session.scalar(select(func.max(Invoice.id))) or 0) + 1
        first_entry = (db.session.scalar(select(func.max(LedgerEntry.id))) or 0) + 1
        now = datetime.now(timezone.utc)
        invoices, lines, entries = [], [], []
        for n in range(count):
            invoice_id = first + n
            owner = client_id if n % 10 == 0 else 1 + (n * 7) % RUN_CLIENTS
            issued = date(2019, 1, 1) + timedelta(days=(n * 3) % 2500)
            invoices.append({"id": invoice_id, "number": f"OLD-{invoice_id:07d}", "client_id": owner,
                             "status": "paid" if n % 3 else "sent", "issued_on": issued,
                             "due_on": issued + timedelta(days=14), "terms_days": 14, "tax_rate_bp": 0,
                             "tax_label": "Tax", "subtotal_cents": 2500, "tax_cents": 0, "total_cents": 2500,
                             "paid_cents": 2500 if n % 3 else 0, "notes": "", "created_at": now, "sent_at": now,
                             "void_reason": ""})
            lines.append({"invoice_id": invoice_id, "kind": "charge", "position": 1, "description": "Dog walk",
                          "pets": "", "amount_cents": 2500, "tax_cents": 0})
            entries.append({"id": first_entry + n, "client_id": owner, "kind": "invoice", "at": now,
                            "amount_cents": 2500, "invoice_id": invoice_id, "memo": ""})
        db.session.execute(insert(Invoice), invoices)
        db.session.execute(insert(InvoiceLine), lines)
        db.session.execute(insert(LedgerEntry), entries)
        db.session.commit()
        for table in ("invoice", "ledger_entry", "invoice_line"):
            _resequence(db, table)


def run_and_send(app) -> tuple[float, float, int, int]:
    """Time the month's run (drafts created and committed) and the batch send of all of them."""
    from extensions import db
    from filters import business_today
    from models import Invoice, InvoiceStatus, Role, StaffUser
    from services import billing

    with app.app_context():
        staff = db.session.scalar(select(StaffUser).where(StaffUser.role == Role.OWNER))
        start, end = _last_month(business_today())
        began = time.perf_counter()
        drafts = billing.create_drafts(start, end, staff)
        db.session.commit()
        run_seconds = time.perf_counter() - began
        lines = sum(len(d.lines) for d in drafts)
        ids = db.session.scalars(select(Invoice.id).where(Invoice.status == InvoiceStatus.DRAFT)).all()
        began = time.perf_counter()
        sent, refused = billing.issue_many(ids, staff)
        db.session.commit()
        send_seconds = time.perf_counter() - began
        assert not refused, refused[:3]
    return run_seconds, send_seconds, sent, lines


def main_part(app, measure_in_process, route_type, calendar_client: int, first_visit_id: int) -> list[str]:
    """The billing figures, as lines to print."""
    out = []
    added = seed_done_month(app, first_visit_id)
    routes = {"billing desk": route_type("/billing/"), "aging report": route_type("/billing/aging"),
              "client account (staff)": route_type(f"/billing/clients/{calendar_client}"),
              "portal account": route_type("/portal/account", who="client")}
    seed_invoices(app, 100, calendar_client)
    few = measure_in_process(app, routes)
    run_seconds, send_seconds, sent, lines = run_and_send(app)
    out.append(f"invoice run for last month: {sent:,} clients, {lines:,} lines ({added:,} added done visits on "
               f"top of the 200,000): drafts in {run_seconds:.2f} s (target < 30 s); all {sent:,} sent "
               f"(numbered, posted, emails queued) in {send_seconds:.2f} s")
    seed_invoices(app, 10_000 - 100 - sent, calendar_client)
    many = measure_in_process(app, routes)
    for name in routes:
        out.append(f"{name}: {few[name][0]} SQL queries at 100 invoices, {many[name][0]} at 10,000 "
                   f"({'the same' if few[name][0] == many[name][0] else 'DIFFERENT'})")
    timings = _timings(app, routes)
    out += [f"{name}: p50 {p50:.1f} ms, p95 {p95:.1f} ms in process at 10,000 invoices" for name, (p50, p95)
            in timings.items()]
    return out


def _timings(app, routes) -> dict:
    from bench.run import signed_in

    clients = {who: signed_in(app, who)[0] for who in {route.who for route in routes.values()}}
    found = {}
    for name, route in routes.items():
        times = []
        for _ in range(20):
            began = time.perf_counter()
            assert clients[route.who].get(route.url).status_code == 200
            times.append((time.perf_counter() - began) * 1000)
        times.sort()
        found[name] = (times[len(times) // 2], times[int(len(times) * .95) - 1])
    return found
