"""Fields shared by the forms of several areas: money in cents, lists of checkboxes, optional ids."""
from __future__ import annotations

import re
import unicodedata
from decimal import Decimal

from babel.numbers import format_decimal, get_currency_symbol, get_decimal_symbol, get_group_symbol
from flask import current_app
from flask_babel import get_locale
from wtforms import SelectMultipleField, StringField
from wtforms.widgets import CheckboxInput, ListWidget

from filters import gettext as _
from filters import lazy_gettext as _l

MONEY_HELP = _l("Enter an amount such as 25 or 25.50.")
SPACES = " \u00a0\u202f"  # where a locale groups thousands with a space, any of these is typed


def _money_pattern(locale) -> re.Pattern:
    """An amount in the locale's way: 1234 or 1,234 (groups of three), then up to two decimals; nothing else
    (no "_", exponent, sign or other script's digits, all of which Python's own parsers take)."""
    group, decimal = get_group_symbol(locale), get_decimal_symbol(locale)
    groups = re.escape(group) if group not in SPACES else f"[{SPACES}]"
    return re.compile(rf"(?P<whole>[0-9]{{1,3}}(?:{groups}[0-9]{{3}})+|[0-9]{{1,9}})"
                      rf"(?:{re.escape(decimal)}(?P<fraction>[0-9]+))?")


def parse_money(text: str | None) -> int | None:
    """ "$1,234.5" -> 123450 cents; None for blank; ValueError (with a message for the field) when not money.

    Read the way the business's locale writes numbers, strictly: in en_US "1,234.50" is money and "20,00" is
    refused, not read as 2,000.00; the symbol of the business's currency before or after the amount is allowed.
    """
    text = (text or "").strip()
    locale = get_locale()
    symbol = get_currency_symbol(current_app.config["BUSINESS_CURRENCY"], locale)
    text = text.removeprefix(symbol).removesuffix(symbol).strip() if symbol else text
    if not text:
        return None
    if text.startswith("-"):
        raise ValueError(_("A price cannot be negative."))
    match = _money_pattern(locale).fullmatch(text)
    if match is None:
        if not any(ch.isdigit() for ch in text):
            raise ValueError(MONEY_HELP)
        if any(unicodedata.category(ch) == "Sc" for ch in text):
            raise ValueError(_("Amounts are in %(currency)s: write it like %(example)s.", currency=symbol,
                               example=format_decimal(Decimal("1234.50"), "#,##0.00", locale=locale)))
        raise ValueError(_("“%(text)s” is not an amount we can read: write it like %(example)s.", text=text[:20],
                           example=format_decimal(Decimal("1234.50"), "#,##0.00", locale=locale)))
    fraction = match["fraction"] or ""
    if len(fraction) > 2:
        raise ValueError(_("Use at most two decimal places."))
    whole = int(re.sub("[^0-9]", "", match["whole"]))
    if whole >= 10_000_000:
        raise ValueError(MONEY_HELP)
    return whole * 100 + int(fraction.ljust(2, "0"))


def cents_to_text(cents: int | None) -> str:
    """Cents as the field shows them, with the locale's decimal mark, so that they read back as typed."""
    return "" if cents is None else f"{cents // 100}{get_decimal_symbol(get_locale())}{cents % 100:02d}"


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
