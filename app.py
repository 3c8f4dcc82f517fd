"""Pawtal: the application factory."""
from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable
from typing import Any

from flask import (
    Flask, abort, current_app, g, has_request_context, make_response, redirect, render_template, request, url_for,
)
from flask_babel import get_locale
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter, Rule

import access
import assets
import cli
import filters
import logs
from blueprints import (
    auth, billing, board, client_forms, clients, contact, feeds, healthz, imports, intake, invitations, messages,
    newsletter, outbox, pets, portal, requests, resources, schedule, settings, setup, staff, stripe_hooks, today, visits,
)
from config import DEV_SECRET_KEY, MIN_SECRET_KEY_LENGTH, from_environment
from extensions import babel, csrf, db, htmx, limiter, login_manager, mail, migrate
from models import MAX_ID, VISIT_STATES, ClientLogin, StaffUser, alembic_includes, parse_id
from rendering import remembered, wants_fragment
from services import audit
from services import billing as billing_service  # noqa: F401 - listens for cancelled visits (drafts drop them)
from services import first_run, health
from services import onboarding  # noqa: F401 - keeps each client's onboarding state, listening to services' signals
from services import messages as message_service
from services import outbox as outbox_service
from services import settings as site_settings
from services import texts
from services.uploads import human_size

BLUEPRINTS = (staff, clients, pets, resources, settings, imports, invitations, client_forms, outbox, auth, portal,
              stripe_hooks, requests, schedule, feeds, board, today, visits, billing, intake, newsletter, contact,
              messages, healthz, setup)
MIGRATIONS = os.path.join(os.path.dirname(__file__), "migrations")


class IdConverter(IntegerConverter):
    """An <int:...> in a URL is a database id: ASCII digits up to 2**31 - 1, else no id of ours (404), not an overflow.

    Werkzeug's own pattern is \\d+, which takes any Unicode digit ("²", "١٢"); ours takes 0-9 only.
    """

    regex = r"[0-9]+"

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


class LazyBuildRule(Rule):
    """A URL rule that writes its URL-building code when a URL is first built from it, not when it is added.

    Werkzeug compiles two builder functions per rule (Python source through `compile`) as each rule is added: with
    some 220 routes that was 95% of create_app's time, paid by every gunicorn worker at start and by every test
    (which makes an app of its own), though a page builds URLs for a handful of endpoints. Matching is unchanged.
    """

    # What werkzeug's compile makes of a rule (its parts to match, the trace to build from, its converters), kept for
    # the next app in the process made with the same rules: the test suite makes one app per test, and parsing the
    # rules again was half of what create_app then cost. Converters keep no state of their own; the key holds
    # everything the parse reads.
    _parsed: dict[tuple, tuple] = {}

    def compile(self) -> None:
        url_map = self.map
        key = (self.rule, self.subdomain, self.host, self.merge_slashes, url_map.host_matching,
               tuple(url_map.converters.items()))
        parsed = self._parsed.get(key)
        if parsed is None:
            super().compile()
            self._parsed[key] = (self._parts, tuple(self._trace), self._converters)
            return
        parts, trace, converters = parsed
        self._parts, self._trace, self._converters = parts, list(trace), dict(converters)
        self.arguments |= set(converters)  # the rule's variables, as the parse adds them
        self._build = self._compile_builder(False).__get__(self, None)
        self._build_unknown = self._compile_builder(True).__get__(self, None)

    def _compile_builder(self, append_unknown: bool = True):
        name = "_build_unknown" if append_unknown else "_build"
        compile_now = super()._compile_builder

        def build_once(rule: Rule, **values):
            built = compile_now(append_unknown).__get__(rule, None)
            setattr(rule, name, built)  # later builds call the compiled function directly
            return built(**values)

        return build_once


# A planner cost as PostgreSQL reads one: digits, and a decimal part (Python's float() also takes "1_0" or "1e1").
_PAGE_COST = re.compile(r"[0-9]{1,3}(\.[0-9]{1,6})?")


def _plan_for_memory(app: Flask) -> None:
    """Tell PostgreSQL that reading a row by index costs about what scanning does (PAWTAL_PG_RANDOM_PAGE_COST, set on
    each new connection of the pool, so once per connection and not per request). With the default of 4 the staff
    week joined its 350 visits to their clients by hashing all 10,000 clients (4.6 ms) instead of 350 lookups
    (2.6 ms). A SET leaves alone the options the connection already has (PGOPTIONS, a service file, the URL)."""
    cost = app.config["PG_RANDOM_PAGE_COST"]
    if cost and (not _PAGE_COST.fullmatch(cost) or not 0 < float(cost) <= 100):
        raise RuntimeError(f"PAWTAL_PG_RANDOM_PAGE_COST={cost!r}: a number above 0, such as 1.1, or empty")
    if not cost or not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        return
    with app.app_context():
        event.listen(db.engine, "connect", _page_cost_setter(cost))


@functools.cache
def _page_cost_setter(cost: str) -> Callable:
    """The connect listener setting `cost`: one function per value, so that an engine given the same setting again
    (tests/conftest.py shares one engine between the test apps) keeps one listener, as event.listen ignores a repeat."""

    def set_page_cost(connection, _record):
        autocommit = connection.autocommit
        connection.autocommit = True  # a SET outside any transaction, kept for the session
        with connection.cursor() as cursor:
            cursor.execute(f"SET random_page_cost = {cost}")  # checked above: only digits and a point
        connection.autocommit = autocommit

    return set_page_cost


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Create a configured Pawtal app; `config` overrides what the environment says."""
    app = Flask(__name__, instance_relative_config=True)
    app.url_rule_class = LazyBuildRule
    app.url_map.converters["int"] = IdConverter
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.update(from_environment(app.instance_path))
    if config:
        app.config.update(config)
    logs.init_app(app)  # first: every later hook, and an error in one, has the request's id
    assets.init_app(app)  # next: compression then runs after every later after_request hook
    _refuse_unsafe_production(app)
    if app.config["PROXY_HOPS"]:
        # Behind a TLS proxy every request comes from the proxy: trust its X-Forwarded-* for this many hops,
        # so rate limits and agreements see the client's address and links keep https.
        hops = app.config["PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)

    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # A server database may drop idle connections; an embedded file cannot, so no ping there.
        app.config["SQLALCHEMY_ENGINE_OPTIONS"].setdefault("pool_pre_ping", True)
    db.init_app(app)
    _plan_for_memory(app)
    migrate.init_app(app, db, directory=MIGRATIONS, include_object=alembic_includes)
    health.init_app(app, MIGRATIONS)
    app.config["BABEL_DEFAULT_TIMEZONE"] = app.config["BUSINESS_TIMEZONE"]  # one setting for both
    babel.init_app(app)
    csrf.init_app(app)
    mail.init_app(app)
    htmx.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "staff.login"
    login_manager.login_message = None
    login_manager.user_loader(load_user)

    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _sqlite_pragmas)

    for module in BLUEPRINTS:
        app.register_blueprint(module.bp)
    outbox_service.init_app(app)
    audit.init_app(app, _audit_actor)

    app.add_url_rule("/", "home", home)
    app.before_request(_refuse_nul)
    app.before_request(access.refuse_undeclared)
    app.before_request(access.require_two_factor_setup)
    app.after_request(finish_transaction)
    app.teardown_request(_roll_back_on_exception)
    app.after_request(_security_headers)
    filters.init_app(app)
    app.add_template_filter(texts.markdown_html, "markdown")  # the business's FAQ, sanitised
    app.add_template_global(lambda: site_settings.get_settings().faq_markdown, "site_faq")
    app.add_template_filter(texts.plain_html, "plain")  # messages: escaped, links clickable
    app.add_template_global(site_settings.get_settings, "site_options")
    app.add_template_filter(human_size, "filesize")
    app.add_template_global(_unread_messages, "unread_messages")
    app.jinja_env.globals["visit_states"] = VISIT_STATES  # the calendar's legend
    app.jinja_env.globals["remembered"] = remembered  # a pure macro's output, kept (the calendars)
    app.context_processor(lambda: {"lang": str(get_locale()).replace("_", "-")})  # <html lang>, from the locale
    app.context_processor(_business)
    cli.init_app(app)
    for code in (400, 403, 404, 405, 413, 429, 500):
        app.register_error_handler(code, _error_page)
    first_run.announce(app)
    return app


@access.public
def home():
    """The start page: a sitter's day, the client desk for managers, the portal for clients, else sign-in."""
    if current_user.is_authenticated:
        return redirect(url_for(access.landing_page()))
    return redirect(url_for("auth.login"))


def load_user(user_id: str):
    """Flask-Login loader: staff and client logins are different kinds of account."""
    kind, _, rest = user_id.partition(":")
    raw_id, _, token = rest.partition(":")
    model = {"staff": StaffUser, "client": ClientLogin}.get(kind)
    account_id = parse_id(raw_id)
    if model is None or account_id is None:
        return None
    user = site_settings.load_account(model, account_id)
    if user is None or user.session_token != token or not user.active:
        return None
    return user


def _audit_actor():
    """Who the audit log says made a change: the signed-in staff member or client login; None is the system."""
    if not has_request_context() or not current_user.is_authenticated:
        return None
    return audit.actor_of_staff(current_user) if current_user.is_staff else audit.actor_of_login(current_user)


def _unread_messages() -> int:
    """The number beside Messages in the menu: threads the signed-in staff member (or client) has not read."""
    if not current_user.is_authenticated or g.get("portal_viewer"):
        return 0
    if current_user.is_staff:
        return message_service.unread_count(current_user)
    return message_service.client_unread_count(current_user.client)


def _business() -> dict:
    """Every template names the business as its owner saved it (services.settings.business)."""
    try:
        return {"business": site_settings.business()}
    except SQLAlchemyError:
        # An error page while the database is away still names the business, from the environment's defaults.
        db.session.rollback()
        return {"business": site_settings.default_business()}


def _refuse_unsafe_production(app: Flask) -> None:
    """In production: no development or short secret; and say loudly when rate limits are per process."""
    if app.config["PAWTAL_ENV"] != "production":
        return
    secret = app.config["SECRET_KEY"] or ""
    if secret == DEV_SECRET_KEY or len(secret) < MIN_SECRET_KEY_LENGTH:
        raise RuntimeError(f"SECRET_KEY must be a random value of at least {MIN_SECRET_KEY_LENGTH} characters in "
                           "production, e.g. from: python -c 'import secrets; print(secrets.token_urlsafe(48))'")
    if app.config["RATELIMIT_STORAGE_URI"].startswith("memory://"):
        app.logger.warning("RATELIMIT_STORAGE_URI is memory://: sign-in limits count per worker process. With more "
                           "than one worker set it to Redis (gunicorn.conf.py refuses to start several on memory://).")


def _refuse_nul() -> None:
    """No text Pawtal keeps can hold a NUL character (PostgreSQL refuses it): refuse the request, not a 500."""
    values = [request.path, *request.args.values(), *request.form.values()]
    if any("\x00" in value for value in values):
        abort(400, description="The request held a character that cannot be stored (a NUL byte). "
                               "Remove it and try again.")


def finish_transaction(response):
    """The request owns the unit of work: a successful answer commits it once, any other undoes it.

    Views and services only change the session (and flush); a refused form answers 4xx, so nothing it
    half-did is kept. Emails queued by the change are in the same commit (services.outbox).
    """
    if response.status_code < 400:
        db.session.commit()
    else:
        db.session.rollback()
    return response


def _roll_back_on_exception(error: BaseException | None) -> None:
    if error is not None:
        db.session.rollback()


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL; a commit need not wait for fsync
    # Read the file through a memory map (as Rails 8 does for SQLite): pages come from the system's page cache,
    # shared by every worker, instead of a read() and a copy into each connection's small page cache. The staff
    # week's query over 200,000 visits took 2.0 ms without it and 1.0 ms with it. 128 MiB is address space, not
    # memory; a larger file is read the usual way beyond it.
    cursor.execute("PRAGMA mmap_size=134217728")
    cursor.close()


def _security_headers(response):
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if current_app.config["BASE_URL"].startswith("https://"):
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


def _error_page(error):
    code = getattr(error, "code", 500) or 500
    # A failed statement leaves the session unusable until it is rolled back; the page may read from it.
    db.session.rollback()
    rule = access.rule_of(request.endpoint)
    if isinstance(error, CSRFError) and not current_user.is_authenticated and rule and rule[0] != access.PUBLIC:
        return access.sign_in_first(rule[0])  # the form outlived its session: sign in again, then back
    if wants_fragment():
        # An htmx request that failed (a file too large, a form from an ended session, a server error):
        # the message goes where flashes go instead of nothing happening (pawtal.js lets it swap).
        response = make_response(render_template("errors/_flash.html", error=error, code=code), code)
        response.headers["HX-Retarget"] = "#flashes"
        response.headers["HX-Reswap"] = "outerHTML"
        return response
    return render_template("errors/error.html", error=error, code=code), code
