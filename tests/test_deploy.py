"""The deployment guide (README, "Deploying Pawtal") and deploy/, run on this machine, in a temporary folder laid out
like the server: the systemd units verified with systemd-analyze and their ExecStart lines run by hand (systemd is
not PID 1 here), gunicorn started as pawtal.service starts it, behind nginx and Caddy with a self-signed certificate
on loopback, checked through each proxy, with the settings of deploy/pawtal.env.example filled in with local values.
Every shell command of the guide is either run here (taken from the README itself) or listed with the reason it
cannot be. `make deploy-check` runs this file with PAWTAL_DEPLOY_CHECK=1, which adds the steps that start the app
again and again (each timer's job, backup and restore, a reload, the locked requirements, a PostgreSQL role)."""
from __future__ import annotations

import http.client
import inspect
import json
import os
import random
import re
import secrets
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.parse

import pytest
import redis
from app import create_app
from sqlalchemy import create_engine, make_url, text

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEPLOY = os.path.join(ROOT, "deploy")
README = os.path.join(ROOT, "README.md")
UNITS = ("pawtal.service", "pawtal-remind.service", "pawtal-remind.timer", "pawtal-autopay.service",
         "pawtal-autopay.timer", "pawtal-backup.service", "pawtal-backup.timer")
SITE = "pets.example.com"
TEST_SITE = "pets.example.test"
# Flask-Limiter's counters for this file: a Redis database of its own (tests/test_security.py uses 15).
REDIS_URL = os.environ.get("DEPLOY_REDIS_URL", "redis://127.0.0.1:6379/14")
SLOW = os.environ.get("PAWTAL_DEPLOY_CHECK") == "1"
# Each of these starts the app in processes of its own (3-4 s of CPU each): `make deploy-check` runs them.
# Starts the app several times: `make deploy-check` runs these; `make test` leaves them out (pytest.ini, -m).
slow = pytest.mark.deploy_check


def tool(name: str) -> str:
    """A program the check needs; missing, it fails in CI (and in `make deploy-check`, which installs them)."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if found:
        return found
    message = (f"{name} is not installed: `make deploy-check` installs what this file needs "
               "(nginx, caddy, systemd, openssl, postgresql-client).")
    if os.environ.get("CI") or SLOW:
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, log: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"exited with {process.returncode}:\n{read(log)[-3000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing answered on port {port} in {seconds} s:\n{read(log)[-3000:]}")


def read(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as file:
        return file.read()


def write(path: str, content: str, mode: int = 0o644) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as file:
        file.write(content)
    os.chmod(path, mode)
    return path


def guide() -> str:
    """The README's "Deploying Pawtal" section."""
    readme = read(README)
    start = readme.index("\n## Deploying Pawtal\n")
    end = readme.find("\n## ", start + 1)
    return readme[start:end if end > 0 else len(readme)]


def guide_commands() -> list[str]:
    """Each shell command of the guide's ```sh blocks: continuation lines joined, comments and blanks dropped."""
    commands = []
    for block in re.findall(r"^```sh\n(.*?)^```", guide(), flags=re.S | re.M):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"\s+#\s.*$", "", line).strip()
            if line and not line.startswith("#"):
                commands.append(re.sub(r"\s+", " ", line))
    return commands


def guide_command(key: str) -> str:
    """The one command of the guide that contains `key`: the tests run what the README says, not a copy of it."""
    found = sorted({command for command in guide_commands() if key in command})
    assert len(found) == 1, f"{len(found)} commands of the guide contain {key!r}: {found}"
    return found[0]


def systemd_environment_file(path: str) -> dict[str, str]:
    """NAME=value lines as systemd's EnvironmentFile= reads them (comments, blanks, surrounding quotes)."""
    values = {}
    for line in read(path).splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        name, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[name.strip()] = value
    return values


def unit_settings(path: str) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in read(path).splitlines():
        if "=" in line and not line.startswith(("#", ";", "[")):
            name, _, value = line.partition("=")
            settings.setdefault(name.strip(), []).append(value.strip())
    return settings


class Install:
    """A temporary install laid out as the guide lays one out: /srv/pawtal (this checkout, linked, with an instance
    folder of its own), /etc/pawtal/env, /etc/systemd/system, /var/backups/pawtal, under one temporary folder."""

    def __init__(self, top, database_url: str, name: str = "pawtal"):
        self.top = str(top)
        self.checkout = os.path.join(self.top, "srv", name)
        os.makedirs(self.checkout)
        for entry in os.listdir(ROOT):
            if entry not in ("instance", ".git", ".pytest_cache"):
                os.symlink(os.path.join(ROOT, entry), os.path.join(self.checkout, entry))
        self.env_file = os.path.join(self.top, "etc", "pawtal", "env")
        self.units = os.path.join(self.top, "etc", "systemd", "system")
        self.backups = os.path.join(self.top, "var", "backups", "pawtal")
        self.database_url = database_url
        self.run(guide_command("install -d -o pawtal -g pawtal -m 750 /srv/pawtal/instance"))

    def render(self, content: str) -> str:
        """The guide's paths and names, moved into this install."""
        for old, new in (("/srv/pawtal", self.checkout), ("/etc/pawtal", os.path.dirname(self.env_file)),
                         ("/etc/systemd/system", self.units), ("/etc/nginx", self.top + "/etc/nginx"),
                         ("/etc/caddy", self.top + "/etc/caddy"), ("/var/backups/pawtal", self.backups),
                         # No user pawtal on this machine: the commands run as whoever runs the tests.
                         ("sudo -u pawtal ", ""), (" -o root -g pawtal", ""), (" -o pawtal -g pawtal", "")):
            content = content.replace(old, new)
        return content

    def write_env(self, **values: str) -> dict[str, str]:
        """Copy deploy/pawtal.env.example as the guide does, then fill its values in with this machine's (the
        guide's `editor` step)."""
        self.run(guide_command("pawtal.env.example /etc/pawtal/env"), cwd=self.top)
        lines = []
        for line in read(self.env_file).splitlines():
            name = line.partition("=")[0]
            if not line.startswith("#") and name in values:
                value = values.pop(name)
                line = f'{name}="{value}"' if re.search(r"[\s<>]", value) else f"{name}={value}"
            lines.append(line)
        lines += [f"{name}={value}" for name, value in values.items()]  # settings the example leaves at defaults
        write(self.env_file, "\n".join(lines) + "\n", 0o640)
        return self.environment()

    def environment(self) -> dict[str, str]:
        """What a unit's process gets: the settings file (once there is one), and a PATH."""
        settings = systemd_environment_file(self.env_file) if os.path.exists(self.env_file) else {}
        return {"PATH": os.environ["PATH"], "LANG": "C.UTF-8", "PAWTAL_ENV_FILE": self.env_file, **settings}

    def install_units(self) -> None:
        """The guide's `cp` into etc/systemd/system, then the copies' paths moved into this install."""
        os.makedirs(self.units)
        self.run(guide_command("cp /srv/pawtal/deploy/*.service"))
        assert sorted(os.listdir(self.units)) == sorted(UNITS)
        for name in UNITS:
            path = os.path.join(self.units, name)
            write(path, self.render(read(path)))

    def exec_start(self, unit: str) -> tuple[list[str], str]:
        """The unit's ExecStart split as systemd splits it, and its working directory."""
        settings = unit_settings(os.path.join(self.units, unit))
        assert settings["EnvironmentFile"] == [self.env_file]
        return shlex.split(settings["ExecStart"][0]), settings["WorkingDirectory"][0]

    def run(self, command: str | list[str], cwd: str | None = None, input: str | None = None,
            check: bool = True) -> subprocess.CompletedProcess:
        """A unit's ExecStart (a list) with the settings file in its environment, as systemd gives it; or a command
        of the guide (a shell line) with next to nothing in it, as `sudo` gives it: only where the settings file is,
        since the scripts in deploy/ cannot be moved into the temporary install."""
        if isinstance(command, list):
            argv, environment = command, self.environment()
        else:
            argv = ["sh", "-c", self.render(command)]
            environment = {"PATH": os.environ["PATH"], "LANG": "C.UTF-8", "PAWTAL_ENV_FILE": self.env_file}
        done = subprocess.run(argv, cwd=cwd or self.checkout, env=environment, input=input, capture_output=True,
                              text=True, timeout=120)
        if check:
            assert done.returncode == 0, f"{command} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        return done


def empty_database(base_url: str, top, name: str) -> tuple[str, callable]:
    """A new, empty database for an install, and how to drop it: a SQLite file, or a PostgreSQL database of its own
    on the test suite's server (a database, not a schema: a backup restores into the schema it was taken from)."""
    if not base_url.startswith("postgresql"):
        return f"sqlite:///{top}/{name}.sqlite", lambda: None
    database = f"deploy_{name}_{secrets.token_hex(4)}"
    engine = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{database}"'))

    def drop():
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        engine.dispose()

    return make_url(base_url).set(database=database).render_as_string(hide_password=False), drop


class Site:
    """HTTPS to a proxy on 127.0.0.1 as the browser of a client at `source` (any 127.x address) would send it."""

    def __init__(self, port: int, cafile: str, host: str = TEST_SITE):
        self.port, self.host, self.cafile = port, host, cafile

    @property
    def origin(self) -> str:
        return f"https://{self.host}:{self.port}"

    def request(self, method: str, path: str, headers: dict | None = None, body: bytes | None = None,
                source: str = "127.0.0.1", tls: bool = True, port: int | None = None, timeout: float = 20):
        port = port or self.port
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0))
        if tls:
            context = ssl.create_default_context(cafile=self.cafile)
            raw = context.wrap_socket(raw, server_hostname=self.host)
        connection = http.client.HTTPConnection(self.host, port)
        connection.sock = raw
        connection.request(method, path, body=body, headers={"Host": f"{self.host}:{port}", **(headers or {})})
        response = connection.getresponse()
        data = response.read()
        connection.close()
        return response.status, response.headers, data.decode("utf-8", "replace")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for the test site, made with openssl (Let's Encrypt cannot reach this machine)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = str(folder / "fullchain.pem"), str(folder / "privkey.pem")
    subprocess.run([tool("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    f"/CN={TEST_SITE}", "-addext", f"subjectAltName=DNS:{TEST_SITE}", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    return cert, key


@pytest.fixture(scope="module")
def install(database_url, tmp_path_factory):
    """A migrated install with its settings (the example file filled in) and its units, not yet running."""
    top = tmp_path_factory.mktemp("install")
    url, drop = empty_database(database_url, top, "main")
    install = Install(top, url)
    secret = subprocess.run(["sh", "-c", guide_command("secrets.token_urlsafe")], capture_output=True, text=True,
                            check=True).stdout.strip()
    install.gunicorn_port = free_port()
    install.run(guide_command("install -d -m 755 /etc/pawtal"))
    install.write_env(SECRET_KEY=secret, DATABASE_URL=url, RATELIMIT_STORAGE_URI=REDIS_URL,
                      BASE_URL=f"https://{TEST_SITE}", MAIL_SERVER="127.0.0.1", MAIL_PORT=str(free_port()),
                      MAIL_USE_TLS="0", PAWTAL_OUTBOX_POLL_SECONDS="1")
    install.install_units()
    install.run(guide_command("pawtal-flask db upgrade"))
    yield install
    drop()


@pytest.fixture(scope="module")
def gunicorn(install):
    """pawtal.service's ExecStart, run by hand as systemd would run it (only the address moved to a free port)."""
    command, cwd = install.exec_start("pawtal.service")
    command = [part.replace("127.0.0.1:8000", f"127.0.0.1:{install.gunicorn_port}") for part in command]
    log = os.path.join(install.top, "gunicorn.log")
    with open(log, "w") as out:
        process = subprocess.Popen(command, cwd=cwd, env=install.environment(), stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(install.gunicorn_port, process, log)
        yield process, log
    finally:
        process.send_signal(signal.SIGINT)  # gunicorn's quick shutdown
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def nginx(install, gunicorn, certificate):
    """deploy/nginx-pawtal.conf installed as the guide installs it into an etc/nginx laid out as Debian's (a default
    site enabled), edited for loopback ports and the self-signed pair, checked with `nginx -t`, then serving."""
    nginx_binary = tool("nginx")
    etc, prefix = os.path.join(install.top, "etc", "nginx"), os.path.join(install.top, "nginx")
    write(os.path.join(etc, "sites-available", "default"), "server { listen 127.0.0.1:1 default_server; }\n")
    os.makedirs(os.path.join(etc, "sites-enabled"))
    os.symlink(os.path.join(etc, "sites-available", "default"), os.path.join(etc, "sites-enabled", "default"))
    install.run(guide_command("nginx-pawtal.conf /etc/nginx/sites-available/pawtal"))
    http_port, https_port = free_port(), free_port()
    path = os.path.join(etc, "sites-available", "pawtal")
    site = read(path)
    for old, new in ((f"/etc/letsencrypt/live/{SITE}/fullchain.pem", certificate[0]),
                     (f"/etc/letsencrypt/live/{SITE}/privkey.pem", certificate[1]),
                     ("/var/log/nginx/", prefix + "/"), (SITE, TEST_SITE),
                     ("127.0.0.1:8000", f"127.0.0.1:{install.gunicorn_port}"),
                     ("listen 80;", f"listen 127.0.0.1:{http_port};"),
                     ("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;")):
        assert old in site, old
        site = site.replace(old, new)
    write(path, re.sub(r"\n\s*listen \[::\]:\d+[^;]*;", "", site))  # loopback only
    install.run(guide_command("ln -s /etc/nginx/sites-available/pawtal"))
    install.run(guide_command("rm /etc/nginx/sites-enabled/default"))
    assert os.listdir(os.path.join(etc, "sites-enabled")) == ["pawtal"]
    temp = "".join(f"{kind}_temp_path {prefix}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi",
                                                                       "scgi"))
    # Debian's nginx.conf, cut down: its http block includes every enabled site.
    main = write(os.path.join(prefix, "nginx.conf"), (
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"pid {prefix}/nginx.pid;\nerror_log {prefix}/error.log;\nevents {{}}\n"
        f"http {{\ninclude /etc/nginx/mime.types;\naccess_log off;\n{temp}include {etc}/sites-enabled/*;\n}}\n"))
    test = shlex.split(guide_command("nginx -t"))
    checked = subprocess.run([nginx_binary, *test[1:], "-p", prefix, "-c", main], capture_output=True, text=True)
    assert checked.returncode == 0 and "test is successful" in checked.stderr, checked.stderr
    log = os.path.join(prefix, "error.log")
    process = subprocess.Popen([nginx_binary, "-p", prefix, "-c", main, "-g", "daemon off;"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(https_port, process, log)
        site = Site(https_port, certificate[0])
        site.http_port, site.access_log, site.name = http_port, os.path.join(prefix, "pawtal-access.log"), "nginx"
        yield site
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def caddy(install, gunicorn, certificate):
    """deploy/Caddyfile copied as the guide copies it, edited (the self-signed pair in place of Let's Encrypt,
    loopback ports, no admin endpoint), checked with the guide's `caddy validate`, then serving."""
    caddy_binary = tool("caddy")
    folder = os.path.join(install.top, "caddy")
    os.makedirs(os.path.join(install.top, "etc", "caddy"))
    install.run(guide_command("cp /srv/pawtal/deploy/Caddyfile"))
    path = os.path.join(install.top, "etc", "caddy", "Caddyfile")
    http_port, https_port = free_port(), free_port()
    config = read(path)
    for old, new in (("{\n", "{\n\tadmin off\n\tdefault_bind 127.0.0.1\n"
                             f"\thttp_port {http_port}\n\thttps_port {https_port}\n\tstorage file_system {folder}\n"),
                     (f"{SITE} {{\n", f"{TEST_SITE} {{\n\ttls {certificate[0]} {certificate[1]}\n"),
                     ("127.0.0.1:8000", f"127.0.0.1:{install.gunicorn_port}"), ("/var/log/caddy/", folder + "/")):
        assert old in config, old
        config = config.replace(old, new, 1)
    write(path, config)
    environment = {"PATH": os.environ["PATH"], "HOME": folder, "XDG_DATA_HOME": folder, "XDG_CONFIG_HOME": folder}
    validate = shlex.split(install.render(guide_command("caddy validate")))
    checked = subprocess.run([caddy_binary, *validate[1:]], env=environment, capture_output=True, text=True)
    assert checked.returncode == 0 and "Valid configuration" in checked.stdout + checked.stderr, checked.stderr
    log = os.path.join(folder, "caddy.log")
    with open(log, "w") as out:
        process = subprocess.Popen([caddy_binary, "run", "--adapter", "caddyfile", "--config", path], env=environment,
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(https_port, process, log)
        site = Site(https_port, certificate[0])
        site.http_port, site.access_log, site.name = http_port, os.path.join(folder, "pawtal-access.log"), "caddy"
        site.config, site.environment = path, environment
        yield site
    finally:
        process.kill()  # its graceful stop waits seconds for connections that are gone already
        process.wait(timeout=30)


@pytest.fixture(params=["nginx", "caddy"])
def proxy(request):
    return request.getfixturevalue(request.param)


def test_units_pass_systemd_analyze_verify(install):
    """The guide's `systemd-analyze verify` on the installed units: no error and no warning (an unknown or misspelt
    setting is only a warning to systemd, so any output fails here); ExecStart's programs must exist."""
    tool("systemd-analyze")
    done = install.run(guide_command("systemd-analyze verify"), check=False)
    assert done.returncode == 0 and not (done.stdout + done.stderr).strip(), done.stdout + done.stderr
    for name in UNITS:
        if name.endswith(".service"):
            program = install.exec_start(name)[0][0]
            assert os.access(program, os.X_OK), program


def test_services_exposure_stays_low(install):
    """systemd's own review of each service's sandbox (offline: it reads the unit): exposure 3.5 at most of 10
    (they are at 3.2, "OK"); dropping a hardening option fails it."""
    analyze = tool("systemd-analyze")
    for name in UNITS:
        if name.endswith(".service"):
            path = os.path.join(install.units, name)
            review = [analyze, "security", "--offline=true", "--threshold=35", path]
            done = subprocess.run(review, capture_output=True, text=True)
            assert done.returncode == 0, done.stdout[-1500:] + done.stderr
    weaker = write(os.path.join(install.top, "weaker", "pawtal.service"),
                   re.sub(r"\n(Protect\w+|Private\w+|Restrict\w+)=.*", "", read(os.path.join(install.units,
                                                                                     "pawtal.service"))))
    assert subprocess.run([analyze, "security", "--offline=true", "--threshold=35", weaker],
                          capture_output=True).returncode != 0


def test_verify_catches_a_misspelt_setting(install, tmp_path):
    """The check above can fail: a misspelt setting makes systemd-analyze say so."""
    tool("systemd-analyze")
    broken = write(str(tmp_path / "pawtal.service"),
                   read(os.path.join(install.units, "pawtal.service")).replace("Restart=", "Restrat="))
    done = subprocess.run([tool("systemd-analyze"), "verify", broken], capture_output=True, text=True)
    assert "Unknown key" in done.stderr and "Restrat" in done.stderr


def test_units_are_hardened_and_run_as_pawtal():
    """The app and every job run as pawtal with the settings file, on a read-only system, writing only where they
    must; each timer starts its service daily and catches up a missed run."""
    for name in UNITS:
        settings = unit_settings(os.path.join(DEPLOY, name))
        if name.endswith(".timer"):
            assert settings["Persistent"] == ["true"]
            assert re.fullmatch(r"\*-\*-\* \d\d:00:00", settings["OnCalendar"][0])
            assert os.path.exists(os.path.join(DEPLOY, name.replace(".timer", ".service")))
            continue
        assert settings["User"] == ["pawtal"] and settings["EnvironmentFile"] == ["/etc/pawtal/env"]
        assert settings["WorkingDirectory"] == ["/srv/pawtal"]
        for option in ("NoNewPrivileges", "PrivateTmp", "ProtectHome", "PrivateDevices"):
            assert settings[option] == ["true"], (name, option)
        assert settings["ProtectSystem"] == ["strict"]
        assert "/srv/pawtal/instance" in settings["ReadWritePaths"][0].split()
    backup = unit_settings(os.path.join(DEPLOY, "pawtal-backup.service"))
    assert backup["UMask"] == ["0077"] and "/var/backups/pawtal" in backup["ReadWritePaths"][0].split()


def test_example_settings_hold_no_secret_and_refuse_to_start_unfilled(tmp_path, monkeypatch):
    """Every secret of the example is empty, so the app refuses to start until SECRET_KEY is filled in."""
    values = systemd_environment_file(os.path.join(DEPLOY, "pawtal.env.example"))
    for name in ("SECRET_KEY", "MAIL_PASSWORD", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET"):
        assert values[name] == "", name
    assert values["PAWTAL_ENV"] == "production" and values["PAWTAL_PROXY_HOPS"] == "1"
    assert values["RATELIMIT_STORAGE_URI"].startswith("redis://")
    # The proxies take the largest request body the app takes.
    limit = int(values["PAWTAL_MAX_UPLOAD_BYTES"])
    assert f"client_max_body_size {limit // 2**20}m;" in read(os.path.join(DEPLOY, "nginx-pawtal.conf"))
    assert f"max_size {limit // 2**20}MiB" in read(os.path.join(DEPLOY, "Caddyfile"))
    for name, value in {**values, "DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite"}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(RuntimeError, match="SECRET_KEY must be a random value"):
        create_app()


def test_gunicorn_started_as_the_unit_starts_it_logs_the_setup_link(install, gunicorn, nginx):
    """The first-run link the guide greps from the journal is in the server's log, on BASE_URL, and opens the
    setup page through the proxy."""
    _process, log = gunicorn
    link = rf"https://{re.escape(TEST_SITE)}(/setup\?token=[0-9a-f]+)"
    deadline = time.monotonic() + 20
    while not re.search(link, read(log)) and time.monotonic() < deadline:  # each worker logs it as it boots
        time.sleep(0.1)
    found = re.search(link, read(log))
    assert found, read(log)[-2000:]
    status, _headers, page = nginx.request("GET", found.group(1))
    assert status == 200 and "<html" in page


def test_healthz_through_the_proxy_with_the_guides_curl(install, proxy):
    """`curl -fsS https://pets.example.com/healthz`, pointed at the proxy on loopback and trusting the test's CA."""
    tool("curl")
    command = guide_command("/healthz").replace(f"https://{SITE}/", f"https://{TEST_SITE}:{proxy.port}/")
    command += f" --resolve {TEST_SITE}:{proxy.port}:127.0.0.1 --cacert {proxy.cafile}"
    done = install.run(command)
    assert json.loads(done.stdout)["status"] == "ok"
    status, headers, _body = proxy.request("GET", "/healthz")
    assert status == 200 and headers["Cache-Control"] == "no-store"
    assert headers["Strict-Transport-Security"].startswith("max-age=")


def test_http_redirects_to_https(proxy):
    status, headers, _body = proxy.request("GET", "/healthz?x=1", tls=False, port=proxy.http_port)
    assert status in (301, 308)
    assert headers["Location"].startswith(f"https://{TEST_SITE}") and headers["Location"].endswith("/healthz?x=1")


def test_the_app_sees_the_client_address_and_https_through_one_trusted_hop(install, gunicorn, proxy):
    """A sign-in from another loopback address, with a made-up X-Forwarded-For: Pawtal's limiter counts it in Redis
    under the client's real address (not the proxy's, not the made-up one), and Flask-WTF's https-only referrer
    check is in force (the app knows the request came over https, for this host and port)."""
    client = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"
    forged = f"203.0.113.{random.randint(1, 254)}"
    status, headers, page = proxy.request("GET", "/staff/login", source=client)
    assert status == 200
    cookie = headers["Set-Cookie"].split(";")[0]
    assert "Secure" in headers["Set-Cookie"]
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"csrf_token": token, "email": "nobody@example.com", "password": "wrong-1234"})
    posted = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded", "X-Forwarded-For": forged}
    status, _headers, page = proxy.request("POST", "/staff/login", posted | {"Referer": "https://evil.example/"},
                                           form.encode(), source=client)
    assert status == 400 and "referrer does not match" in page.lower()
    status, _headers, _page = proxy.request("POST", "/staff/login",
                                            posted | {"Referer": f"{proxy.origin}/staff/login"}, form.encode(),
                                            source=client)
    assert status == 401  # past CSRF: the password is wrong
    counters = redis.Redis.from_url(REDIS_URL)
    try:
        keys = [key.decode() for key in counters.scan_iter("*staff.login*")]
    finally:
        counters.close()
    assert any(f"/{client}/" in key for key in keys), keys
    assert not any(forged in key for key in keys), keys


def test_the_proxys_request_id_comes_back_and_a_clients_is_replaced(proxy):
    status, headers, _body = proxy.request("GET", "/healthz", {"X-Request-ID": "chosen-by-the-client"})
    given = headers["X-Request-ID"]
    assert status == 200 and given != "chosen-by-the-client"
    # nginx's $request_id is 32 hex digits, Caddy's a UUID; Pawtal's own would be 16 hex digits.
    pattern = r"[0-9a-f]{32}" if proxy.name == "nginx" else r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}"
    assert re.fullmatch(pattern, given), given
    if proxy.name == "nginx":
        deadline = time.monotonic() + 5
        while given not in read(proxy.access_log) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert given in read(proxy.access_log)


def test_nginx_refuses_a_body_over_the_upload_limit(nginx):
    """A request saying it carries one byte more than PAWTAL_MAX_UPLOAD_BYTES gets 413 from nginx at once."""
    status, _headers, _body = nginx.request("POST", "/staff/login", {"Content-Length": str(20 * 2**20 + 1)})
    assert status == 413


def test_caddy_reads_the_upload_limit(caddy):
    """Caddy counts a body's bytes as they come (no early 413 to test cheaply): its own reading of the Caddyfile
    has the limit, in bytes, in front of the proxy."""
    adapted = subprocess.run([tool("caddy"), "adapt", "--adapter", "caddyfile", "--config", caddy.config],
                             env=caddy.environment, capture_output=True, text=True, check=True).stdout
    handlers = json.loads(adapted)["apps"]["http"]["servers"]["srv0"]["routes"][0]["handle"][0]["routes"][0]["handle"]
    assert [h["handler"] for h in handlers][-1] == "reverse_proxy"
    assert {"handler": "request_body", "max_size": 20 * 2**20} in handlers


@slow
def test_each_timer_job_runs_as_its_service_runs_it(install, gunicorn):
    """The ExecStart of each timer's service, by hand, with the service's working directory and settings."""
    said = {}
    for job in ("remind", "autopay"):
        command, cwd = install.exec_start(f"pawtal-{job}.service")
        said[job] = install.run(command, cwd=cwd).stdout
    assert said["remind"].startswith("Queued 0 overdue reminders")
    assert said["autopay"].startswith("Autopay: 0 paid, 0 pending (bank), 0 failed")
    assert install.run(guide_command("pawtal-flask outbox run")).stdout.strip() == "Sent 0, failed 0."


@slow
def test_backups_rotate_and_restore_into_an_empty_install(install, gunicorn, database_url, tmp_path_factory):
    """An owner and an uploaded file; the backup service's ExecStart (and the guide's own line) writes a backup and
    keeps the newest 14 of the folder; the guide's restore brings it into a second, empty install, which is healthy
    and holds the same owner and file."""
    install.run(guide_command("pawtal-flask create-owner")
                + " --first-name Olive --last-name Owner --password A-good-passphrase-42")
    upload = os.path.join(install.checkout, "instance", "uploads", "pets", "1", "photo.jpg")
    write(upload, "not really a photo")
    install.run(guide_command("install -d -o pawtal -g pawtal -m 700 /var/backups/pawtal"))
    old = [os.path.join(install.backups, f"pawtal-backup-2026010{day}T030000Z.tar.gz") for day in range(1, 10)]
    old += [os.path.join(install.backups, f"pawtal-backup-202602{day:02}T030000Z.tar.gz") for day in range(10, 16)]
    for path in old:
        write(path, "an older backup")
    command, cwd = install.exec_start("pawtal-backup.service")
    # A backup that fails (here: settings pointing at a database that is not there) deletes no older one.
    broken = write(os.path.join(install.top, "broken.env"), read(install.env_file).replace(
        f"DATABASE_URL={install.database_url}", f"DATABASE_URL=sqlite:///{install.top}/missing.sqlite"))
    failed = subprocess.run(command, cwd=cwd, capture_output=True, text=True,
                            env={**install.environment(), "PAWTAL_ENV_FILE": broken})
    assert failed.returncode != 0 and "no migration revision" in failed.stderr
    assert len(os.listdir(install.backups)) == 15
    done = install.run(command, cwd=cwd)
    kept = sorted(os.listdir(install.backups))
    assert len(kept) == 14 and "Backup written to" in done.stdout
    assert kept[:-1] == [os.path.basename(path) for path in old[2:]]  # the two oldest went
    newest = os.path.join(install.backups, kept[-1])
    assert os.stat(newest).st_mode & 0o777 == 0o600
    install.run(guide_command("pawtal-backup /var/backups/pawtal 14"))
    assert len(os.listdir(install.backups)) == 14

    second_url, drop = empty_database(database_url, install.top, "restored")
    second = Install(tmp_path_factory.mktemp("second"), second_url)
    second.run(guide_command("install -d -m 755 /etc/pawtal"))
    second.write_env(**{name: value for name, value in systemd_environment_file(install.env_file).items()
                        if name in ("SECRET_KEY", "BASE_URL", "RATELIMIT_STORAGE_URI")}, DATABASE_URL=second_url)
    try:
        # The backup copied to the new server, under the name the guide's command gives.
        os.makedirs(second.backups)
        shutil.copy(newest, os.path.join(second.backups, "pawtal-backup-20261126T030012Z.tar.gz"))
        assert "Restored" in second.run(guide_command("pawtal-flask restore")).stdout
        with open(os.path.join(second.checkout, "instance", "uploads", "pets", "1", "photo.jpg")) as restored:
            assert restored.read() == "not really a photo"
        engine = create_engine(second_url)
        try:
            with engine.connect() as connection:
                assert connection.scalar(text("SELECT email FROM staff_user")) == "you@yourbusiness.com"
        finally:
            engine.dispose()
    finally:
        drop()


@slow
def test_the_reload_in_pawtal_service_keeps_serving(install, gunicorn, nginx):
    """ExecReload (HUP): gunicorn replaces its workers and keeps answering through the proxy."""
    process, log = gunicorn
    booted = read(log).count("Booting worker")
    command = unit_settings(os.path.join(install.units, "pawtal.service"))["ExecReload"][0]
    subprocess.run(shlex.split(command.replace("$MAINPID", str(process.pid))), check=True)
    deadline = time.monotonic() + 60
    while read(log).count("Booting worker") < booted + 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "Hang up: Master" in read(log) and read(log).count("Booting worker") == booted + 2
    # Requests wait in the listen queue while the new workers load the app (nginx waits up to 60 s).
    assert nginx.request("GET", "/healthz", timeout=60)[0] == 200


@slow
def test_upgrade_installs_the_locked_requirements(install):
    """The upgrade's pip line, into this checkout's environment: everything locked is there already."""
    done = install.run(guide_command("pip install -r /srv/pawtal/requirements.lock") + " --no-input --quiet")
    assert "error" not in done.stderr.lower()
    install.run(guide_command("pawtal-flask db upgrade"))


@slow
def test_postgresql_role_and_database_as_the_guide_makes_them(database_url):
    """`createuser` and `createdb -O`, as the postgres superuser over TCP here (the guide uses the socket as the
    postgres user), under names of their own; the new role owns its database and can make tables in it."""
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: run make deploy-check with TEST_DATABASE_URL")
    admin = make_url(database_url)
    name = f"pawtal_deploy_{secrets.token_hex(3)}"
    connection = ["-h", admin.host or "127.0.0.1", "-p", str(admin.port or 5432), "-U", admin.username or "postgres"]
    environment = {**os.environ, "PGPASSWORD": admin.password or ""}
    try:
        for key in ("createuser pawtal", "createdb -O pawtal pawtal"):
            argv = shlex.split(guide_command(key).replace("sudo -u postgres ", "").replace("pawtal", name))
            subprocess.run([argv[0], *connection, *argv[1:]], env=environment, check=True, capture_output=True)
        owned = admin.set(username=name, password=None, database=name)
        engine = create_engine(owned)
        try:
            with engine.begin() as db:
                db.execute(text("CREATE TABLE t (id int)"))
                assert db.scalar(text("SELECT pg_catalog.pg_get_userbyid(datdba) FROM pg_database "
                                      "WHERE datname = current_database()")) == name
        finally:
            engine.dispose()
    finally:
        subprocess.run(["dropdb", *connection, "--if-exists", name], env=environment, capture_output=True)
        subprocess.run(["dropuser", *connection, "--if-exists", name], env=environment, capture_output=True)


# Every command of the guide: the test that runs it (taken from the README), or why it cannot run here.
BACKUPS = "test_backups_rotate_and_restore_into_an_empty_install"
RUN_BY = {
    "redis-cli ping": "test_redis_answers_as_the_guide_says",
    "pawtal-flask outbox run": "test_each_timer_job_runs_as_its_service_runs_it",
    "install -d -m 755 /etc/pawtal": "install",
    "pawtal.env.example /etc/pawtal/env": "Install.write_env",
    "secrets.token_urlsafe": "install",
    "pawtal-flask db upgrade": "install",
    "cp /srv/pawtal/deploy/*.service": "Install.install_units",
    "systemd-analyze verify": "test_units_pass_systemd_analyze_verify",
    "pawtal-flask create-owner": BACKUPS,
    "install -d -o pawtal -g pawtal -m 700 /var/backups/pawtal": BACKUPS,
    "pawtal-backup /var/backups/pawtal 14": BACKUPS,
    "pawtal-flask restore": BACKUPS,
    "/healthz": "test_healthz_through_the_proxy_with_the_guides_curl",
    "cp /srv/pawtal/deploy/Caddyfile": "caddy",
    "caddy validate": "caddy",
    "nginx-pawtal.conf /etc/nginx/sites-available/pawtal": "nginx",
    "ln -s /etc/nginx/sites-available/pawtal": "nginx",
    "rm /etc/nginx/sites-enabled/default": "nginx",
    "install -d -o pawtal -g pawtal -m 750 /srv/pawtal/instance": "Install.__init__",
    "nginx -t": "nginx",
    "pip install -r /srv/pawtal/requirements.lock": "test_upgrade_installs_the_locked_requirements",
    "createuser pawtal": "test_postgresql_role_and_database_as_the_guide_makes_them",
    "createdb -O pawtal pawtal": "test_postgresql_role_and_database_as_the_guide_makes_them",
}
NOT_HERE = {
    "apt install": "installs system packages; `make deploy-check` installs what it runs (nginx, caddy, openssl)",
    "adduser": "adds a system user to a shared machine; the tests run as their own user",
    "git clone": "the checkout under test is the clone",
    "git -C /srv/pawtal pull": "the checkout under test is the new code",
    "python3 -m venv": "the checkout's .venv exists (make)",
    "editor": "a person's step; the tests fill the values in",
    "certbot": "Let's Encrypt cannot reach a test machine: a self-signed certificate stands in",
    "systemctl": "systemd is not PID 1 here: ExecStart and ExecReload are run by hand instead",
    "journalctl": "no journal without systemd: the test reads the link from gunicorn's own log",
}


def test_redis_answers_as_the_guide_says():
    tool("redis-cli")
    done = subprocess.run(shlex.split(guide_command("redis-cli ping")), capture_output=True, text=True)
    assert done.stdout.strip() == "PONG"


def test_every_guide_command_is_run_or_said_not_to_be():
    """Each shell command of the README's guide is run by the test named for it (whose code holds the key it finds
    the command by), or is listed with the reason it cannot run here; a key matching nothing is stale."""
    commands = guide_commands()
    assert len(commands) > 30
    for command in commands:
        keys = [key for key in RUN_BY if key in command] + [key for key in NOT_HERE if command.startswith(key)]
        assert len(keys) == 1, f"{command!r}: add it to RUN_BY (and run it) or NOT_HERE, once ({keys})"
    for key, runner in RUN_BY.items():
        assert any(key in command for command in commands), f"stale key {key!r}"
        owner = globals()[runner.split(".")[0]]
        source = inspect.getsource(getattr(owner, runner.split(".")[1]) if "." in runner else owner)
        assert key in source, f"{runner} does not run {key!r}"
    for key in NOT_HERE:
        assert any(command.startswith(key) for command in commands), f"stale key {key!r}"


def test_readme_unit_examples_match_deploy():
    """The units the README shows elsewhere (Billing jobs) say what deploy/ holds: each of their lines is a line of
    the file of that name."""
    shown = re.findall(r"^```ini\n# /etc/systemd/system/(\S+)[^\n]*\n(.*?)^```", read(README), flags=re.S | re.M)
    assert shown
    for name, body in shown:
        lines = set(read(os.path.join(DEPLOY, name)).splitlines())
        for line in body.splitlines():
            if line and not line.startswith("#"):
                assert line in lines, f"README's {name}: {line!r} is not in deploy/{name}"
