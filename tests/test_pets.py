"""Pet profiles: ages from partial dates, field rules, photos (verified, re-encoded, private)."""
import io
import os
from datetime import date

import pytest
from PIL import Image
from sqlalchemy import select

from extensions import db
from models import Pet, Photo, Role
from models import describe_age
from services.pets import check_born, photo_path
from services.settings import update_settings
from tests.conftest import HX, login_as


def png_bytes(size=(40, 30), colour=(200, 120, 40), fmt="PNG", **save) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, fmt, **save)
    return out.getvalue()


def jpeg_with_exif() -> bytes:
    image = Image.new("RGB", (50, 40), (10, 150, 90))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x010E] = "GPS 42.21N home"  # ImageDescription
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


TODAY = date(2026, 11, 25)


@pytest.mark.parametrize("born, expected", [
    ((2019, None, None), "about 7 years"),
    ((2025, None, None), "about 1 year"),
    ((2026, None, None), "under a year"),
    ((2024, 8, None), "about 2 years 3 months"),
    ((2024, 8, 25), "2 years 3 months"),
    ((2024, 8, 26), "2 years 2 months"),
    ((2026, 11, 1), "3 weeks"),
    ((2025, 11, 25), "1 year"),
    ((None, None, None), ""),
])
def test_describe_age(born, expected):
    assert describe_age(*born, TODAY) == expected


@pytest.mark.parametrize("born, problem", [
    ((None, 3, None), "year first"),
    ((2020, None, 4), "month with the day"),
    ((1800, None, None), "between 1900"),
    ((2020, 13, None), "month from 1 to 12"),
    ((2023, 2, 30), "does not exist"),
    ((2027, None, None), "between 1900"),
    ((2026, 12, 1), "future"),
])
def test_born_validation(born, problem):
    assert problem in check_born(*born, TODAY)


def _pet_form(**values):
    data = {"name": "Rex", "species": "Dog", "sex": "", "active": "y", "vaccinations-0-name": "",
            "vaccinations-0-expires_on": ""}
    data.update(values)
    return data


def test_manager_adds_a_pet_with_partial_birth_date_and_vaccinations(as_manager, make):
    owner = make.client()
    response = as_manager.post(f"/pets/?client_id={owner.id}", data=_pet_form(
        born_year="2020", born_month="6", weight="31.5", **{"vaccinations-0-name": "Rabies",
                                                             "vaccinations-0-expires_on": "2027-01-31"}))
    assert response.status_code == 303
    pet = db.session.scalar(select(Pet).where(Pet.client_id == owner.id))
    assert (pet.born_year, pet.born_month, pet.born_day) == (2020, 6, None)
    assert [v.name for v in pet.vaccinations] == ["Rabies"]
    page = as_manager.get(f"/pets/{pet.id}").get_data(as_text=True)
    assert "Jun 2020" in page and "about" in page and "Rabies" in page


def test_bad_birth_date_is_shown_beside_the_field_and_nothing_saved(as_manager, make):
    owner = make.client()
    response = as_manager.post(f"/pets/?client_id={owner.id}", data=_pet_form(born_year="2023", born_month="2",
                                                                               born_day="30"), headers=HX)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "does not exist in that month" in body and 'id="born-error"' in body and "<html" not in body
    assert db.session.scalar(select(Pet).where(Pet.client_id == owner.id)) is None


def test_pet_field_rules_are_enforced_by_the_server(as_manager, make):
    update_settings(True, False, {}, {"breed": "required", "medications": "hidden"})
    db.session.commit()
    owner = make.client()
    form = as_manager.get(f"/pets/new?client_id={owner.id}").get_data(as_text=True)
    assert 'name="medications"' not in form and 'name="breed"' in form
    missing = as_manager.post(f"/pets/?client_id={owner.id}", data=_pet_form(medications="Secret pills"))
    assert missing.status_code == 422 and "This field is required." in missing.get_data(as_text=True)
    ok = as_manager.post(f"/pets/?client_id={owner.id}", data=_pet_form(breed="Collie", medications="Secret pills"))
    assert ok.status_code == 303
    pet = db.session.scalar(select(Pet).where(Pet.client_id == owner.id))
    assert pet.breed == "Collie" and pet.medications == ""


def _upload(client, owner, data: bytes, filename="photo.png", **values):
    return client.post(f"/pets/?client_id={owner.id}", data=_pet_form(photo=(io.BytesIO(data), filename), **values),
                       content_type="multipart/form-data")


def test_photo_is_reencoded_without_exif_and_served_privately(app, as_manager, make):
    owner = make.client()
    response = _upload(as_manager, owner, jpeg_with_exif(), "cam.jpg")
    assert response.status_code == 303
    pet = db.session.scalar(select(Pet).where(Pet.client_id == owner.id))
    stored = photo_path(pet.photo)
    assert stored.startswith(app.config["UPLOAD_FOLDER"]) and not stored.startswith(app.static_folder)
    with Image.open(stored) as saved:
        assert saved.format == "JPEG"
        assert not saved.getexif()
    served = as_manager.get(f"/pets/photos/{pet.photo_id}")
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    assert b"SecretCam" not in served.data
    assert "private" in served.headers["Cache-Control"]


@pytest.mark.parametrize("data, name, message", [
    (b"<?php echo 'hi'; ?>", "evil.png", "not an image we can read"),
    (png_bytes(fmt="GIF"), "anim.gif", "JPEG, PNG or WebP"),
    (b"", "empty.png", "empty"),
])
def test_photo_rejections(as_manager, make, data, name, message):
    owner = make.client()
    response = _upload(as_manager, owner, data, name)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(select(Pet).where(Pet.client_id == owner.id)) is None
    assert db.session.scalar(select(Photo).where(Photo.client_id == owner.id)) is None


def test_photo_too_large_is_refused(app, as_manager, make):
    app.config["PHOTO_MAX_BYTES"] = 10_000
    owner = make.client()
    big = png_bytes(size=(300, 300), colour=(1, 2, 3))
    noisy = Image.frombytes("RGB", (200, 200), os.urandom(200 * 200 * 3))
    out = io.BytesIO()
    noisy.save(out, "PNG")
    response = _upload(as_manager, owner, out.getvalue())
    assert response.status_code == 422 and "larger than" in response.get_data(as_text=True)
    assert len(big) < 10_000  # a small image still passes the same limit
    assert _upload(as_manager, owner, big).status_code == 303


def test_decompression_bomb_is_refused(app, as_manager, make):
    app.config["PHOTO_MAX_PIXELS"] = 1_000_000
    owner = make.client()
    bomb = png_bytes(size=(4000, 4000), colour=(0, 0, 0))  # tiny file, 16 megapixels
    assert len(bomb) < 100_000
    response = _upload(as_manager, owner, bomb)
    assert response.status_code == 422 and "too many pixels" in response.get_data(as_text=True)


def test_pick_a_previous_photo_but_not_another_clients(as_manager, make):
    owner, stranger = make.client(), make.client()
    assert _upload(as_manager, owner, png_bytes()).status_code == 303
    assert _upload(as_manager, stranger, png_bytes()).status_code == 303
    mine = db.session.scalar(select(Photo).where(Photo.client_id == owner.id))
    theirs = db.session.scalar(select(Photo).where(Photo.client_id == stranger.id))
    form = as_manager.get(f"/pets/new?client_id={owner.id}").get_data(as_text=True)
    assert f'/pets/photos/{mine.id}' in form and f'/pets/photos/{theirs.id}' not in form
    stolen = as_manager.post(f"/pets/?client_id={owner.id}", data=_pet_form(name="Second", photo_id=str(theirs.id)))
    assert stolen.status_code == 422
    picked = as_manager.post(f"/pets/?client_id={owner.id}", data=_pet_form(name="Second", photo_id=str(mine.id)))
    assert picked.status_code == 303
    assert db.session.scalar(select(Pet).where(Pet.name == "Second")).photo_id == mine.id


def test_sitters_see_photos_and_active_pets_of_assigned_clients_only(app, make, as_manager):
    sitter = make.staff(Role.SITTER)
    assigned, other = make.client(primary_sitter_id=sitter.id), make.client()
    _upload(as_manager, assigned, png_bytes(), "a.png", name="Mine")
    _upload(as_manager, other, png_bytes(), "b.png", name="Theirs")
    hidden = make.pet(assigned, name="Retired", active=False)
    sitter_client = app.test_client()
    login_as(sitter_client, sitter)
    mine = db.session.scalar(select(Pet).where(Pet.client_id == assigned.id, Pet.active.is_(True)))
    theirs = db.session.scalar(select(Pet).where(Pet.client_id == other.id))
    assert sitter_client.get(f"/pets/{mine.id}").status_code == 200
    assert sitter_client.get(f"/pets/photos/{mine.photo_id}").status_code == 200
    assert sitter_client.get(f"/pets/{theirs.id}").status_code == 404
    assert sitter_client.get(f"/pets/photos/{theirs.photo_id}").status_code == 404
    assert sitter_client.get(f"/pets/{hidden.id}").status_code == 404
    listing = sitter_client.get("/pets/").get_data(as_text=True)
    assert mine.name in listing and "Retired" not in listing and theirs.name not in listing
    assert sitter_client.get(f"/pets/{mine.id}/edit").status_code == 403


def test_inactive_pets_are_hidden_from_default_lists(as_manager, make):
    owner = make.client()
    make.pet(owner, name="Sleepy", active=False)
    make.pet(owner, name="Zippy")
    listing = as_manager.get("/pets/").get_data(as_text=True)
    assert "Zippy" in listing and "Sleepy" not in listing
    assert "Sleepy" in as_manager.get("/pets/?inactive=1").get_data(as_text=True)


def test_pet_pages_as_page_and_fragment(as_manager, make):
    pet = make.pet(make.client(), name="Fido")
    page = as_manager.get(f"/pets/{pet.id}")
    fragment = as_manager.get(f"/pets/{pet.id}", headers=HX)
    assert "<html" in page.get_data(as_text=True) and "<html" not in fragment.get_data(as_text=True)
    assert "Fido" in fragment.get_data(as_text=True)
    assert "HX-Request" in fragment.headers["Vary"]
    rows = as_manager.get("/pets/?q=fid", headers={**HX, "HX-Target": "pet-rows"}).get_data(as_text=True)
    assert rows.lstrip().startswith('<div id="pet-rows"') and "Fido" in rows
