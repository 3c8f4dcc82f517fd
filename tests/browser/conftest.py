"""Real Chromium (Debian's) driven by Playwright against the app served on a loopback port."""
from __future__ import annotations

import os
import threading

import pytest
from werkzeug.serving import make_server

CHROMIUM = os.environ.get("PAWTAL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
SCREENSHOTS = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "screenshots")


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}: `make test` installs Debian's chromium package.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


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
    """Sign a staff member in through the form; they land on the client desk."""
    from playwright.sync_api import expect

    from tests.conftest import PASSWORD

    page.goto(f"{base}/staff/login")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Clients")).to_be_visible()
