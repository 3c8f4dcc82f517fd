"""Conditional GET in real Chromium: reloading the schedule or the client table revalidates with If-None-Match and
gets 304 Not Modified while nothing changed; the page the browser keeps still works, its CSRF token included.

Chromium turns the 304 into the 200 it kept before any script or Playwright's own response sees it, so the raw
status is read where DevTools reads it: the network's `responseReceivedExtraInfo`. htmx's own GETs revalidate the
same way once the browser holds the fragment for that URL (the table's search typed twice)."""
import re
from datetime import timedelta

from playwright.sync_api import expect

from extensions import db
from models import Role
from tests.browser.conftest import staff_sign_in
from tests.test_board import add_visit


class Wire:
    """What went over the network for each URL of ours, in order: (status, If-None-Match sent)."""

    def __init__(self, context, page, base: str):
        self.base, self.urls, self.seen = base, {}, []
        cdp = context.new_cdp_session(page)
        cdp.on("Network.requestWillBeSentExtraInfo", self._sent)
        cdp.on("Network.requestWillBeSent", lambda e: self.urls.__setitem__(e["requestId"], e["request"]["url"]))
        cdp.on("Network.responseReceivedExtraInfo", self._received)
        cdp.send("Network.enable")
        self.tags = {}

    def _sent(self, event):
        self.tags[event["requestId"]] = {k.lower(): v for k, v in event["headers"].items()}.get("if-none-match")

    def _received(self, event):
        url = self.urls.get(event["requestId"], "")
        if url.startswith(self.base) and "/static/" not in url:
            self.seen.append((url[len(self.base):], event["statusCode"], self.tags.get(event["requestId"])))

    def last(self, path: str) -> tuple[int, str | None]:
        """The status and If-None-Match of the last exchange for `path`."""
        return [(status, tag) for url, status, tag in self.seen if url == path][-1]


def test_reloading_the_schedule_and_searching_twice_get_304s_and_the_page_still_works(browser, live_server, make,
                                                                                          sitter):
    manager = make.staff(Role.MANAGER, first_name="Marta")
    walk = make.service(name="Dog walk", duration_minutes=30)
    nia = make.client(first_name="Nia", last_name="Reyes")
    make.client(first_name="Omar", last_name="Haddad")
    add_visit(make, walk, sitter, timedelta(hours=2), client=nia)
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_default_timeout(10_000)
    wire = Wire(context, page, live_server)
    staff_sign_in(page, live_server, manager)

    page.goto(f"{live_server}/schedule/")
    assert wire.last("/schedule/")[0] == 200
    feed = page.locator("#feed-url").input_value()
    shown = page.reload()
    status, sent = wire.last("/schedule/")
    assert status == 304 and sent and sent.startswith('W/"')  # revalidated on the wire...
    assert shown.status == 200  # ...and the kept page shown as it was
    expect(page.get_by_role("link", name=re.compile("Reyes"))).to_be_visible()

    # The kept page's CSRF token is good: its form posts, and the flash it leads to comes with a 200, shown once.
    page.get_by_role("button", name="Make a new address").click()
    expect(page.get_by_text("Your calendar feed has a new address")).to_be_visible()
    assert wire.last("/schedule/")[0] == 200
    assert page.locator("#feed-url").input_value() != feed
    page.reload()  # the page with the flash had no ETag to send: a 200, now without it
    assert wire.last("/schedule/") == (200, None)
    expect(page.get_by_text("Your calendar feed has a new address")).to_have_count(0)
    page.reload()
    assert wire.last("/schedule/")[0] == 304

    # htmx still works on the kept page: the day view swaps in.
    page.get_by_role("link", name="Day", exact=True).click()
    expect(page).to_have_url(re.compile(r"view=day"))

    page.goto(f"{live_server}/clients/")
    search = page.get_by_label("Search")
    search.fill("Reyes")
    expect(page.get_by_role("link", name=re.compile("Haddad"))).to_have_count(0)
    search.fill("")
    expect(page.get_by_role("link", name=re.compile("Haddad"))).to_be_visible()
    search.fill("Reyes")  # the same htmx GET again: the browser holds its fragment and revalidates it
    expect(page.get_by_role("link", name=re.compile("Haddad"))).to_have_count(0)
    expect(page.get_by_role("link", name=re.compile("Reyes"))).to_be_visible()
    searches = [(status, tag) for url, status, tag in wire.seen if url.startswith("/clients/?q=Reyes&")]
    assert [status for status, _ in searches] == [200, 304] and searches[1][1]

    # A change shows at once: the reload after it is a 200 with the new name.
    nia.last_name = "Reyes-Ortiz"
    nia.refresh_search_text()
    db.session.commit()
    page.reload()
    assert wire.last(re.sub(r"^.*?(/clients/)", r"\1", page.url))[0] == 200
    expect(page.get_by_role("link", name=re.compile("Reyes-Ortiz"))).to_be_visible()
    context.close()
