"""In Chromium: the stylesheet and scripts arrive compressed under their hashed names, the page's policy lets them
all run, and the next page asks the server for none of them again."""
import re

from playwright.sync_api import expect

from tests.browser.conftest import staff_sign_in


def test_static_files_load_compressed_once_and_are_kept(browser, live_server, app, owner, make):
    make.client(last_name="Quill")
    asked = []  # what the server was asked, seen from inside it (the browser's own cache answers are not)
    wsgi = app.wsgi_app

    def counting(environ, start_response):
        asked.append(environ["PATH_INFO"])
        return wsgi(environ, start_response)

    app.wsgi_app = counting
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_default_timeout(10_000)
    refused, encodings = [], {}
    page.on("console", lambda message: refused.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.on("response", lambda response: encodings.update({response.url: response.headers.get("content-encoding")})
            if "/static/" in response.url else None)

    staff_sign_in(page, live_server, owner)
    # The stylesheet is applied (its colours and layout) and both scripts ran (htmx, and pawtal.js's config).
    assert page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--line').trim()") != ""
    assert page.evaluate("typeof htmx === 'object' && htmx.config.allowEval === false")
    css = [url for url in encodings if ".css" in url]
    assert len(css) == 1 and re.search(r"/static/pawtal\.[0-9a-f]{10}\.css$", css[0]), css
    assert all(encodings[url] in ("br", "gzip", "zstd") for url in encodings if url.endswith((".css", ".js"))), \
        encodings

    before = len([path for path in asked if path.startswith("/static/")])
    asked.clear()
    page.get_by_role("link", name="Quill").first.click()
    expect(page.get_by_role("heading", name="Quill")).to_be_visible()
    page.goto(live_server + "/clients/")
    expect(page.get_by_role("heading", name="Clients", exact=True)).to_be_visible()
    page.wait_for_load_state()
    assert before >= 3 and "/clients/" in asked
    assert [path for path in asked if path.startswith("/static/")] == []
    assert refused == []
    context.close()
