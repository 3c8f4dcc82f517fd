"""Client profiles: the staff form, the fields a client edits in My Info, logins and custom prices."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    FieldList,
    Form,
    FormField,
    SelectField,
    SelectMultipleField,
    StringField,
    TelField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from forms.fields import MoneyField, coerce_optional_int
from models import ClientProfile, ClientStatus


class EmailEntry(Form):
    email = StringField("Email", validators=[Optional(), Length(max=254)])
    is_primary = BooleanField("Primary")


class ContactFields(FlaskForm):
    """Contact, home, keys, vet and emergency fields: the staff form and the client's My Info share them."""

    emails = FieldList(FormField(EmailEntry), min_entries=1, max_entries=6)
    mobile_phone = TelField("Mobile phone", validators=[Length(max=40)])
    home_phone = TelField("Home phone", validators=[Length(max=40)])
    work_phone = TelField("Work phone", validators=[Length(max=40)])
    address_line1 = StringField("Street address", validators=[Length(max=200)])
    address_line2 = StringField("Apartment, unit (optional)", validators=[Length(max=200)])
    city = StringField("City", validators=[Length(max=100)])
    state = StringField("State", validators=[Length(max=60)])
    zip = StringField("Zip code", validators=[Length(max=12)])
    uses_keys = BooleanField("Uses keys")
    key_notes = TextAreaField("Key notes", validators=[Length(max=2000)])
    vet_id = SelectField("Veterinarian", coerce=coerce_optional_int, validate_choice=False)
    emergency_name = StringField("Emergency contact name", validators=[Length(max=160)])
    emergency_phone = TelField("Emergency contact phone", validators=[Length(max=40)])

    def show_emails(self, client: ClientProfile | None) -> None:
        """On a first GET: one row per address of the profile, and an empty row to add one."""
        if client is None:
            return
        while len(self.emails.entries):
            self.emails.pop_entry()
        for address in client.emails:
            self.emails.append_entry({"email": address.email, "is_primary": address.is_primary})
        self.emails.append_entry({"email": "", "is_primary": False})

    def values(self) -> dict:
        """The form's data as the clients service expects it: only fields present in the form."""
        values = {name: field.data for name, field in self._fields.items() if name not in ("csrf_token", "emails")}
        if "emails" in self._fields:
            values["emails"] = [(entry.data["email"], entry.data["is_primary"]) for entry in self.emails.entries]
        return values


class ClientForm(ContactFields):
    """The staff form: the contact fields plus what only staff set."""

    first_name = StringField("First name", validators=[InputRequired(), Length(max=80)])
    last_name = StringField("Last name", validators=[InputRequired(), Length(max=80)])
    territory_id = SelectField("Territory", coerce=coerce_optional_int, validate_choice=False)
    status = SelectField("Status", choices=[(s.value, s.label) for s in ClientStatus],
                         default=ClientStatus.PROSPECT.value)
    primary_sitter_id = SelectField("Primary sitter", coerce=coerce_optional_int, validate_choice=False)
    secondary_sitter_id = SelectField("Secondary sitter", coerce=coerce_optional_int, validate_choice=False)
    blocked_sitter_ids = SelectMultipleField(
        "Blocked sitters", coerce=int, widget=ListWidget(prefix_label=False), option_widget=CheckboxInput(),
        validate_choice=False,
    )
    staff_notes = TextAreaField("Staff-only notes", validators=[Length(max=5000)])

    def show_client(self, client: ClientProfile | None) -> None:
        """On a first GET: what the profile holds where the object alone does not say it."""
        if client is None:
            return
        self.blocked_sitter_ids.data = [s.id for s in client.blocked_sitters]
        self.territory_id.data = client.territory_id if client.territory_manual else None
        self.status.data = client.status.value
        self.show_emails(client)

    def offer(self, sitters: list, territories: list, vets: list) -> None:
        """The choices of the selects, from the business's staff and resources."""
        people = [(None, "— None —")] + [(s.id, s.name) for s in sitters]
        self.primary_sitter_id.choices = people
        self.secondary_sitter_id.choices = people
        self.blocked_sitter_ids.choices = people[1:]
        self.territory_id.choices = [(None, "Automatic, from the zip code")] + [(t.id, t.name) for t in territories]
        self.vet_id.choices = vet_choices(vets)


def vet_choices(vets: list) -> list[tuple]:
    return [(None, "— None —")] + [(v.id, v.clinic) for v in vets]


class InfoForm(ContactFields):
    """What a client may edit of their own profile (My Info): never status, sitters, prices or staff notes."""

    first_name = StringField("First name", validators=[InputRequired(message="Enter your first name."),
                                                       Length(max=80)])
    last_name = StringField("Last name", validators=[InputRequired(message="Enter your last name."), Length(max=80)])
    uses_keys = BooleanField("We give you a key")
    key_notes = TextAreaField("Key and entry notes", validators=[Length(max=2000)],
                              description="Where the key is, alarm codes, gates.")


class LoginForm(FlaskForm):
    """Staff add a client login by hand."""

    first_name = StringField("First name", validators=[Length(max=80)])
    last_name = StringField("Last name", validators=[Length(max=80)])
    email = EmailField("Email", validators=[InputRequired(message="Enter an email address."), Length(max=254)],
                       description="They sign in with it; we email them a link to set their password.")


class PriceForm(FlaskForm):
    service_id = SelectField("Service", coerce=coerce_optional_int,
                             validators=[InputRequired(message="Choose a service.")])
    price = MoneyField("Price", validators=[InputRequired()])
    effective_on = DateField("Effective from", validators=[InputRequired(message="Enter a date.")])

    def offer(self, services: list) -> None:
        # A required select's placeholder has an empty value, so the browser and the checker know it is no choice.
        self.service_id.choices = [("", "Choose a service")] + [(s.id, s.name) for s in services]
