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

from filters import gettext as _
from filters import lazy_gettext as _l
from forms.fields import MoneyField, coerce_optional_int
from models import ClientProfile, ClientStatus


class EmailEntry(Form):
    email = StringField(_l("Email"), validators=[Optional(), Length(max=254)])
    is_primary = BooleanField(_l("Primary"))


class ContactFields(FlaskForm):
    """Contact, home, keys, vet and emergency fields: the staff form and the client's My Info share them."""

    emails = FieldList(FormField(EmailEntry), min_entries=1, max_entries=6)
    mobile_phone = TelField(_l("Mobile phone"), validators=[Length(max=40)])
    home_phone = TelField(_l("Home phone"), validators=[Length(max=40)])
    work_phone = TelField(_l("Work phone"), validators=[Length(max=40)])
    address_line1 = StringField(_l("Street address"), validators=[Length(max=200)])
    address_line2 = StringField(_l("Apartment, unit (optional)"), validators=[Length(max=200)])
    city = StringField(_l("City"), validators=[Length(max=100)])
    state = StringField(_l("State"), validators=[Length(max=60)])
    zip = StringField(_l("Zip code"), validators=[Length(max=12)])
    uses_keys = BooleanField(_l("Uses keys"))
    key_notes = TextAreaField(_l("Key notes"), validators=[Length(max=2000)])
    vet_id = SelectField(_l("Veterinarian"), coerce=coerce_optional_int)
    emergency_name = StringField(_l("Emergency contact name"), validators=[Length(max=160)])
    emergency_phone = TelField(_l("Emergency contact phone"), validators=[Length(max=40)])

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

    first_name = StringField(_l("First name"), validators=[InputRequired(), Length(max=80)])
    last_name = StringField(_l("Last name"), validators=[InputRequired(), Length(max=80)])
    territory_id = SelectField(_l("Territory"), coerce=coerce_optional_int)
    status = SelectField(_l("Status"), choices=[(s.value, s.label) for s in ClientStatus],
                         default=ClientStatus.PROSPECT.value)
    primary_sitter_id = SelectField(_l("Primary sitter"), coerce=coerce_optional_int)
    secondary_sitter_id = SelectField(_l("Secondary sitter"), coerce=coerce_optional_int)
    blocked_sitter_ids = SelectMultipleField(
        _l("Blocked sitters"), coerce=int, widget=ListWidget(prefix_label=False), option_widget=CheckboxInput(),
    )
    staff_notes = TextAreaField(_l("Staff-only notes"), validators=[Length(max=5000)])

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
        people = [(None, _("— None —"))] + [(s.id, s.name) for s in sitters]
        self.primary_sitter_id.choices = people
        self.secondary_sitter_id.choices = people
        self.blocked_sitter_ids.choices = people[1:]
        self.territory_id.choices = [(None, _("Automatic, from the zip code"))] + [(t.id, t.name) for t in territories]
        self.vet_id.choices = vet_choices(vets)


def vet_choices(vets: list) -> list[tuple]:
    return [(None, _("— None —"))] + [(v.id, v.clinic) for v in vets]


class InfoForm(ContactFields):
    """What a client may edit of their own profile (My Info): never status, sitters, prices or staff notes."""

    first_name = StringField(_l("First name"), validators=[InputRequired(message=_l("Enter your first name.")),
                                                       Length(max=80)])
    last_name = StringField(_l("Last name"), validators=[InputRequired(message=_l("Enter your last name.")),
                                                         Length(max=80)])
    uses_keys = BooleanField(_l("We give you a key"))
    key_notes = TextAreaField(_l("Key and entry notes"), validators=[Length(max=2000)],
                              description=_l("Where the key is, alarm codes, gates."))


class EraseForm(FlaskForm):
    confirm = StringField(_l("Type the client's name to confirm"), validators=[Length(max=200)])


class LoginForm(FlaskForm):
    """Staff add a client login by hand."""

    first_name = StringField(_l("First name"), validators=[Length(max=80)])
    last_name = StringField(_l("Last name"), validators=[Length(max=80)])
    email = EmailField(_l("Email"), validators=[InputRequired(message=_l("Enter an email address.")), Length(max=254)],
                       description=_l("They sign in with it; we email them a link to set their password."))


class PriceForm(FlaskForm):
    service_id = SelectField(_l("Service"), coerce=coerce_optional_int,
                             validators=[InputRequired(message=_l("Choose a service."))])
    price = MoneyField(_l("Price"), validators=[InputRequired()])
    effective_on = DateField(_l("Effective from"), validators=[InputRequired(message=_l("Enter a date."))])

    def offer(self, services: list) -> None:
        # A required select's placeholder has an empty value, so the browser and the checker know it is no choice.
        self.service_id.choices = [("", _("Choose a service"))] + [(s.id, s.name) for s in services]
