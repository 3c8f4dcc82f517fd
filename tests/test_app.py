"""The app factory, configuration, security headers, migrations and CLI."""
import re

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import create_engine, event, inspect, select, text

from app import create_app
from config import DEV_SECRET_KEY
from extensions import db
from models import ClientProfile, Pet, Role, StaffUser, alembic_includes
from services import settings as site_settings
from tests.conftest import login_as


def test_production_refuses_the_development_secret(tmp_path, monkeypatch):
    monkeypatch.setenv("PAWTAL_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.sqlite"})
    monkeypatch.setenv("SECRET_KEY", "a-long-random-production-secret-of-40-chars")
    assert create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.sqlite"}).config["SECRET_KEY"] != DEV_SECRET_KEY


def test_environment_configures_the_business(tmp_path, monkeypatch):
    monkeypatch.setenv("PAWTAL_BUSINESS_NAME", "Happy Tails")
    monkeypatch.setenv("PAWTAL_TIMEZONE", "Europe/London")
    monkeypatch.setenv("BASE_URL", "https://pets.example.com/")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.sqlite"})
    assert app.config["BUSINESS_NAME"] == "Happy Tails"
    assert app.config["BUSINESS_TIMEZONE"] == "Europe/London"
    assert app.config["BASE_URL"] == "https://pets.example.com"
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_session_cookie_is_httponly_and_samesite(client, owner):
    response = client.post("/staff/login", data={"email": owner.email, "password": "correct-horse-42"})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # BASE_URL is http in tests


def test_security_headers(client):
    response = client.get("/staff/login")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_htmx_is_vendored_not_from_a_cdn(client):
    page = client.get("/staff/login").get_data(as_text=True)
    [src] = re.findall(r'src="(/static/vendor/htmx-2\.0\.11\.min\.[0-9a-f]+\.js)"', page)  # its content's hash
    assert "unpkg" not in page and "cdn" not in page.lower()
    assert client.get(src).status_code == 200


def _migration_url(database_url, tmp_path):
    if database_url.startswith("postgresql"):
        engine = create_engine(database_url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS migration_check CASCADE"))
            conn.execute(text("CREATE SCHEMA migration_check"))
        engine.dispose()
        return database_url + "?options=-csearch_path%3Dmigration_check"
    return f"sqlite:///{tmp_path}/migrated.sqlite"


def test_migrations_build_the_schema_from_empty_and_match_the_models(_schema, tmp_path):
    url = _migration_url(_schema, tmp_path)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": alembic_includes})
            diff = compare_metadata(context, db.metadata)
            tables = set(inspect(conn).get_table_names())
        db.session.remove()
        db.engine.dispose()
    assert {"client_profile", "pet", "staff_user", "custom_price"} <= tables
    assert diff == []


def test_create_owner_command(runner, app):
    result = runner.invoke(args=["create-owner", "Boss@Example.com", "--first-name", "Bo",
                                 "--last-name", "Boss", "--password", "s3cret-password!"])
    assert result.exit_code == 0, result.output
    owner = db.session.scalar(select(StaffUser).where(StaffUser.email == "boss@example.com"))
    assert owner.role == Role.OWNER
    again = runner.invoke(args=["create-owner", "boss@example.com", "--first-name", "Bo",
                                "--last-name", "Boss", "--password", "s3cret-password!"])
    assert again.exit_code != 0 and "already exists" in again.output
    weak = runner.invoke(args=["create-owner", "weak@example.com", "--first-name", "Weak", "--last-name", "",
                                 "--password", "short"])
    assert weak.exit_code != 0


def test_create_owner_prompts_for_the_password(runner, app):
    result = runner.invoke(args=["create-owner", "asked@example.com"],
                           input="Ada\nLovelace\nprompted-pass-1\nprompted-pass-1\n")
    assert result.exit_code == 0, result.output
    assert "First name" in result.output and "Last name" in result.output
    assert db.session.scalar(select(StaffUser).where(StaffUser.email == "asked@example.com")) is not None


def test_seed_demo_is_idempotent_and_prints_logins(runner, app):
    first = runner.invoke(args=["seed-demo", "--clients", "12"])
    assert first.exit_code == 0, first.output
    assert "owner@pawtal.example" in first.output and "Demo data loaded" in first.output
    counts = (db.session.scalar(select(db.func.count(ClientProfile.id))),
              db.session.scalar(select(db.func.count(Pet.id))))
    second = runner.invoke(args=["seed-demo", "--clients", "12"])
    assert "already present" in second.output
    db.session.expire_all()
    assert (db.session.scalar(select(db.func.count(ClientProfile.id))),
            db.session.scalar(select(db.func.count(Pet.id)))) == counts
    assert counts[0] == 12 and counts[1] >= 12
    owner = db.session.scalar(select(StaffUser).where(StaffUser.email == "owner@pawtal.example"))
    roles = set(db.session.scalars(select(StaffUser.role)))
    assert roles == {Role.OWNER, Role.MANAGER, Role.SITTER} and owner is not None


def test_error_pages_are_friendly(app, client, owner):
    login_as(client, owner)
    response = client.get("/clients/999999")
    assert response.status_code == 404
    assert "Not found" in response.get_data(as_text=True)


def test_demo_reads_like_a_real_business(runner, app):
    """Forty different people with their own addresses, every pet with a photo, a month of visits behind
    (checked in and out, most with a report) and six weeks ahead."""
    from models import Photo, Visit, VisitReport, VisitStatus, utcnow

    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    people = db.session.execute(select(ClientProfile.first_name, ClientProfile.last_name)).all()
    assert len(people) == 40 and len(set(people)) == 40
    pets = db.session.scalars(select(Pet)).all()
    assert pets and all(p.photo_id for p in pets)
    assert db.session.scalar(select(db.func.count(db.func.distinct(Pet.name)))) >= 30
    assert db.session.scalar(select(db.func.count(Photo.id))) == len(pets)
    booked = (VisitStatus.SCHEDULED, VisitStatus.COMPLETED)
    days = db.session.scalars(select(Visit.day).where(Visit.status.in_(booked))).all()
    assert (max(days) - min(days)).days > 60
    past = db.session.scalars(select(Visit).where(Visit.ends_at <= utcnow(), Visit.status.in_(booked))).all()
    assert past and all(v.status == VisitStatus.COMPLETED and v.checked_in_at and v.checked_out_at for v in past)
    assert db.session.scalar(select(db.func.count(VisitReport.id))) > len(past) // 2
    assert db.session.scalar(select(db.func.count(Visit.id)).where(Visit.status == VisitStatus.CANCELLED)) > 0


def test_postgresql_plans_for_a_database_in_memory_and_a_bad_setting_is_refused(_schema, tmp_path, monkeypatch):
    """Each PostgreSQL connection gets PAWTAL_PG_RANDOM_PAGE_COST (1.1), and keeps the options it was given in the
    URL and in PGOPTIONS (libpq's, which a service file may set too)."""
    for bad in ("fast", "0", "-1", "1_0", "1e1", "1.1; SET x = 1"):
        with pytest.raises(RuntimeError, match="PAWTAL_PG_RANDOM_PAGE_COST"):
            create_app({"SQLALCHEMY_DATABASE_URI": _schema, "TESTING": True, "PG_RANDOM_PAGE_COST": bad})
    if not _schema.startswith("postgresql"):
        return  # SQLite has no such setting: only the refusal above applies
    monkeypatch.setenv("PGOPTIONS", "-c statement_timeout=9876")  # libpq's, used when the URL gives no options
    for suffix, extra, expected, kept in (
            ("?options=-csearch_path%3Dpg_catalog", {}, "1.1", ("search_path", "pg_catalog")),
            ("?options=-csearch_path%3Dpg_catalog", {"PG_RANDOM_PAGE_COST": "2"}, "2", ("search_path", "pg_catalog")),
            ("", {}, "1.1", ("statement_timeout", "9876ms"))):
        app = create_app({"SQLALCHEMY_DATABASE_URI": _schema + suffix, "TESTING": True, **extra})
        with app.app_context():
            assert db.session.scalar(text("SHOW random_page_cost")) == expected
            assert db.session.scalar(text(f"SHOW {kept[0]}")) == kept[1]
            db.session.remove()
            db.engine.dispose()
    app = create_app({"SQLALCHEMY_DATABASE_URI": _schema, "TESTING": True, "PG_RANDOM_PAGE_COST": ""})
    with app.app_context():
        server = create_engine(_schema)
        with server.connect() as conn:
            assert db.session.scalar(text("SHOW random_page_cost")) == conn.scalar(text("SHOW random_page_cost"))
        server.dispose()
        db.session.remove()
        db.engine.dispose()


@pytest.mark.parametrize("who", ["staff", "client"])
def test_a_page_reads_the_signed_in_account_with_the_settings_in_one_query(app, client, owner, me, portal, who):
    """Every page reads the account and the settings: one query for both, and none for the settings again; a
    changed session token still signs the account out."""
    browser = client if who == "staff" else portal
    if who == "staff":
        login_as(browser, owner)
    account = owner if who == "staff" else me
    page = "/clients/" if who == "staff" else "/portal/"
    site_settings.get_settings()  # the row the migrations make in a real install
    db.session.commit()
    seen = []
    keep = lambda conn, cursor, statement, *args: seen.append(" ".join(statement.split()))  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", keep)
    try:
        assert browser.get(page).status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", keep)
    reading_settings = [s for s in seen if "site_settings.clients_can_register" in s]  # the row, not a count
    assert len(reading_settings) == 1 and f"FROM {account.__tablename__} " in reading_settings[0], \
        [s[:60] + " … " + s[-120:] for s in reading_settings]

    account.session_token = "changed"
    db.session.commit()
    assert browser.get(page).status_code in (302, 303)
