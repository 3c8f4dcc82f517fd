"""Fields shared by the forms of several areas: money in cents, lists of checkboxes, optional ids."""
from __future__ import annotations

from decimal import Decimal

from babel.numbers import NumberFormatError, format_decimal, parse_decimal
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import SelectMultipleField, StringField
from wtforms.widgets import CheckboxInput, ListWidget

MONEY_HELP = _l("Enter an amount such as 25 or 25.50.")


def parse_money(text: str | None) -> int | None:
    """ "$1,234.5" -> 123450 cents; None for blank; ValueError (with a message for the field) when not money.

    Read the way the business's locale writes numbers, strictly (Babel): in en_US "1,234.50" is money and
    "20,00" is refused, not read as 2,000.00; a currency symbol around the amount is allowed.
    """
    text = (text or "").strip().strip("$£€¥").strip()
    if not text:
        return None
    locale = get_locale()
    try:
        amount = parse_decimal(text, locale=locale, strict=True)
    except NumberFormatError:
        if not any(ch.isdigit() for ch in text):
            raise ValueError(MONEY_HELP) from None
        raise ValueError(_("“%(text)s” is not an amount we can read: write it like %(example)s.", text=text[:20],
                           example=format_decimal(Decimal("1234.50"), "#,##0.00", locale=locale))) from None
    if not amount.is_finite() or "e" in text.lower() or abs(amount) >= 10_000_000:
        raise ValueError(MONEY_HELP)
    if amount.as_tuple().exponent < -2:
        raise ValueError(_("Use at most two decimal places."))
    return int(amount * 100)


def cents_to_text(cents: int | None) -> str:
    return "" if cents is None else f"{cents / 100:.2f}"


class MoneyField(StringField):
    """An amount typed by a person, kept as integer cents; what is not money is an ordinary field error."""

    def process_formdata(self, valuelist):
        self.raw = valuelist[0] if valuelist else ""
        try:
            self.data = parse_money(self.raw)
        except ValueError as error:
            self.data = None
            raise ValueError(str(error)) from None  # WTForms puts it in process_errors, shown beside the field

    def process_data(self, value):
        self.raw = None
        self.data = value

    def _value(self) -> str:
        return self.raw if self.raw is not None else cents_to_text(self.data)


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes: several of a few choices."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def coerce_optional_int(value) -> int | None:
    """A select's value as an id, "" or None for "none"; anything else is refused by the field."""
    if value in (None, "", "None"):
        return None
    return int(value)
