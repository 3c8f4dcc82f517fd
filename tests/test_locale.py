"""A translation dropped into the translations folder reaches every kind of text: templates, Python
messages, lazy form labels, dates, times and money, in the locale PAWTAL_LOCALE names."""
from __future__ import annotations

from datetime import datetime, time, timezone

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo

from extensions import db
from filters import clock, formatted, gettext, local_datetime, money, ngettext
from tests.conftest import HX

FRENCH = {
    "Clients": "Clientèle",  # a template word: the table page's heading
    "Active": "Actif",  # a lazy label in models.py (the client's status)
    "First name": "Prénom",  # a lazy field label in forms/clients.py
    "Please correct the fields marked below.": "Corrigez les champs signalés.",  # a template macro's words
}


@pytest.fixture
def app_config(tmp_path):
    catalog = Catalog(locale="fr_FR")
    for english, french in FRENCH.items():
        catalog.add(english, french)
    catalog.add(("%(num)d client", "%(num)d clients"), ("%(num)d cliente", "%(num)d clientes"))
    folder = tmp_path / "translations" / "fr_FR" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    with open(folder / "messages.mo", "wb") as f:
        write_mo(f, catalog)
    return {"BABEL_DEFAULT_LOCALE": "fr_FR", "BABEL_TRANSLATION_DIRECTORIES": str(tmp_path / "translations"),
            "BUSINESS_CURRENCY": "EUR", "BUSINESS_TIMEZONE": "Europe/Paris"}


def test_pages_and_python_messages_read_in_the_business_locale(as_manager, make):
    client = make.client(first_name="Ada", last_name="Lovelace")
    client.created_at = datetime(2026, 11, 3, 23, 30, tzinfo=timezone.utc)  # 4 Nov in Paris
    db.session.commit()

    table = as_manager.get("/clients/").get_data(as_text=True)
    assert "<h1>Clientèle</h1>" in table or ">Clientèle<" in table
    assert "1 cliente" in table  # ngettext from a template
    assert "4 nov. 2026" in table  # the business's date, in French
    assert ">Actif<" in table

    refused = as_manager.post("/clients/", data={"first_name": "", "last_name": "X", "status": "prospect"},
                              headers=HX)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "Prénom" in page and "Corrigez les champs signalés." in page
    assert "Ce champ est requis." in page  # WTForms' own messages come in French too (Flask-WTF's i18n)


def test_python_words_and_formats_follow_the_locale(app):
    with app.test_request_context():
        assert gettext("Clients") == "Clientèle"
        assert ngettext("%(num)d client", "%(num)d clients", 2) == "2 clientes"
        assert money(123450) == "1\u202f234,50\u00a0€"
        assert formatted(datetime(2026, 11, 3, 23, 30, tzinfo=timezone.utc), "full_day") == "mercredi 4 novembre 2026"
        assert clock(time(14, 30)) == "14:30" and clock(time(8)) == "08:00"
        assert local_datetime(datetime(2026, 11, 3, 23, 30, tzinfo=timezone.utc)) == "4 nov. 2026, 00:30"
