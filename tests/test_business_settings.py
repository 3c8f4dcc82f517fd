"""The business's own details and logo, and the billing options, under Site options: the environment's details
until the owner saves them, then the stored ones on every page and email (real SMTP on loopback); the logo through
the photos' intake; each bad value refused beside its field with nothing saved; sitters kept out."""
import html
import io
import os
import re
from datetime import date

import pytest
from flask import url_for
from PIL import Image, PngImagePlugin
from sqlalchemy import func, select

from extensions import db
from models import Role, SiteSettings
from services import outbox
from services import settings as site
from services.errors import FieldErrors
from tests.conftest import HX, login_as, smtp_config
from tests.test_checkins import jpeg_with_gps

ENV = {"BUSINESS_NAME": "Envy Paws", "BUSINESS_PHONE": "(555) 000-1111", "BUSINESS_EMAIL": "env-desk@example.com"}
DETAILS = {"name": "Stored Whiskers & Co", "phone": "(617) 555-0199", "email": "office@whiskers.example",
           "address": "12 Elm Street\r\nSuite 3\r\nSomerville, MA 02144", "tax_number": "EIN 12-3456789",
           "website": "whiskers.example"}
BILLING = {"billing_mode": "advance", "billing_cycle": "biweekly", "billing_cycle_day": "15",
           "billing_cycle_anchor": "2026-11-04", "payment_terms_days": "30", "tax_rate": "8.25",
           "tax_label": "Sales tax", "reminder_days": "30, 7, 7", "how_to_pay": "Checks to Whiskers & Co.\r\nThank you!",
           "late_fee_tiers-0-hours": "2", "late_fee_tiers-0-percent": "100",
           "late_fee_tiers-1-hours": "", "late_fee_tiers-1-percent": "",
           "late_fee_tiers-2-hours": "24", "late_fee_tiers-2-percent": "50",
           "late_fee_tiers-3-hours": "", "late_fee_tiers-3-percent": ""}
HEX_PNG = re.compile(r"[0-9a-f]{32}\.png")


@pytest.fixture
def app_config(smtp):
    return {**smtp_config(smtp), **ENV}


def png_with_secrets(size=(60, 30)) -> bytes:
    """A logo with a transparent corner and a text chunk that must not survive the intake."""
    image = Image.new("RGBA", size, (200, 40, 40, 255))
    image.putpixel((0, 0), (0, 0, 0, 0))
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "secret-owner-note")
    out = io.BytesIO()
    image.save(out, "PNG", pnginfo=info)
    return out.getvalue()


def upload(data: bytes, filename: str) -> tuple:
    return (io.BytesIO(data), filename)


def save_details(browser, htmx=False, **changes):
    return browser.post("/settings/business", data={**DETAILS, **changes}, headers=HX if htmx else {},
                        content_type="multipart/form-data")


def stored() -> SiteSettings:
    db.session.expire_all()
    return db.session.get(SiteSettings, 1)


def logo_files(app) -> list[str]:
    folder = os.path.join(app.config["UPLOAD_FOLDER"], "logos")
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def error_beside(body: str, field_id: str) -> str:
    """The message shown under the field with this id (its -error paragraph), or ""."""
    found = re.search(rf'<p class="error" id="{re.escape(field_id)}-error">([^<]*)</p>', body)
    return html.unescape(found.group(1)) if found else ""


def test_the_first_run_shows_the_environments_details(app, as_manager):
    page = as_manager.get("/settings/").get_data(as_text=True)
    assert 'value="Envy Paws"' in page and 'value="(555) 000-1111"' in page and 'value="env-desk@example.com"' in page
    assert re.search(r'class="brand"[^>]*>.*Envy Paws</a>', page, re.S)
    assert app.test_client().get("/login").get_data(as_text=True).count("Envy Paws") >= 1
    assert stored().business_name is None  # nothing was saved: the environment still speaks


def test_saved_details_head_every_page_and_email(app, as_manager, make, inbox):
    response = save_details(as_manager)
    assert response.status_code == 303 and response.headers["Location"] == "/settings/"
    settings = stored()
    assert (settings.business_name, settings.business_phone, settings.business_email) == (
        DETAILS["name"], DETAILS["phone"], DETAILS["email"])
    assert settings.business_address == "12 Elm Street\nSuite 3\nSomerville, MA 02144"
    assert (settings.business_tax_number, settings.business_website) == ("EIN 12-3456789", "whiskers.example")

    for page in (as_manager.get("/settings/"), app.test_client().get("/login"), app.test_client().get("/password/forgot")):
        body = page.get_data(as_text=True)
        assert "Stored Whiskers &amp; Co" in body and "Envy Paws" not in body
    visitor = app.test_client()
    asked = visitor.post("/password/forgot", data={"email": "nobody@example.com"})
    sent = visitor.get(asked.headers["Location"]).get_data(as_text=True)  # "didn't get it? call us"
    assert "(617) 555-0199" in sent and "office@whiskers.example" in sent
    assert ENV["BUSINESS_PHONE"] not in sent and ENV["BUSINESS_EMAIL"] not in sent

    client = make.client(first_name="Ada", email="ada@example.com")
    assert as_manager.post("/invitations/", data={"ids": [str(client.id)], "message": ""}).status_code == 303
    assert outbox.deliver_all() == (2, 0)
    [invitation] = inbox.to("ada@example.com")
    assert invitation["Subject"] == "Your Stored Whiskers & Co account invitation"
    for part in (inbox.text(invitation), inbox.html(invitation)):
        assert "Stored Whiskers" in part and "(617) 555-0199" in part and "office@whiskers.example" in part
        for old in ENV.values():
            assert old not in part
    assert "12 Elm Street, Suite 3, Somerville, MA 02144" in inbox.html(invitation)
    # The office's notices go to the stored address.
    [notice] = inbox.to("office@whiskers.example")
    assert "nobody@example.com" in inbox.text(notice) and not inbox.to(ENV["BUSINESS_EMAIL"])


def test_saving_with_htmx_swaps_the_form_and_the_name_in_the_top_bar(as_manager):
    response = save_details(as_manager, htmx=True, name="Htmx Hounds")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body and "Business details saved." in body
    assert re.search(r'<a class="brand" id="brand" [^>]*hx-swap-oob="true">.*Htmx Hounds</a>', body, re.S)
    assert 'id="business-details"' in body and 'value="Htmx Hounds"' in body


def test_each_bad_detail_is_refused_beside_its_field_and_nothing_is_saved(app, as_manager):
    bad = {"name": "  ", "phone": "", "email": "not-an-email", "website": "javascript:alert(1)",
           "tax_number": "x" * 61}
    for htmx in (False, True):
        response = save_details(as_manager, htmx=htmx, **bad)
        body = response.get_data(as_text=True)
        assert response.status_code == 422 and ("<html" in body) is not htmx
        assert error_beside(body, "name") == "Enter the business's name."
        assert error_beside(body, "phone").startswith("Enter the business's phone number")
        assert error_beside(body, "email") == "That is not an email address; write it like name@example.com."
        assert error_beside(body, "tax_number") == "Field cannot be longer than 60 characters."
        assert 'value="not-an-email"' in body  # what was typed stays to be corrected
    # The form lets a bad website through to the service, which refuses it beside the field.
    response = save_details(as_manager, website="javascript:alert(1)")
    assert response.status_code == 422
    assert error_beside(response.get_data(as_text=True), "website") == (
        "Write the website like example.com or https://example.com.")
    assert stored() is None or stored().business_name is None


def test_the_service_refuses_what_the_form_would(app):
    with pytest.raises(FieldErrors) as refused:
        site.update_business({"name": "", "phone": "1", "email": "a@b", "website": "ftp://x.example"})
    assert set(refused.value.errors) == {"name", "email", "website"}
    with pytest.raises(FieldErrors) as refused:
        site.update_billing({"billing_mode": "sometimes", "billing_cycle": "monthly", "billing_cycle_day": 31,
                             "payment_terms_days": 14, "tax_rate_bp": 10001, "tax_label": "Tax",
                             "reminder_days": [0], "how_to_pay": "",
                             "late_fee_tiers": [{"hours": 24, "percent": 50}, {"hours": 24, "percent": 100}],
                             "tip_percents": [0, 15], "autopay_mode": "always", "autopay_retry_days": [90]})
    assert set(refused.value.errors) == {"billing_mode", "billing_cycle_day", "tax_rate_bp", "reminder_days",
                                         "late_fee_tiers", "tip_percents", "autopay_mode", "autopay_retry_days"}


def test_the_details_are_read_once_per_transaction(app, as_manager, count_queries):
    save_details(as_manager)
    db.session.commit()
    with count_queries() as first:
        assert site.business().name == DETAILS["name"]
    with count_queries() as again:
        for _ in range(5):
            assert site.business().phone == DETAILS["phone"]
    assert first.count == 1 and again.count == 0
    db.session.commit()  # another request may have saved new details since: the next transaction reads them
    with count_queries() as next_transaction:
        site.business()
    assert next_transaction.count == 1


def test_png_and_jpeg_logos_are_reencoded_served_by_their_random_name_and_replaced(app, as_manager, make, inbox):
    assert save_details(as_manager, logo=upload(png_with_secrets(), "logo.png")).status_code == 303
    [first] = logo_files(app)
    assert HEX_PNG.fullmatch(first) and stored().business_logo == first
    business = site.business()
    assert business.logo_path == os.path.join(app.config["UPLOAD_FOLDER"], "logos", first)
    assert business.logo_url == f"http://localhost/settings/logo/{first}"
    assert business.logo_file_url == "file://" + business.logo_path
    with open(business.logo_path, "rb") as kept:
        data = kept.read()
    assert data.startswith(b"\x89PNG") and b"secret-owner-note" not in data
    image = Image.open(io.BytesIO(data))
    assert image.mode == "RGBA" and image.getpixel((0, 0))[3] == 0 and image.getpixel((5, 5)) == (200, 40, 40, 255)
    assert not image.info.get("Comment")

    anonymous = app.test_client()
    served = anonymous.get(f"/settings/logo/{first}")
    assert served.status_code == 200 and served.mimetype == "image/png" and served.data == data
    assert served.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    for guess in ("logo.png", "../logos/" + first, first.upper()):
        assert anonymous.get(f"/settings/logo/{guess}").status_code == 404
    assert anonymous.get(f"/static/{first}").status_code == 404
    page = as_manager.get("/settings/").get_data(as_text=True)
    assert f'<img class="brand-logo" src="/settings/logo/{first}"' in page

    # A phone's JPEG with GPS in its EXIF replaces it: a new PNG with no metadata, and the old name is gone.
    assert save_details(as_manager, logo=upload(jpeg_with_gps((800, 600)), "IMG_0042.JPG")).status_code == 303
    [second] = logo_files(app)
    assert second != first and HEX_PNG.fullmatch(second)
    with open(os.path.join(app.config["UPLOAD_FOLDER"], "logos", second), "rb") as kept:
        data = kept.read()
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and not image.getexif() and b"PhoneCam" not in data and b"Exif" not in data
    assert anonymous.get(f"/settings/logo/{first}").status_code == 404
    assert anonymous.get(f"/settings/logo/{second}").status_code == 200

    client = make.client(email="ada@example.com")
    as_manager.post("/invitations/", data={"ids": [str(client.id)], "message": ""})
    outbox.deliver_all()
    assert f'<img src="http://localhost/settings/logo/{second}"' in inbox.html(inbox.to("ada@example.com")[0])


def test_a_text_file_named_png_is_refused_and_nothing_is_saved(app, as_manager):
    for htmx in (False, True):
        response = save_details(as_manager, htmx=htmx, name="Renamed Meanwhile",
                                logo=upload(b"#!/bin/sh\necho this is not a picture\n", "logo.png"))
        body = response.get_data(as_text=True)
        assert response.status_code == 422
        assert error_beside(body, "logo") == "This file is not an image we can read."
    assert logo_files(app) == [] and (stored() is None or stored().business_name is None)


def test_a_logo_too_large_is_refused_with_a_message(app, as_manager):
    app.config["LOGO_MAX_BYTES"] = 2048
    big = Image.effect_noise((200, 200), 80).convert("RGB")
    out = io.BytesIO()
    big.save(out, "PNG")
    assert len(out.getvalue()) > 2048
    response = save_details(as_manager, logo=upload(out.getvalue(), "big.png"))
    assert response.status_code == 422
    assert error_beside(response.get_data(as_text=True), "logo") == "The file is larger than 2 KB."
    assert "of at most 2 KB" in response.get_data(as_text=True)  # the hint says the limit up front
    # Beyond the request limit the server refuses before reading the form: the error page says why.
    app.config["MAX_CONTENT_LENGTH"] = 4096
    response = save_details(as_manager, logo=upload(out.getvalue(), "big.png"))
    assert response.status_code == 413 and "too large" in response.get_data(as_text=True).lower()
    assert logo_files(app) == [] and (stored() is None or stored().business_name is None)


def test_removing_the_logo(app, as_manager):
    save_details(as_manager, logo=upload(png_with_secrets(), "logo.png"))
    [name] = logo_files(app)
    page = as_manager.get("/settings/").get_data(as_text=True)
    assert "Remove the logo" in page and f'src="/settings/logo/{name}"' in page
    assert save_details(as_manager, remove_logo="y").status_code == 303
    assert stored().business_logo is None and logo_files(app) == []
    assert app.test_client().get(f"/settings/logo/{name}").status_code == 404
    page = as_manager.get("/settings/").get_data(as_text=True)
    with app.test_request_context():
        paw = url_for("static", filename="paw.svg")  # its content-hashed name
    assert "Remove the logo" not in page and f'src="{paw}"' in page and site.business().logo_url is None


def test_every_billing_option_is_saved_and_shown_again(app, as_manager):
    response = as_manager.post("/settings/billing", data=BILLING)
    assert response.status_code == 303 and response.headers["Location"] == "/settings/"
    settings = stored()
    assert (settings.billing_mode, settings.billing_cycle, settings.billing_cycle_day, settings.billing_cycle_anchor,
            settings.payment_terms_days, settings.tax_rate_bp, settings.tax_label, settings.reminder_days,
            settings.how_to_pay) == ("advance", "biweekly", 15, date(2026, 11, 4), 30, 825, "Sales tax", [7, 30],
                                     "Checks to Whiskers & Co.\nThank you!")
    assert settings.late_fee_tiers == [{"hours": 24, "percent": 50}, {"hours": 2, "percent": 100}]
    page = as_manager.get("/settings/").get_data(as_text=True)
    assert 'name="tax_rate" type="text" value="8.25"' in page and 'value="7, 30"' in page
    assert re.search(r'id="late_fee_tiers-0-hours"[^>]*value="24"', page)
    assert re.search(r'id="late_fee_tiers-1-percent"[^>]*value="100"', page)
    # Two fees saved, and blank rows for more up to four.
    assert re.search(r'id="late_fee_tiers-3-hours"[^>]*value=""', page) and "late_fee_tiers-4-hours" not in page
    # htmx: the section answers itself, saved; an emptied tax rate means no tax; no rows, no fees.
    cleared = {**BILLING, "tax_rate": "", "reminder_days": "", **{f"late_fee_tiers-{i}-{part}": ""
                                                                   for i in range(4) for part in ("hours", "percent")}}
    response = as_manager.post("/settings/billing", data=cleared, headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body and "Billing options saved." in body
    settings = stored()
    assert (settings.tax_rate_bp, settings.reminder_days, settings.late_fee_tiers) == (0, [], [])


BAD_BILLING = [
    ("tax_rate", "abc", "tax_rate", "Enter a percentage such as 8.25."),
    ("tax_rate", "-1", "tax_rate", "A rate cannot be negative."),
    ("tax_rate", "8.255", "tax_rate", "Use at most two decimal places."),
    ("tax_rate", "100.01", "tax_rate", "Enter a rate from 0 to 100%."),
    ("reminder_days", "7, soon", "reminder_days", "Write whole numbers apart by commas, like 7, 30."),
    ("reminder_days", "7, -1", "reminder_days", "Use whole numbers above 0."),
    ("reminder_days", "0, 7", "reminder_days", "Each reminder is 1 to 365 days after the due date."),
    ("reminder_days", "1 2 3 4 5 6 7", "reminder_days", "Send at most 6 reminders."),
    ("billing_cycle_day", "29", "billing_cycle_day", "Enter a day of the month from 1 to 28."),
    ("billing_cycle_day", "first", "billing_cycle_day", "Enter a day of the month from 1 to 28."),
    ("billing_mode", "whenever", "billing_mode", "Not a valid choice."),
    ("billing_cycle", "daily", "billing_cycle", "Not a valid choice."),
    ("payment_terms_days", "5", "payment_terms_days", "Not a valid choice."),
    ("billing_cycle_anchor", "2026-13-01", "billing_cycle_anchor", "Not a valid date value."),
    ("tax_label", " ", "tax_label", "Name the tax as invoices show it, e.g. Sales tax."),
    ("late_fee_tiers-0-hours", "721", "late_fee_tiers-0-hours", "Enter whole hours from 1 to 720."),
    ("late_fee_tiers-0-hours", "1.5", "late_fee_tiers-0-hours", "Enter whole hours from 1 to 720."),
    ("late_fee_tiers-0-percent", "0", "late_fee_tiers-0-percent", "Enter a whole percentage from 1 to 100."),
    ("late_fee_tiers-2-percent", "", "late_fee_tiers-2-percent", "Give the fee for these hours too."),
    ("late_fee_tiers-1-percent", "10", "late_fee_tiers-1-hours", "Give the hours for this fee too."),
]


def test_each_bad_billing_value_is_refused_beside_its_field_and_nothing_is_saved(app, as_manager):
    before = {name: getattr(site.get_settings(), name) for name in site.BILLING_OPTIONS}
    db.session.commit()
    for name, value, field_id, message in BAD_BILLING:
        response = as_manager.post("/settings/billing", data={**BILLING, name: value}, headers=HX)
        body = response.get_data(as_text=True)
        assert response.status_code == 422, (name, value)
        assert error_beside(body, field_id) == message, (name, value)
        assert len(re.findall(r'<p class="error"', body)) == 1, (name, value)  # that field only
        assert {n: getattr(stored(), n) for n in site.BILLING_OPTIONS} == before, (name, value)
    # Two rows with the same hours: the fees' list says so; and a plain POST answers the whole page.
    response = as_manager.post("/settings/billing", data={**BILLING, "late_fee_tiers-2-hours": "2"})
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and "<html" in body
    assert error_beside(body, "fee-tiers") == "Two rows have the same number of hours: keep one of them."
    assert {n: getattr(stored(), n) for n in site.BILLING_OPTIONS} == before


def test_several_bad_values_are_each_refused_at_once(as_manager):
    response = as_manager.post("/settings/billing", data={**BILLING, "tax_rate": "8.255", "reminder_days": "x",
                                                          "billing_cycle_day": "0", "late_fee_tiers-0-hours": "0"})
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert all(error_beside(body, field) for field in ("tax_rate", "reminder_days", "billing_cycle_day",
                                                       "late_fee_tiers-0-hours"))
    assert stored() is None or stored().tax_rate_bp == 0


@pytest.mark.parametrize("who", ["sitter", "client"])
def test_only_owners_and_managers_may_change_site_options(app, make, me, who):
    browser = app.test_client()
    login_as(browser, make.staff(Role.SITTER) if who == "sitter" else me)
    assert browser.get("/settings/").status_code == 403
    for url, data in (("/settings/", {}), ("/settings/business", DETAILS), ("/settings/billing", BILLING)):
        assert browser.post(url, data=data).status_code == 403, url
    assert db.session.scalar(select(func.count()).select_from(SiteSettings).where(
        SiteSettings.business_name.is_not(None))) == 0


def test_an_owner_may_too(app, as_owner):
    assert save_details(as_owner).status_code == 303 and stored().business_name == DETAILS["name"]
