"""The crowd of `make loadtest` (loadtest/run.py starts locust with this file).

Staff search the client table and open profiles; clients open their calendar and request visits; sitters open
their day and check in and out of their visits; managers approve requests; clients pay an open invoice. Each
simulated person signs in once, with an account of their own from the plan the runner wrote (LOADTEST_PLAN).
Every change that answered 2xx/3xx is written to LOADTEST_RECORD (one JSON object a line), with the unique
marker it carried where the app keeps one (a visit request's notes), so the runner can check afterwards that
each is in the database exactly once.
"""
from __future__ import annotations

import itertools
import json
import os
import random
import re
import uuid
from datetime import date, timedelta
from html.parser import HTMLParser

from locust import HttpUser, between, events, task
from locust.exception import StopUser

PLAN = json.load(open(os.environ["LOADTEST_PLAN"]))
RECORD = open(os.environ["LOADTEST_RECORD"], "a", buffering=1)
HX = {"HX-Request": "true"}
_accounts = {kind: itertools.count() for kind in ("desk", "clients", "payers", "sitters", "managers")}
# Staff at the desk only read, and managers' races are the app's to settle: they may share accounts. A client's
# requests, a sitter's taps and an invoice's payment must each have one person, or the record would count them twice.
SHARED = {"desk", "managers"}


_figures: dict = {}


@events.init.add_listener
def _keep(environment, **_):
    """The run's environment, for its figures at the end."""
    _figures["environment"] = environment


@events.quit.add_listener
def _write_figures(exit_code, **_):
    """Count, failures, p50 and p95 per kind of request, and the crowd's own errors, to LOADTEST_FIGURES: written
    after the last user stopped (locust's --csv is written before the requests of the users still stopping)."""
    environment = _figures["environment"]
    stats = environment.stats
    rows = [{"name": e.name, "method": e.method, "count": e.num_requests, "failures": e.num_failures,
             "p50": e.get_response_time_percentile(0.5), "p95": e.get_response_time_percentile(0.95),
             "rps": e.total_rps} for e in sorted(stats.entries.values(), key=lambda e: e.name) if e.num_requests]
    total = stats.total
    json.dump({"rows": rows, "exit_code": exit_code,
               "total": {"count": total.num_requests, "failures": total.num_failures,
                         "p50": total.get_response_time_percentile(0.5), "p95": total.get_response_time_percentile(0.95),
                         "rps": total.total_rps},
               "errors": [{"count": e["count"], "message": e["msg"]} for e in environment.runner.exceptions.values()],
               "failure_messages": [{"count": e.occurrences, "message": f"{e.method} {e.name}: {e.error}"}
                                    for e in stats.errors.values()]},
              open(os.environ["LOADTEST_FIGURES"], "w"))


def record(kind: str, **values) -> None:
    """One change the app accepted (locust runs its users in one process, on greenlets: a line is written whole)."""
    RECORD.write(json.dumps({"kind": kind, **values}) + "\n")


def account(kind: str) -> dict | None:
    """The next unused account of this kind (desk and managers: the next in turn); None when all are taken."""
    accounts, n = PLAN[kind], next(_accounts[kind])
    if kind in SHARED:
        return accounts[n % len(accounts)]
    return accounts[n] if n < len(accounts) else None


class Forms(HTMLParser):
    """The fields of each <form> of a page as a browser would send them (checked boxes and selected options)."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.forms: list[tuple[str, list[tuple[str, str]]]] = []
        self._select: str | None = None
        self._textarea: str | None = None
        self._text = ""
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append((a.get("action") or "", []))
        elif not self.forms:
            return
        elif tag == "input" and a.get("name") and a.get("type") not in ("submit", "button", "file", "image"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self.forms[-1][1].append((a["name"], a.get("value") or ("on" if a.get("type") == "checkbox" else "")))
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select and "selected" in a:
            self.forms[-1][1].append((self._select, a.get("value", "")))
        elif tag == "textarea":
            self._textarea, self._text = a.get("name"), ""

    def handle_data(self, data):
        if self._textarea:
            self._text += data

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea" and self._textarea and self.forms:
            self.forms[-1][1].append((self._textarea, self._text))
            self._textarea = None

    def fields(self, action: str) -> list[tuple[str, str]]:
        """The fields of the form posting to `action`."""
        for form_action, fields in self.forms:
            if form_action.split("?")[0] == action:
                return list(fields)
        raise LookupError(f"no form for {action}")


def replace(fields: list[tuple[str, str]], **values) -> list[tuple[str, str]]:
    """The fields with these names set to these values (a list value: one field per item)."""
    kept = [(name, value) for name, value in fields if name not in values]
    for name, value in values.items():
        kept += [(name, str(each)) for each in (value if isinstance(value, list) else [value])]
    return kept


class Person(HttpUser):
    """Someone who signs in once (sign-in is throttled per address: the runner raises the limits, see README)."""

    abstract = True
    wait_time = between(2, 5)
    kind = ""
    login_path = "/login"

    def on_start(self):
        if not self.sign_in():
            raise StopUser()  # more people of this kind than accounts seeded for them
        self.first()

    def sign_in(self) -> bool:
        """Sign in with the next account of this kind (a fresh session: the cookies of the last one go); False when
        every account of this kind is taken."""
        me = account(self.kind)
        if me is None:
            return False
        self.me = me
        self.client.cookies.clear()
        page = self.client.get(self.login_path, name="sign in (page)")
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
        with self.client.post(self.login_path, data={"csrf_token": token and token[1], "email": self.me["email"],
                                                     "password": PLAN["password"]},
                              name="sign in", allow_redirects=False, catch_response=True) as answer:
            if answer.status_code != 303:
                answer.failure(f"sign-in of {self.me['email']} answered {answer.status_code}")
        return True

    def first(self):
        """What this person came to do, right after signing in (so even a short run makes every kind of change)."""

    def read_form(self, page_url: str, target: str, name: str) -> list[tuple[str, str]]:
        """Open the page and read the form that posts to `target` as it is filled in (LookupError: not there)."""
        return Forms(self.client.get(page_url, name=f"{name} (form)").text).fields(target)

    def post_form(self, page_url: str, target: str, name: str, values: dict, fields: list | None = None):
        """Fill the form that posts to `target` like a person (what is there already, and `values`), send it."""
        fields = replace(fields if fields is not None else self.read_form(page_url, target, name), **values)
        return self.client.post(target, data=fields, name=name, allow_redirects=False, catch_response=True)


class Desk(Person):
    """Staff at the desk: search the client table (htmx) and open profiles."""

    weight = 2
    kind = "desk"
    login_path = "/staff/login"

    def first(self):
        self.search()

    @task(3)
    def search(self):
        term = random.choice(PLAN["search_terms"])
        answer = self.client.get(f"/clients/?q={term}", headers=HX, name="staff: search clients")
        self.found = [int(i) for i in re.findall(r'href="/clients/(\d+)\b', answer.text)] or PLAN["client_ids"][:5]

    @task(2)
    def profile(self):
        found = getattr(self, "found", None) or PLAN["client_ids"]
        self.client.get(f"/clients/{random.choice(found)}", name="staff: open profile")


class Client(Person):
    """A client: the calendar, now and then a new request for a day nobody has asked for yet."""

    weight = 4
    kind = "clients"

    def on_start(self):
        self.next_day = date.fromisoformat(PLAN["first_request_day"])
        super().on_start()

    def first(self):
        self.request_visits()

    @task(3)
    def calendar(self):
        self.client.get("/portal/calendar", name="client: calendar")

    @task(1)
    def next_month(self):
        month = (date.today().replace(day=1) + timedelta(days=32)).strftime("%Y-%m")
        self.client.get(f"/portal/calendar?month={month}", headers=HX, name="client: calendar, next month")

    @task(2)
    def request_visits(self):
        day, marker = self.next_day, f"loadtest {uuid.uuid4().hex}"
        self.next_day += timedelta(days=1)
        with self.post_form("/portal/requests/new", "/portal/requests/new", "client: request visits",
                            {"mode": "days", "days-0": day.isoformat(), "window": "morning", "notes": marker,
                             "services": [PLAN["service_id"]], "pets": self.me["pet_ids"], "action": "send"}) as answer:
            if answer.status_code == 303:
                record("visit_request", marker=marker, client_id=self.me["client_id"], day=day.isoformat())
            else:
                answer.failure(f"request answered {answer.status_code}")


class Sitter(Person):
    """A sitter: her day, then each of her visits in turn: the card, check in, later check out."""

    weight = 2
    kind = "sitters"
    login_path = "/staff/login"

    def on_start(self):
        self.inside: int | None = None
        self.todo: list[int] = []
        super().on_start()

    def first(self):
        self.todo = list(self.me["visit_ids"])
        self.next_tap()

    @task(1)
    def day(self):
        self.client.get("/today/", name="sitter: day")

    @task(2)
    def next_tap(self):
        if self.inside is not None:
            visit_id, self.inside, step = self.inside, None, "check-out"
        elif self.todo:
            visit_id, step = self.todo.pop(0), "check-in"
            self.inside = visit_id
        else:
            return
        with self.post_form(f"/visits/{visit_id}", f"/visits/{visit_id}/{step}", f"sitter: {step}",
                            {"latitude": "42.3736", "longitude": "-71.1097", "accuracy": "12"}) as answer:
            if answer.status_code == 303:
                record(step, visit_id=visit_id, sitter=self.me["email"])
            else:
                answer.failure(f"{step} answered {answer.status_code}")


class Manager(Person):
    """A manager approving one of the oldest requests waiting. Managers at once sometimes take the same one: the
    app lets one decide it and tells the other (409, what was decided), which is no failure and no approval."""

    weight = 1
    kind = "managers"
    login_path = "/staff/login"

    def first(self):
        self.approve()

    @task
    def approve(self):
        waiting = self.client.get("/requests/?status=pending", name="manager: requests waiting")
        ids = sorted({int(i) for i in re.findall(r'href="/requests/(\d+)\b', waiting.text)})
        if not ids:
            return
        request_id = random.choice(ids[:3])
        page, target = f"/requests/{request_id}", f"/requests/{request_id}/decide"
        try:
            fields = self.read_form(page, target, "manager: approve")
        except LookupError:  # another manager decided it since the list was read: the page shows what they did
            record("approval_lost", request_id=request_id, manager=self.me["email"])
            return
        with self.post_form(page, target, "manager: approve", {"action": "approve"}, fields) as answer:
            if answer.status_code == 303:
                record("approval", request_id=request_id, manager=self.me["email"])
            elif answer.status_code == 409 and "decided" in answer.text:
                answer.success()
                record("approval_lost", request_id=request_id, manager=self.me["email"])
            else:
                answer.failure(f"approval answered {answer.status_code}")


class Payer(Person):
    """A client paying her open invoice with the card on file, then looking at her account; then the next client
    with an invoice to pay signs in (one simulated person plays them in turn)."""

    weight = 1
    kind = "payers"

    def on_start(self):
        self.paid = False
        super().on_start()

    def first(self):
        self.pay()

    @task
    def pay(self):
        if self.paid:
            self.client.get("/portal/account", name="client: account")
            self.paid = not self.sign_in()  # every invoice to pay taken: she stays, looking at her account
            return
        self.paid = True
        invoice_id = self.me["invoice_id"]
        with self.post_form(f"/portal/pay?invoice={invoice_id}", "/portal/pay", "client: pay invoice",
                            {"invoices": [invoice_id], "tip": "none"}) as answer:
            if answer.status_code == 303:
                record("payment", invoice_id=invoice_id, client_id=self.me["client_id"])
            else:
                answer.failure(f"payment answered {answer.status_code}")
