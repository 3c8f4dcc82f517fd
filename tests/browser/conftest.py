"""Real Chromium (Debian's) driven by Playwright against the app served on a loopback port."""
from __future__ import annotations

import hashlib
import os
import re
import threading
import warnings
from urllib.parse import urlsplit

import pytest
from werkzeug.serving import make_server

from tests.conftest import BROWSER_PAGES

# Debian's Chromium as a headless shell (see the Makefile's `chromium`); PAWTAL_CHROMIUM=/usr/bin/chromium for the full one.
CHROMIUM = os.environ.get("PAWTAL_CHROMIUM", "/usr/bin/chromium-headless-shell")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
SCREENSHOTS = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "screenshots")
HTML_PAGES = BROWSER_PAGES
_kept_pages: set[str] = set()  # sha256 of each page body saved in this run


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}: `make test` installs Debian's chromium-headless-shell package "
                    "(PAWTAL_CHROMIUM names another Chromium).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        # Every context the tests open (fixtures or their own) keeps its pages for tests/check_html.py,
        # in the folder tests/conftest.py empties at the start of each run.
        os.makedirs(HTML_PAGES, exist_ok=True)
        _kept_pages.clear()
        new_context = browser.new_context
        browser.new_context = lambda **options: keep_html_pages(new_context(**options))
        yield browser
        browser.close()


def keep_html_pages(context):
    """Save each distinct HTML document the server sends to a tab of `context` as a full page."""
    from playwright.sync_api import Error

    def on_response(response):
        request = response.request
        # htmx fragments are XHRs and iframes are not pages of ours; redirects have no body.
        if (request.resource_type != "document" or request.frame.parent_frame is not None
                or not (200 <= response.status < 300 or 400 <= response.status < 500)
                or not response.headers.get("content-type", "").startswith("text/html")):
            return
        try:
            body = response.body()
        except Error as error:  # the tab went away before the page arrived: the test never saw it either
            warnings.warn(f"HTML of {response.url} not kept: {error}")
            return
        digest = hashlib.sha256(body).hexdigest()
        if digest in _kept_pages:
            return
        _kept_pages.add(digest)
        url = urlsplit(response.url)
        name = re.sub(r"[^A-Za-z0-9=.-]+", "_", f"{url.path}?{url.query}".strip("/?")) or "index"
        path = os.path.join(HTML_PAGES, f"{name[:120]}.{digest[:10]}.html")
        with open(path, "wb") as f:
            f.write(body)
        # One line per page, so a finding leads back to the URL and the test that loaded it.
        test = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" ", 1)[0]
        with open(os.path.join(HTML_PAGES, "pages.tsv"), "a") as f:
            f.write(f"{os.path.basename(path)}\t{request.method} {response.url} {response.status}\t{test}\n")

    context.on("response", on_response)
    return context


@pytest.fixture
def app_config():
    return {"WTF_CSRF_ENABLED": True}


@pytest.fixture
def live_server(app):
    """Serve `app` from a thread on 127.0.0.1 and a free port; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def screenshot(page, name: str) -> None:
    """Save a screenshot for the README tour."""
    os.makedirs(SCREENSHOTS, exist_ok=True)
    page.screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"), full_page=False)


AXE = os.environ.get("PAWTAL_AXE") or os.path.join(os.path.dirname(__file__), "..", "..", ".venv", "axe-core-4.14.1",
                                                      "axe.min.js")


def accessible_context(browser, **options):
    """A browser context with axe-core in every page (an init script, so the site's CSP still holds)."""
    if not os.path.exists(AXE):
        pytest.fail(f"axe-core not found at {AXE}: `make test` fetches it from the npm registry.")
    context = browser.new_context(**options)
    context.add_init_script(path=AXE)
    return context


def assert_accessible(page, exclude: tuple[str, ...] = ()) -> None:
    """No serious or critical axe-core violations on the page as it is now."""
    problems = page.evaluate(
        """async (exclude) => {
            const result = await axe.run({exclude: exclude.map((s) => [s])}, {resultTypes: ["violations"]});
            return result.violations.filter((v) => ["serious", "critical"].includes(v.impact))
                .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
        }""", list(exclude))
    assert problems == [], f"{page.url}: " + "; ".join(problems)


def staff_sign_in(page, base: str, user) -> None:
    """Sign a staff member in through the form; they land on their start page (a sitter on her day)."""
    from playwright.sync_api import expect

    from tests.conftest import PASSWORD

    page.goto(f"{base}/staff/login")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    landing = "Your visits" if not user.can_manage else "Clients"
    expect(page.get_by_role("heading", name=landing, exact=True)).to_be_visible()
    # The heading can show before the stylesheet has loaded; a test that measures the page needs both.
    page.wait_for_load_state()
