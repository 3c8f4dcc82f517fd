"""The first week's rough edges in real Chromium: the phone menu, a new pet from the Pets page, your account."""
import re

from playwright.sync_api import expect

from extensions import db
from models import Pet
from tests.browser.conftest import accessible_context, assert_accessible, screenshot, staff_sign_in
from tests.conftest import PASSWORD


def test_the_portal_menu_folds_on_a_phone(browser, live_server, me):
    context = accessible_context(browser, viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill(me.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Welcome, Nia")).to_be_visible()
    header = page.locator("header.topbar")
    assert header.bounding_box()["height"] <= 64, header.bounding_box()  # one row, not three
    menu = page.get_by_role("button", name="Menu")
    expect(page.get_by_role("link", name="My Info")).to_be_hidden()
    menu.click()
    expect(page.get_by_role("link", name="My Info")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "phone-portal-menu")
    page.keyboard.press("Escape")
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(menu).to_be_focused()
    context.close()


def test_a_new_pet_from_the_pets_page_starts_with_its_owner(browser, live_server, make, manager):
    owner = make.client(first_name="Ada", last_name="Lovelace")
    make.client(first_name="Alan", last_name="Turing")
    context = accessible_context(browser, viewport={"width": 1280, "height": 860})
    page = context.new_page()
    staff_sign_in(page, live_server, manager)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Pets").click()
    page.get_by_role("link", name="New pet").click()
    expect(page.get_by_role("heading", name="New pet")).to_be_visible()
    page.get_by_label("Find the client").fill("lovel")
    pick = page.get_by_role("link", name="Ada Lovelace")
    expect(pick).to_be_visible()
    expect(page.get_by_role("link", name="Alan Turing")).to_have_count(0)
    assert_accessible(page)
    screenshot(page, "staff-new-pet-owner")
    pick.click()
    expect(page.get_by_role("heading", name="New pet for Ada Lovelace")).to_be_visible()
    page.get_by_label(re.compile(r"^Name\b")).fill("Nova")
    page.get_by_label(re.compile(r"^Species\b")).fill("dog")
    page.get_by_role("button", name="Add pet").click()
    expect(page.get_by_role("heading", name="Nova", exact=True)).to_be_visible()
    pet = db.session.scalar(db.select(Pet).where(Pet.name == "Nova"))
    assert pet.client_id == owner.id and pet.species == "Dog"
    context.close()


def test_your_account_page_on_desktop_and_phone(browser, live_server, manager):
    for width, name in ((1280, "staff-your-account"), (390, "phone-staff-your-account")):
        context = accessible_context(browser, viewport={"width": width, "height": 860})
        page = context.new_page()
        staff_sign_in(page, live_server, manager)
        page.goto(f"{live_server}/staff/me")
        expect(page.get_by_role("heading", name="Your account")).to_be_visible()
        if width == 1280:  # on a phone the link waits behind the Menu button
            # One name, no stray space before its colon (a hidden span after the visible text read " : ").
            who = page.locator(".signout .who")
            expect(who).to_have_accessible_name(f"{manager.first_name} · Manager: your account")
        change = page.get_by_role("region", name="Change your password")
        change.get_by_label(re.compile(r"^Current password")).fill("not-my-password")
        change.get_by_label(re.compile(r"^New password(?! again)")).fill("a-fresh-pass-9")
        change.get_by_label(re.compile(r"^New password again")).fill("a-fresh-pass-9")
        change.get_by_role("button", name="Change password").click()
        expect(page.get_by_text("That is not your current password.")).to_be_visible()
        assert_accessible(page)
        screenshot(page, name)
        context.close()
