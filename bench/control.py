"""The benchmark's control route: 50 rows from plain sqlite3 (or the DB-API on PostgreSQL) through a tiny template.

`make bench` serves `bench.control:create_app()`: the app with this route added; a normal install never has it.
"""
import sqlite3

from flask import Blueprint, Flask, current_app, render_template_string

import app as pawtal
from access import public
from extensions import db

bp = Blueprint("bench", __name__, url_prefix="/bench")
TEMPLATE = "<ul>{% for id, first, last in rows %}<li>{{ id }} {{ first }} {{ last }}</li>{% endfor %}</ul>"


QUERY = "SELECT id, first_name, last_name FROM client_profile ORDER BY id LIMIT 50"


@bp.get("/control")
@public
def control():
    uri = current_app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite:///"):
        with sqlite3.connect(uri.removeprefix("sqlite:///")) as conn:
            rows = conn.execute(QUERY).fetchall()
    else:  # PostgreSQL: the pool's DB-API connection, no ORM
        conn = db.engine.raw_connection()
        try:
            cursor = conn.cursor()
            cursor.execute(QUERY)
            rows = cursor.fetchall()
        finally:
            conn.close()
    return render_template_string(TEMPLATE, rows=rows)


def create_app(config: dict | None = None) -> Flask:
    """Pawtal with the control route, for the benchmark only."""
    bench_app = pawtal.create_app(config)
    bench_app.register_blueprint(bp)
    return bench_app
