"""The billing desk's forms: an invoice run, draft lines, void, payments, credits, refunds, allocation."""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from filters import lazy_gettext as _l
from forms.fields import MoneyField, coerce_optional_int
from models import CREDIT_REASONS, MANUAL_METHODS, PAYMENT_METHODS

PERCENT = re.compile(r"[0-9]{1,3}(?:[.,][0-9]{1,2})?")


def percent_to_bp(text: str | None) -> int | None:
    """ "8.25" -> 825 hundredths of a percent; None for blank; ValueError for anything else."""
    text = (text or "").strip().removesuffix("%").strip()
    if not text:
        return None
    if not PERCENT.fullmatch(text):
        raise ValueError(_l("Write a percent such as 10 or 12.5."))
    try:
        value = Decimal(text.replace(",", "."))
    except InvalidOperation:
        raise ValueError(_l("Write a percent such as 10 or 12.5.")) from None
    return int(value * 100)


class PercentField(StringField):
    """A percent typed by a person, kept as hundredths of a percent (basis points)."""

    def process_formdata(self, valuelist):
        self.raw = valuelist[0] if valuelist else ""
        try:
            self.data = percent_to_bp(self.raw)
        except ValueError as error:
            self.data = None
            raise ValueError(str(error)) from None

    def _value(self) -> str:
        return getattr(self, "raw", None) or ""


class RunForm(FlaskForm):
    """Create invoices for a period: the first and last day (visits by their day)."""

    start = DateField(_l("From"), validators=[InputRequired(_l("Enter the first day of the period."))])
    end = DateField(_l("To"), validators=[InputRequired(_l("Enter the last day of the period."))])

    def validate_end(self, field):
        if self.start.data and field.data and field.data < self.start.data:
            raise ValidationError(_l("The period ends before it starts."))
        if self.start.data and field.data and (field.data - self.start.data).days > 366:
            raise ValidationError(_l("A run covers at most a year."))


class LineForm(FlaskForm):
    """A discount (an amount or a percent of the visits) or an extra charge on a draft."""

    kind = RadioField(_l("Add"), choices=[("discount", _l("Discount")), ("charge", _l("Extra charge"))],
                      default="discount", validators=[InputRequired()])
    description = StringField(_l("Description"), validators=[InputRequired(_l("Say what it is.")), Length(max=300)],
                              description=_l("The client reads it on the invoice."))
    amount = MoneyField(_l("Amount"), validators=[Optional()])
    percent = PercentField(_l("Or a percent of the visits"), validators=[Optional()],
                           description=_l("Discounts only, e.g. 10."))
    day = DateField(_l("Date (optional)"), validators=[Optional()])


class NotesForm(FlaskForm):
    notes = TextAreaField(_l("Note on the invoice"), validators=[Length(max=2000)],
                          description=_l("Printed under the lines; the client reads it."))


class VoidForm(FlaskForm):
    reason = TextAreaField(_l("Why is it voided?"), validators=[InputRequired(_l("Say why; it stays on record.")),
                                                               Length(max=500)])


class EmptyForm(FlaskForm):
    """A button-only POST (send, remove a line): the CSRF token and nothing else."""


class PaymentForm(FlaskForm):
    """A payment recorded by staff. `allocate` is "oldest" (open invoices, oldest first) or "chosen", with
    an amount per open invoice in fields invoice_<id> read by the view."""

    method = SelectField(_l("Method"), choices=[(k, PAYMENT_METHODS[k]) for k in MANUAL_METHODS])
    amount = MoneyField(_l("Amount"), validators=[InputRequired(_l("Enter the amount."))])
    received_on = DateField(_l("Received on"), validators=[InputRequired(_l("Enter the date it was received."))])
    reference = StringField(_l("Check number or reference"), validators=[Length(max=80)],
                            description=_l("Required for a check."))
    note = TextAreaField(_l("Note (staff only)"), validators=[Length(max=2000)])
    allocate = RadioField(_l("Put it towards"), choices=[("oldest", _l("Open invoices, oldest first")),
                                                         ("chosen", _l("The invoices I choose below"))],
                          default="oldest")


class CreditForm(FlaskForm):
    amount = MoneyField(_l("Amount"), validators=[InputRequired(_l("Enter the amount."))])
    reason = SelectField(_l("Kind"), choices=list(CREDIT_REASONS.items()))
    note = StringField(_l("Note"), validators=[InputRequired(_l("Add a note: what the credit is for.")),
                                               Length(max=200)],
                       description=_l("Shown on the client's account."))
    auto_apply = BooleanField(_l("Apply it to open and next invoices by itself, oldest first"), default=True)


class RefundForm(FlaskForm):
    amount = MoneyField(_l("Refund amount"), validators=[InputRequired(_l("Enter the amount to refund."))])
    note = StringField(_l("Why"), validators=[Length(max=200)])


class AllocateForm(FlaskForm):
    invoice = SelectField(_l("Invoice"), coerce=coerce_optional_int)
    amount = MoneyField(_l("Amount"), validators=[InputRequired(_l("Enter the amount."))])
