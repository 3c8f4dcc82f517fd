"""Deployment safety: secrets, HSTS, NUL bytes, the address behind a proxy, and limits shared by workers."""
from __future__ import annotations

import http.client
import subprocess
import sys
import threading
from pathlib import Path
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from app import create_app
from extensions import db
from models import ClientLogin, Policy, PolicyAgreement
from tests.conftest import PASSWORD, make_config


def test_production_refuses_a_short_secret(tmp_path, monkeypatch):
    monkeypatch.setenv("PAWTAL_ENV", "production")
    url = f"sqlite:///{tmp_path}/x.sqlite"
    for weak in ("x", "a" * 31):
        monkeypatch.setenv("SECRET_KEY", weak)
        with pytest.raises(RuntimeError, match="at least 32 characters"):
            create_app({"SQLALCHEMY_DATABASE_URI": url})
    monkeypatch.setenv("SECRET_KEY", "k" * 32)
    assert create_app({"SQLALCHEMY_DATABASE_URI": url}).config["SECRET_KEY"] == "k" * 32


def test_hsts_only_when_the_site_is_https(_schema, tmp_path):
    plain = create_app(make_config(_schema, tmp_path)).test_client().get("/login")
    assert "Strict-Transport-Security" not in plain.headers
    secure = create_app(make_config(_schema, tmp_path, BASE_URL="https://pets.example.com")).test_client()
    assert secure.get("/login").headers["Strict-Transport-Security"] == "max-age=31536000"


@pytest.mark.parametrize("method,url,data", [
    ("POST", "/password/forgot", {"email": "a\x00b@example.com"}),
    ("GET", "/clients/?q=%00", None),
    ("GET", "/login?next=%00", None),
])
def test_a_nul_byte_is_refused_with_400_not_a_500(client, as_manager, method, url, data):
    response = as_manager.open(url, method=method, data=data)
    assert response.status_code == 400
    assert "cannot be stored" in response.get_data(as_text=True)


class _Proxy(BaseHTTPRequestHandler):
    """A reverse proxy hop, as nginx or Caddy would be: it adds X-Forwarded-For with the caller's address."""

    upstream: tuple[str, int]

    def _forward(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        headers.update({"X-Forwarded-For": self.client_address[0], "X-Forwarded-Proto": "https",
                        "X-Forwarded-Host": "pets.example.com", "Host": "pets.example.com"})
        upstream = http.client.HTTPConnection(*self.upstream, timeout=10)
        upstream.request(self.command, self.path, body=body, headers=headers)
        answer = upstream.getresponse()
        payload = answer.read()
        self.send_response(answer.status)
        for key, value in answer.getheaders():
            if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _forward

    def log_message(self, *args):
        pass


@pytest.fixture
def behind_proxy(_schema, tmp_path):
    """The app on a loopback port with a proxy in front; returns (app, proxy port)."""
    def start(hops: int):
        app = create_app(make_config(_schema, tmp_path, PROXY_HOPS=hops, CLIENT_LOGIN_LIMIT="3 per minute"))
        server = make_server("127.0.0.1", 0, app, threaded=True)
        handler = type("Proxy", (_Proxy,), {"upstream": ("127.0.0.1", server.server_port)})
        proxy = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        for each in (server, proxy):
            threading.Thread(target=each.serve_forever, daemon=True).start()
        started.append((server, proxy))
        return app, proxy.server_port

    started = []
    yield start
    for server, proxy in started:
        proxy.shutdown()
        server.shutdown()


def _post(port: int, source: str, path: str, form: str) -> int:
    """POST through the proxy from a given loopback address (127.0.0.0/8 is all this machine)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    connection.request("POST", path, body=form, headers={"Content-Type": "application/x-www-form-urlencoded"})
    status = connection.getresponse().status
    connection.close()
    return status


def test_behind_a_proxy_each_client_has_its_own_sign_in_limit(behind_proxy):
    _, port = behind_proxy(1)
    wrong = [_post(port, "127.0.0.2", "/login", f"email=nobody{n}%40example.com&password=wrong-one-1")
             for n in range(4)]
    assert wrong == [401, 401, 401, 429]
    assert _post(port, "127.0.0.3", "/login", "email=someone%40example.com&password=wrong-one-1") == 401


def test_without_trusted_hops_the_proxy_is_one_bucket_for_everybody(behind_proxy):
    """What PAWTAL_PROXY_HOPS fixes: with it at 0, one client's failures lock everyone out."""
    _, port = behind_proxy(0)
    for n in range(3):
        _post(port, "127.0.0.2", "/login", f"email=nobody{n}%40example.com&password=wrong-one-1")
    assert _post(port, "127.0.0.3", "/login", "email=someone%40example.com&password=wrong-one-1") == 429


def test_behind_a_proxy_an_agreement_records_the_clients_address(behind_proxy):
    app, port = behind_proxy(1)
    with app.app_context():
        policy = Policy(title="Terms", body="Be kind.", version=1, required_at_registration=True)
        db.session.add(policy)
        db.session.commit()
        form = (f"email=far%40example.com&password={PASSWORD}&confirm={PASSWORD}&first_name=Far&last_name=Away"
                f"&policies={policy.id}")
        assert _post(port, "127.0.0.5", "/register", form) == 303
        login = db.session.scalar(select(ClientLogin).where(ClientLogin.email == "far@example.com"))
        agreement = db.session.scalar(select(PolicyAgreement).where(PolicyAgreement.login_id == login.id))
        assert agreement.ip_address == "127.0.0.5"
        db.session.remove()


def test_workers_share_limits_through_redis(_schema, tmp_path):
    """Two app processes' worth of limiters on one Redis count together: the 4th failure is refused by either."""
    import redis

    store = "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(store).flushdb()
    except redis.ConnectionError as error:
        pytest.fail(f"Redis is not answering on 127.0.0.1:6379 ({error}); CI needs it")
    workers = [create_app(make_config(_schema, tmp_path, RATELIMIT_STORAGE_URI=store, CLIENT_LOGIN_LIMIT="3 per minute"))
               for _ in range(2)]
    browsers = [w.test_client() for w in workers]
    statuses = [browsers[n % 2].post("/login", data={"email": f"x{n}@example.com", "password": "wrong-one-1"}).status_code
                for n in range(4)]
    assert statuses == [401, 401, 401, 429]
    redis.Redis.from_url(store).flushdb()


def test_gunicorn_refuses_several_workers_on_memory_storage(tmp_path):
    env = {"PAWTAL_ENV": "production", "RATELIMIT_STORAGE_URI": "memory://", "SECRET_KEY": "k" * 40,
           "DATABASE_URL": f"sqlite:///{tmp_path}/g.sqlite", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "-w", "2", "-b",
                           "127.0.0.1:0", "app:create_app()"], env=env, capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode != 0 and "RATELIMIT_STORAGE_URI=redis://" in done.stderr + done.stdout


ODD_IDS = ["²", "١٢", "99999999999999999999", "-1", "0", "1e3", " 7"]


@pytest.mark.parametrize("odd", ODD_IDS)
def test_ids_that_are_no_ascii_number_in_range_name_nothing(app, as_manager, make, odd):
    client = make.client()
    db.session.add(Policy(title="Service Agreement", body="We walk dogs.", version=1, required_at_registration=True))
    db.session.commit()
    for url in (f"/schedule/?sitter={odd}", f"/invitations/new?ids={odd}", f"/pets/new?client_id={odd}"):
        assert as_manager.get(url).status_code in (200, 404), url
    assert as_manager.post("/invitations/", data={"ids": [odd, str(client.id)]}).status_code == 303
    registration = app.test_client().post("/register", data={
        "email": "odd-id@example.com", "password": PASSWORD, "confirm": PASSWORD, "first_name": "Nia",
        "last_name": "Reyes", "policies": odd})
    assert registration.status_code == 422
    assert db.session.scalar(select(ClientLogin).where(ClientLogin.email == "odd-id@example.com")) is None


def test_a_url_id_is_ascii_digits_only(as_manager, make):
    client = make.client()
    assert as_manager.get(f"/clients/{client.id}").status_code == 200
    arabic_indic = str(client.id).translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    for spelled in (arabic_indic, "²", "99999999999999999999", "9" * 5000):
        assert as_manager.get(f"/clients/{spelled}").status_code == 404, spelled
