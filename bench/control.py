"""The benchmark's control route: 50 rows from plain sqlite3 through a tiny template.

Registered only when PAWTAL_BENCH_CONTROL is set (by `make bench`), never in a normal install.
"""
import sqlite3

from flask import Blueprint, current_app, render_template_string

from access import public

bp = Blueprint("bench", __name__, url_prefix="/bench")
TEMPLATE = "<ul>{% for id, first, last in rows %}<li>{{ id }} {{ first }} {{ last }}</li>{% endfor %}</ul>"


@bp.get("/control")
@public
def control():
    path = current_app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT id, first_name, last_name FROM client_profile ORDER BY id LIMIT 50").fetchall()
    return render_template_string(TEMPLATE, rows=rows)
