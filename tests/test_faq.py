"""The business's own client FAQ: written in Markdown in Site options, shown sanitised on the sign-in page and
in the portal; and the first-passwords option saved beside it."""
from extensions import db
from services.settings import get_settings
from tests.conftest import HX

FAQ = """## Do you walk in the rain?

Yes, with a towel after. See [our prices](https://example.com/prices) or call [us](tel:5550100).

<script>alert(1)</script>

[click me](javascript:alert(1)) ![x](https://evil.example/x.png)

<img src=x onerror=alert(1)>
"""


def test_the_faq_is_saved_and_shown_sanitised_on_the_sign_in_page_and_in_the_portal(app, as_manager, portal):
    saved = as_manager.post("/settings/faq", data={"faq_markdown": FAQ, "first_time_passwords": "",
                                                                "intake_enabled": "", "intake_title": "Book a meet & greet"}, headers=HX)
    assert saved.status_code == 200 and "FAQ, account, intake and contact options saved." in saved.get_data(as_text=True)
    settings = get_settings()
    assert settings.faq_markdown.startswith("## Do you walk") and settings.first_time_passwords is False
    assert (settings.intake_enabled, settings.intake_title) == (False, "Book a meet & greet")
    anonymous = app.test_client()
    for page in (anonymous.get("/login"), portal.get("/portal/faq")):
        assert page.status_code == 200
        faq = page.get_data(as_text=True).split('aria-labelledby="faq-h">')[1].split("</section>")[0]
        assert "<h2>Do you walk in the rain?</h2>" in faq
        assert '<a href="https://example.com/prices" rel="noopener noreferrer nofollow">our prices</a>' in faq
        assert 'href="tel:5550100"' in faq
        # What was typed as HTML is shown as text, never as markup; nothing runs or loads from elsewhere.
        assert "&lt;script&gt;" in faq and "<script" not in faq and "<img" not in faq
        assert "javascript:" not in faq.replace("[click me](javascript", "") and "evil.example/x.png\"" not in faq
    assert "Questions? Read our answers" in portal.get("/portal/").get_data(as_text=True)


def test_no_faq_shows_nothing_and_its_page_is_not_found(app, portal):
    assert get_settings().faq_markdown == ""
    assert "Questions and answers" not in app.test_client().get("/login").get_data(as_text=True)
    assert portal.get("/portal/faq").status_code == 404
    assert "Read our answers" not in portal.get("/portal/").get_data(as_text=True)


def test_a_faq_too_long_is_refused_beside_the_field_and_nothing_changes(app, as_manager):
    refused = as_manager.post("/settings/faq", data={"faq_markdown": "x" * 20001, "first_time_passwords": "y",
                                                                   "intake_title": ""},
                              headers=HX)
    body = refused.get_data(as_text=True)
    assert refused.status_code == 422 and 'id="faq_markdown-error"' in body and 'id="intake_title-error"' in body
    db.session.expire_all()
    assert get_settings().faq_markdown == "" and get_settings().first_time_passwords is True
