"""Client forms: the builder, versions that keep old answers readable, filling in, files, onboarding."""
import io

import pytest

from sqlalchemy import select

from extensions import db
from models import ClientForm, ClientLogin, ClientProfile, Document, FormResponse, Role
from services.forms import FieldSpec, save_form
from services.settings import update_settings
from services.uploads import clean_filename
from tests.conftest import HX, login_as
from tests.test_pets import png_bytes

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def _builder(**values):
    data = {"title": "Service agreement", "description": "Please read.", "per_pet": "client", "onboarding": "y",
            "active": "y", "fields-0-label": "Do you agree?", "fields-0-type": "yes_no", "fields-0-required": "y",
            "fields-1-label": "Signature", "fields-1-type": "signature", "fields-1-required": "y"}
    data.update(values)
    return data


def _every_type_form():
    form = save_form(None, "Intake", "", False, False, True, [
        FieldSpec("Nickname", "short_text"), FieldSpec("Routine", "long_text", True),
        FieldSpec("Off leash?", "yes_no", True), FieldSpec("Size", "choice", True, ("Small", "Large")),
        FieldSpec("Last vet visit", "date"), FieldSpec("Walks per day", "number"),
        FieldSpec("Insurance card", "file"), FieldSpec("Signed", "signature", True)])
    db.session.commit()
    return form


def test_builder_creates_a_form_with_questions_and_reports_errors_in_place(as_manager):
    assert "<html" in as_manager.get("/client-forms/new").get_data(as_text=True)
    more = as_manager.post("/client-forms/new", data={**_builder(), "add_field": "1"})
    assert more.status_code == 200 and 'name="fields-2-label"' in more.get_data(as_text=True)
    bad = as_manager.post("/client-forms/new", data=_builder(title="", **{"fields-0-type": "choice"}),
                          headers={**HX, "HX-Target": "builder"})
    body = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "<html" not in body and "Give the form a title." in body
    assert "at least two choices" in body and db.session.scalar(select(ClientForm)) is None
    assert as_manager.post("/client-forms/new", data=_builder()).status_code == 303
    form = db.session.scalar(select(ClientForm))
    assert form.onboarding and not form.per_pet and form.current.number == 1
    assert [f["type"] for f in form.current.fields] == ["yes_no", "signature"]
    assert "Service agreement" in as_manager.get("/client-forms/").get_data(as_text=True)


def test_editing_questions_makes_a_version_and_old_answers_read_as_written(as_manager, portal, me):
    as_manager.post("/client-forms/new", data=_builder())
    form = db.session.scalar(select(ClientForm))
    assert portal.post(f"/portal/forms/{form.id}", data={"f1": "yes", "f2": "Nia Reyes"}).status_code == 303
    unchanged = as_manager.post(f"/client-forms/{form.id}/edit", data=_builder())
    assert unchanged.status_code == 303 and len(form.versions) == 1  # nothing changed: no new version
    as_manager.post(f"/client-forms/{form.id}/edit", data=_builder(**{"fields-0-label": "Do you accept the terms?"}))
    db.session.expire_all()
    assert [v.number for v in form.versions] == [1, 2]
    response = db.session.scalar(select(FormResponse))
    page = as_manager.get(f"/client-forms/responses/{response.id}").get_data(as_text=True)
    assert "Do you agree?" in page and "Do you accept the terms?" not in page and "version 1" in page
    assert "Nia Reyes" in page and "Yes" in page


def test_every_field_type_is_checked_and_kept(portal, me):
    form = _every_type_form()
    url = f"/portal/forms/{form.id}"
    bad = portal.post(url, data={"f3": "maybe", "f4": "Huge", "f5": "soon", "f6": "many"},
                      headers={**HX, "HX-Target": "form-fill"})
    body = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "<html" not in body
    for message in ("This field is required.", "Choose yes or no.", "Choose one of the options.", "Enter a date.",
                    "Enter a number.", "Type your full name to sign."):
        assert message in body, message
    assert db.session.scalar(select(Document)) is None  # nothing stored for a refused form
    good = portal.post(url, data={"f1": "Bis", "f2": "Walk at 8", "f3": "no", "f4": "Small", "f5": "2026-10-01",
                                  "f6": "2", "f8": "Nia Reyes", "f7": (io.BytesIO(PDF), "insurance.pdf")},
                       content_type="multipart/form-data")
    assert good.status_code == 303 and good.headers["Location"] == "/portal/forms"
    response = db.session.scalar(select(FormResponse))
    assert response.answers["f5"] == "2026-10-01" and response.answers["f6"] == "2"
    assert response.answers["f7"]["name"] == "insurance.pdf" and response.login_id == me.id
    document = db.session.get(Document, response.answers["f7"]["document_id"])
    assert document.for_form and document.content_type == "application/pdf"
    assert "filled in" in portal.get("/portal/forms").get_data(as_text=True)
    answers = portal.get(f"/portal/forms/answers/{response.id}").get_data(as_text=True)
    assert "Walk at 8" in answers and f"/portal/documents/{document.id}" in answers


@pytest.mark.parametrize("typed, kept, message", [
    ("1.5", "1.5", None), ("1,5", "1.5", None), (" 12 ", "12", None), ("-2", "-2", None), ("0.25", "0.25", None),
    ("1e400", None, "Enter a number."), ("1E3", None, "Enter a number."), ("inf", None, "Enter a number."),
    ("NaN", None, "Enter a number."), ("1_000", None, "Enter a number."), ("١٢", None, "Enter a number."),
    ("1.2.3", None, "Enter a number."), ("1,500", None, "Write the number without a thousands separator: 1500."),
])
def test_number_answers_are_read_strictly(portal, me, typed, kept, message):
    form = save_form(None, "Walks", "", False, False, True, [FieldSpec("Walks per day", "number", True)])
    db.session.commit()
    response = portal.post(f"/portal/forms/{form.id}", data={"f1": typed}, headers={**HX, "HX-Target": "form-fill"})
    if message is None:
        assert response.status_code == 200 and db.session.scalar(select(FormResponse)).answers["f1"] == kept
    else:
        assert response.status_code == 422 and message in response.get_data(as_text=True)
        assert db.session.scalar(select(FormResponse)) is None


def test_per_pet_forms_ask_once_for_each_active_pet_and_only_the_clients_own(portal, me, make):
    client = db.session.get(ClientProfile, me.client_id)
    rex, tom = make.pet(client, name="Rex"), make.pet(client, name="Tom")
    make.pet(client, name="Gone", active=False)
    theirs = make.pet(make.client(), name="Theirs")
    form = save_form(None, "Routine", "", True, False, True, [FieldSpec("Feeding", "short_text", True)])
    db.session.commit()
    listing = portal.get("/portal/forms").get_data(as_text=True)
    assert "Routine (Rex)" in listing and "Routine (Tom)" in listing and "Gone" not in listing
    assert portal.get(f"/portal/forms/{form.id}?pet={rex.id}").status_code == 200
    assert portal.get(f"/portal/forms/{form.id}").status_code == 404
    assert portal.post(f"/portal/forms/{form.id}?pet={theirs.id}", data={"f1": "x"}).status_code == 404
    assert portal.post(f"/portal/forms/{form.id}?pet={tom.id}", data={"f1": "Kibble"}).status_code == 303
    assert db.session.scalar(select(FormResponse)).pet_id == tom.id


def test_another_clients_answers_are_404(app, portal, make, password_hash):
    other = make.client()
    login = ClientLogin(client=other, email="other@example.com", password_hash=password_hash)
    db.session.add(login)
    db.session.commit()
    form = save_form(None, "Routine", "", False, False, True, [FieldSpec("Feeding", "short_text", True)])
    db.session.commit()
    from services.forms import submit

    theirs = submit(form, other, None, login, {"f1": "Secret diet"}, {})
    db.session.commit()
    page = portal.get(f"/portal/forms/answers/{theirs.id}")
    assert page.status_code == 404 and "Secret diet" not in page.get_data(as_text=True)


def test_onboarding_forms_are_a_step_until_filled_and_staff_see_the_answers(portal, me, make, as_manager, app):
    client = db.session.get(ClientProfile, me.client_id)
    make.pet(client, name="Rex")
    assert "Welcome, Nia" in portal.get("/portal/").get_data(as_text=True)
    form = save_form(None, "Vet release", "Who may treat Rex.", False, True, True,
                     [FieldSpec("Vet may treat in an emergency", "yes_no", True), FieldSpec("Signed", "signature", True)])
    db.session.commit()
    widget = portal.get("/portal/").get_data(as_text=True)
    assert "Getting started: step 3 of 3" in widget and "Fill in: Vet release." in widget and 'name="f1"' in widget
    missing = portal.post(f"/portal/forms/{form.id}", data={"f1": "yes", "widget": "1"},
                          headers={**HX, "HX-Target": "onboarding"})
    assert missing.status_code == 422 and "Type your full name to sign." in missing.get_data(as_text=True)
    done = portal.post(f"/portal/forms/{form.id}", data={"f1": "yes", "f2": "Nia Reyes", "widget": "1"},
                       headers={**HX, "HX-Target": "onboarding"})
    assert "You're all set" in done.get_data(as_text=True)
    db.session.refresh(client)
    assert client.onboarding_complete
    profile = as_manager.get(f"/clients/{client.id}").get_data(as_text=True)
    response = db.session.scalar(select(FormResponse))
    assert f"/client-forms/responses/{response.id}" in profile
    sitter = make.staff(Role.SITTER)
    other_staff = app.test_client()
    login_as(other_staff, sitter)
    assert other_staff.get(f"/client-forms/responses/{response.id}").status_code == 404  # not their client


def test_switching_forms_off_hides_them_and_their_step(portal, me, make):
    make.pet(db.session.get(ClientProfile, me.client_id), name="Rex")
    save_form(None, "Vet release", "", False, True, True, [FieldSpec("Ok?", "yes_no", True)])
    db.session.commit()
    assert "step 3 of 3" in portal.get("/portal/").get_data(as_text=True)
    update_settings(True, False, {}, {}, {"portal_forms": False})
    db.session.commit()
    assert portal.get("/portal/forms").status_code == 404
    assert "Welcome, Nia" in portal.get("/portal/").get_data(as_text=True)


def test_pet_documents_are_checked_stored_privately_and_served_only_to_who_may_see_them(portal, me, make, app):
    client = db.session.get(ClientProfile, me.client_id)
    rex = make.pet(client, name="Rex")
    url = f"/portal/pets/{rex.id}/documents"
    frag = {**HX, "HX-Target": "documents"}
    for data, message in [((io.BytesIO(b"hello"), "notes.txt"), "Upload a PDF, or a JPEG, PNG or WebP image."),
                          ((io.BytesIO(b"%PDF-1.4 truncated"), "cut.pdf"), "This PDF looks incomplete or damaged."),
                          ((io.BytesIO(b"%PDF-" + b"x" * 2048), "big.pdf"), "The file is larger than 1 KB.")]:
        if "big" in data[1]:
            app.config["DOCUMENT_MAX_BYTES"] = 1024
        refused = portal.post(url, data={"title": "x", "document": data}, headers=frag,
                              content_type="multipart/form-data")
        assert refused.status_code == 422 and message in refused.get_data(as_text=True), message
    app.config["DOCUMENT_MAX_BYTES"] = 10 * 1024 * 1024
    assert db.session.scalar(select(Document)) is None
    added = portal.post(url, data={"title": "Rabies 2026", "document": (io.BytesIO(PDF), "rabies.pdf")},
                        headers=frag, content_type="multipart/form-data")
    assert added.status_code == 200 and "Rabies 2026" in added.get_data(as_text=True)
    image = portal.post(url, data={"title": "Scan", "document": (io.BytesIO(png_bytes()), "scan.png")},
                        content_type="multipart/form-data")
    assert image.status_code == 303
    pdf, scan = db.session.scalars(select(Document).order_by(Document.id)).all()
    assert scan.content_type == "image/jpeg" and scan.stored_name.endswith(".jpg")  # re-encoded
    assert scan.original_name == "scan.jpg"  # named for what is kept, not what was sent
    shown = portal.get(f"/portal/documents/{scan.id}")
    assert shown.mimetype == "image/jpeg" and 'filename=scan.jpg' in shown.headers["Content-Disposition"]
    served = portal.get(f"/portal/documents/{pdf.id}")
    assert served.status_code == 200 and served.data == PDF
    assert served.headers["Content-Disposition"].startswith("attachment") and "sandbox" in served.headers[
        "Content-Security-Policy"]
    stranger = make.client()
    other = ClientLogin(client=stranger, email="other@example.com", password_hash=me.password_hash)
    db.session.add(other)
    db.session.commit()
    other_browser = app.test_client()
    login_as(other_browser, other)
    assert other_browser.get(f"/portal/documents/{pdf.id}").status_code == 404
    rex.active = False
    db.session.commit()
    assert portal.get(f"/portal/documents/{pdf.id}").status_code == 404  # hidden like the inactive pet


def test_an_uploaded_files_name_keeps_no_control_characters_nor_path(portal, me, make):
    """A NUL in the name once reached the database (PostgreSQL refuses it: a 500)."""
    rex = make.pet(db.session.get(ClientProfile, me.client_id), name="Rex")
    for sent in ("rab\x00ies.pdf", "../../rabies.pdf", "\trabies\x7f.pdf"):
        added = portal.post(f"/portal/pets/{rex.id}/documents", data={"title": "", "document": (io.BytesIO(PDF), sent)},
                            content_type="multipart/form-data")
        assert added.status_code == 303, sent
    names = db.session.scalars(select(Document.original_name).order_by(Document.id)).all()
    assert names == ["rabies.pdf"] * 3
    served = portal.get(f"/portal/documents/{db.session.scalar(select(Document.id))}")
    assert served.status_code == 200 and "rabies.pdf" in served.headers["Content-Disposition"]
    assert clean_filename("C:\\Users\\nia\\scan.png") == "scan.png"  # old browsers send the whole path


def test_staff_see_pet_documents_and_sitters_only_for_their_clients(app, as_manager, me, make):
    client = db.session.get(ClientProfile, me.client_id)
    rex = make.pet(client, name="Rex")
    browser = app.test_client()
    login_as(browser, me)
    browser.post(f"/portal/pets/{rex.id}/documents", data={"title": "Rabies", "document": (io.BytesIO(PDF), "r.pdf")},
                 content_type="multipart/form-data")
    document = db.session.scalar(select(Document))
    assert "Rabies" in as_manager.get(f"/pets/{rex.id}").get_data(as_text=True)
    assert as_manager.get(f"/pets/documents/{document.id}").data == PDF
    sitter = make.staff(Role.SITTER)
    staff = app.test_client()
    login_as(staff, sitter)
    assert staff.get(f"/pets/documents/{document.id}").status_code == 404
