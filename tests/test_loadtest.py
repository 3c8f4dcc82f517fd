"""`make loadtest`'s harness, run for real with a small crowd for a few seconds: gunicorn with 4 workers on
PostgreSQL and Redis, locust, the loopback SMTP server and localstripe, and the checks afterwards.

It always runs on PostgreSQL and Redis (the load test is about them), in a database of its own that it drops
afterwards. It runs once, with the suite's PostgreSQL run (TEST_DATABASE_URL); the SQLite run leaves it out.
Without PostgreSQL or Redis it is skipped on a laptop; with CI set it fails instead.
"""
import os
import re
import socket
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVER = os.environ.get("TEST_DATABASE_URL", "")
SERVER = SERVER if SERVER.startswith("postgresql") else "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DATABASE = make_url(SERVER).set(database=f"pawtal_loadtest_{os.getpid()}")
REDIS = os.environ.get("LOADTEST_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")  # 15 is test_security's, 14 make loadtest's


def _missing() -> str | None:
    """What the load test needs and cannot reach, or None."""
    try:
        create_engine(make_url(SERVER).set(database="postgres")).connect().close()
    except Exception as error:  # noqa: BLE001 - any failure to connect means the same here
        return f"PostgreSQL at {SERVER}: {error}"
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=2).close()
    except OSError as error:
        return f"Redis on 127.0.0.1:6379: {error}"
    return None


@pytest.fixture
def loadtest_database():
    missing = _missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"the load test needs {missing}")
        pytest.skip(f"the load test needs {missing}")
    url = DATABASE.render_as_string(hide_password=False)
    yield url
    engine = create_engine(make_url(SERVER).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE.database}" WITH (FORCE)'))
    engine.dispose()


@pytest.mark.postgresql_run  # the same test on whichever database the suite uses: once per CI, in its PostgreSQL run
def test_a_small_crowd_changes_everything_once_and_every_email_goes_once(loadtest_database):
    env = {**os.environ, "LOADTEST_DATABASE_URL": loadtest_database, "LOADTEST_REDIS_URL": REDIS,
           "LOADTEST_DURATION": os.environ.get("LOADTEST_TEST_DURATION", "10s"), "LOADTEST_USERS": "10",
           "LOADTEST_SPAWN_RATE": "10", "LOADTEST_CLIENTS": "20"}
    for name in ("DATABASE_URL", "TEST_DATABASE_URL"):
        env.pop(name, None)
    run = subprocess.run([sys.executable, os.path.join(ROOT, "loadtest", "run.py")], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=900)
    out = run.stdout
    assert run.returncode == 0, out + run.stderr[-3000:]
    checks = re.findall(r"^(PASS|FAIL)  (.*)$", out, re.M)
    assert len(checks) >= 11 and all(verdict == "PASS" for verdict, _line in checks), out
    # Every kind of person got through to what they came for (each does it first, right after signing in).
    for kind in ("staff: search clients", "client: request visits", "sitter: check-in", "manager: approve",
                 "client: pay invoice"):
        assert re.search(rf"^{re.escape(kind)} +[1-9]\d* +0 ", out, re.M), f"no {kind!r} in:\n{out}"
    assert re.search(r"^PASS  email: [1-9]\d* queued, [1-9]\d* received \(0 missing, 0 extra", out, re.M), out
