"""Site options: registration, card on file, portal switches and the cancellation window; the business's own
details; how it bills."""
from __future__ import annotations

from flask import current_app
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField, DateField, EmailField, FieldList, Form, FormField, IntegerField, RadioField, SelectField, StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, InputRequired, Length, NumberRange, Optional, ValidationError

from filters import gettext as _
from filters import lazy_gettext as _l
from forms.fields import NumberListField, PercentField, WholeNumberField
from models import AUTOPAY_MODES, BILLING_CYCLES, BILLING_MODES, LOCATION_MODES, PAYMENT_TERMS, PORTAL_FEATURES


class OptionsForm(FlaskForm):
    clients_can_register = BooleanField(_l("Clients can create their own account"))
    billing_requires_card = BooleanField(_l("Billing requires a card on file"),
                                         description=_l("Clients then put a card on file while getting started."))
    accept_bank_accounts = BooleanField(_l("Accept US bank accounts (ACH) as well as cards"))
    cancellation_hours = IntegerField(
        _l("Late cancellation window, in hours"),
        validators=[InputRequired(message=_l("Enter a number of hours, 0 for none.")),
                    NumberRange(0, 720, message=_l("Enter a number of hours from 0 to 720."))],
        description=_l("A client who cancels a booked visit less than this many hours before it starts makes a "
                       "late cancellation, and you are told."))

    location_mode = RadioField(_l("The sitter's location at check-in and check-out"),
                               choices=[(k, _l(v)) for k, v in LOCATION_MODES.items()],
                               validators=[InputRequired(message=_l("Choose whether the location is asked."))])
    report_before_checkout = BooleanField(_l("Sitters send the visit report before they can check out"))
    short_visit_percent = IntegerField(
        _l("A visit is short below this share of its service's length, in %"),
        validators=[InputRequired(message=_l("Enter a percentage, 0 to flag none.")),
                    NumberRange(0, 100, message=_l("Enter a percentage from 0 to 100."))],
        description=_l("A 30-minute walk checked out after less than 50% (15 minutes) is flagged to the office."))
    late_grace_minutes = IntegerField(
        _l("A visit is late after its window starts plus, in minutes"),
        validators=[InputRequired(message=_l("Enter a number of minutes, 0 for none.")),
                    NumberRange(0, 240, message=_l("Enter a number of minutes from 0 to 240."))],
        description=_l("With no check-in by then, the office's board shows the visit as late."))
    travel_gap_minutes = IntegerField(
        _l("Travel time a sitter needs between visits, in minutes"),
        validators=[InputRequired(message=_l("Enter a number of minutes, 0 for none.")),
                    NumberRange(0, 240, message=_l("Enter a number of minutes from 0 to 240."))],
        description=_l("Visits booked closer together for one sitter are warned about."))
    key_notices = BooleanField(_l("Warn when a visit goes to a sitter without the client's key"))


for _name, _label in PORTAL_FEATURES.items():
    setattr(OptionsForm, _name, BooleanField(_l(_label)))


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class BusinessForm(FlaskForm):
    """The business's own details, as pages, emails and invoices show them, and its logo."""

    name = StringField(_l("Business name"), filters=[_strip],
                       validators=[DataRequired(message=_l("Enter the business's name.")), Length(max=160)])
    address = TextAreaField(_l("Address"), validators=[Length(max=500)],
                            description=_l("As invoices show it, on as many lines as it needs."))
    phone = StringField(_l("Phone"), filters=[_strip], validators=[
        DataRequired(message=_l("Enter the business's phone number: every email tells clients to call it.")),
        Length(max=40)])
    email = EmailField(_l("Email"), filters=[_strip], validators=[
        DataRequired(message=_l("Enter the business's email: clients write to it and the office's notices go to it.")),
        Length(max=254), Email(message=_l("That is not an email address; write it like name@example.com."))],
        description=_l("Clients write to it; new requests, cancellations and other notices for the office go to it."))
    tax_number = StringField(_l("Tax number"), filters=[_strip], validators=[Length(max=60)],
                             description=_l("Printed on invoices, e.g. your EIN or VAT number. Optional."))
    website = StringField(_l("Website"), filters=[_strip], validators=[Length(max=200)],
                          description=_l("Optional, e.g. example.com."))
    logo = FileField(_l("Logo"), render_kw={"accept": "image/png,image/jpeg,image/webp"})
    remove_logo = BooleanField(_l("Remove the logo"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        limit = current_app.config["LOGO_MAX_BYTES"]
        size = f"{limit / (1024 * 1024):.3g} MB" if limit >= 1024 * 1024 else f"{limit // 1024} KB"
        self.logo.description = _("A PNG, JPEG or WebP image of at most %(size)s. It heads your invoices and emails "
                                  "and the top of every page.", size=size)

    def details(self) -> dict:
        return {name: self[name].data for name in ("name", "address", "phone", "email", "tax_number", "website")}

    @classmethod
    def of(cls, business) -> BusinessForm:
        """The form filled with the business's details as they are now (not from the request)."""
        return cls(formdata=None, data={name: getattr(business, name)
                                        for name in ("name", "address", "phone", "email", "tax_number", "website")})


class FeeTierForm(Form):
    """One late cancellation fee: less than `hours` before the visit, `percent` of its price. Blank: no fee."""

    hours = WholeNumberField(_l("Hours before the visit"), invalid=_l("Enter whole hours from 1 to 720."),
                             validators=[Optional(), NumberRange(1, 720, message=_l("Enter whole hours from 1 to 720."))])
    percent = WholeNumberField(_l("Fee, in % of the visit's price"), invalid=_l("Enter a whole percentage from 1 to 100."),
                               validators=[Optional(),
                                           NumberRange(1, 100, message=_l("Enter a whole percentage from 1 to 100."))])

    def validate(self, extra_validators=None) -> bool:
        if not super().validate(extra_validators):
            return False
        if self.hours.data is None and self.percent.data is not None:
            self.hours.errors.append(_("Give the hours for this fee too."))
            return False
        if self.percent.data is None and self.hours.data is not None:
            self.percent.errors.append(_("Give the fee for these hours too."))
            return False
        return True


FEE_TIER_ROWS = 4
MAX_FEE_TIERS = 6


class BillingForm(FlaskForm):
    """How visits become invoices, when they are due, tax, reminders, how to pay and late cancellation fees."""

    billing_mode = RadioField(_l("How visits are invoiced"), choices=[(k, _l(v)) for k, v in BILLING_MODES.items()],
                              validators=[InputRequired(message=_l("Choose how visits are invoiced."))])
    billing_cycle = RadioField(_l("Billing period"), choices=[(k, _l(v)) for k, v in BILLING_CYCLES.items()],
                               validators=[InputRequired(message=_l("Choose a billing period."))])
    billing_cycle_day = WholeNumberField(
        _l("Monthly periods start on day"), invalid=_l("Enter a day of the month from 1 to 28."),
        validators=[InputRequired(message=_l("Enter a day of the month from 1 to 28.")),
                    NumberRange(1, 28, message=_l("Enter a day of the month from 1 to 28."))],
        description=_l("1 to 28, so that every month has it."))
    billing_cycle_anchor = DateField(
        _l("Weekly periods start on the weekday of"), validators=[Optional()],
        description=_l("Weekly and two-weekly periods start on this date's weekday, two-weekly ones every other "
                       "week from it. Empty: Mondays."))
    payment_terms_days = SelectField(_l("Payment terms"), coerce=int,
                                     choices=[(k, _l(v)) for k, v in PAYMENT_TERMS.items()])
    tax_rate = PercentField(_l("Tax rate, in %"),
                            description=_l("Added to every invoice line, e.g. 8.25. 0 or empty: no tax."))
    tax_label = StringField(_l("Name of the tax on invoices"), filters=[_strip],
                            validators=[DataRequired(message=_l("Name the tax as invoices show it, e.g. Sales tax.")),
                                        Length(max=40)])
    reminder_days = NumberListField(
        _l("Overdue reminders, in days after the due date"),
        description=_l("Whole days apart by commas, e.g. 7, 30: each goes out once per invoice. Empty: no reminders."))
    how_to_pay = TextAreaField(_l("How to pay"), validators=[Length(max=2000)],
                               description=_l("On invoices, reminders and the client's account page: checks payable to "
                                              "whom, bank details, and so on."))
    late_fee_tiers = FieldList(FormField(FeeTierForm), min_entries=FEE_TIER_ROWS, max_entries=MAX_FEE_TIERS)
    online_payments = BooleanField(_l("Clients can pay online (card or bank account, through Stripe)"))
    tips_enabled = BooleanField(_l("Offer a tip for the sitter when clients pay online"))
    tip_percents = NumberListField(_l("Tips offered, in %"),
                                   description=_l("Whole percentages apart by commas, e.g. 10, 15, 20. Clients may "
                                                  "also type an amount."))
    autopay_mode = RadioField(_l("Autopay"), choices=[(k, _l(v)) for k, v in AUTOPAY_MODES.items()], default="offered")
    autopay_retry_days = NumberListField(
        _l("After a failed autopay charge, try again after (days)"),
        description=_l("Whole days after the failure, apart by commas, e.g. 1, 3, 7. The client is emailed each time."))

    def validate_reminder_days(self, field) -> None:
        if any(not 1 <= days <= 365 for days in field.data or []):
            raise ValidationError(_("Each reminder is 1 to 365 days after the due date."))
        if len(field.data or []) > 6:
            raise ValidationError(_("Send at most 6 reminders."))

    def validate_late_fee_tiers(self, field) -> None:
        hours = [row.form.hours.data for row in field.entries if row.form.hours.data is not None]
        if len(set(hours)) != len(hours):
            raise ValidationError(_("Two rows have the same number of hours: keep one of them."))

    def options(self) -> dict:
        """The options as services.settings.update_billing takes them."""
        return {"billing_mode": self.billing_mode.data, "billing_cycle": self.billing_cycle.data,
                "billing_cycle_day": self.billing_cycle_day.data, "billing_cycle_anchor": self.billing_cycle_anchor.data,
                "payment_terms_days": self.payment_terms_days.data, "tax_rate_bp": self.tax_rate.data or 0,
                "tax_label": self.tax_label.data, "reminder_days": self.reminder_days.data,
                "how_to_pay": self.how_to_pay.data,
                "late_fee_tiers": [{"hours": row.form.hours.data, "percent": row.form.percent.data}
                                   for row in self.late_fee_tiers.entries if row.form.hours.data is not None],
                "online_payments": self.online_payments.data, "tips_enabled": self.tips_enabled.data,
                "tip_percents": self.tip_percents.data, "autopay_mode": self.autopay_mode.data,
                "autopay_retry_days": self.autopay_retry_days.data}

    @classmethod
    def of(cls, settings) -> BillingForm:
        """The form filled with the stored options, with blank rows for more fees."""
        tiers = list(settings.late_fee_tiers or [])
        rows = tiers + [{}] * max(FEE_TIER_ROWS - len(tiers), 1 if len(tiers) < MAX_FEE_TIERS else 0)
        return cls(formdata=None, data={
            "billing_mode": settings.billing_mode, "billing_cycle": settings.billing_cycle,
            "billing_cycle_day": settings.billing_cycle_day, "billing_cycle_anchor": settings.billing_cycle_anchor,
            "payment_terms_days": settings.payment_terms_days, "tax_rate": settings.tax_rate_bp,
            "tax_label": settings.tax_label, "reminder_days": list(settings.reminder_days or []),
            "how_to_pay": settings.how_to_pay, "late_fee_tiers": rows,
            "online_payments": settings.online_payments, "tips_enabled": settings.tips_enabled,
            "tip_percents": list(settings.tip_percents or []), "autopay_mode": settings.autopay_mode,
            "autopay_retry_days": list(settings.autopay_retry_days or [])})


class FaqForm(FlaskForm):
    """The business's client FAQ, first passwords for clients already on file, and the intake form."""

    faq_markdown = TextAreaField(
        _l("Questions clients ask, with your answers"), validators=[Length(max=20000)],
        description=_l("Markdown: a line starting with ## is a question, a blank line starts a new paragraph, "
                       "[text](https://…) is a link. Shown on the sign-in page and in the portal; empty: not shown."))
    first_time_passwords = BooleanField(
        _l("Clients whose email is on their profile can set a first password with “Forgot your password?”"),
        description=_l("The emailed link creates their login on that profile. Otherwise you invite them."))
    intake_enabled = BooleanField(_l("Show the intake form for new clients (/start)"),
                                  description=_l("Anyone may send it: it makes a Prospect with their pets, tells you, "
                                                 "and emails them a link to set a portal password."))
    intake_title = StringField(_l("The intake form's title"), filters=[_strip],
                               validators=[DataRequired(message=_l("Give the form a title.")), Length(max=120)])
    contact_enabled = BooleanField(_l("Show the Contact page (/contact)"),
                                   description=_l("Anyone may write to you there; messages arrive in Messages."))
