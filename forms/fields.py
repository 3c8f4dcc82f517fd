"""Fields shared by the forms of several areas: money in cents, percentages, whole numbers and lists of them,
lists of checkboxes, optional ids."""
from __future__ import annotations

import re
import unicodedata
from decimal import Decimal

from babel.numbers import format_decimal, get_currency_symbol, get_decimal_symbol, get_group_symbol
from flask import current_app
from flask_babel import get_locale
from wtforms import IntegerField, SelectMultipleField, StringField
from wtforms.validators import StopValidation
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


class _Parsed:
    """A field whose text is parsed by `parse` (ValueError with the message for the field when it is refused);
    a refused text stops the field's other validators, so only its own message shows."""

    def process_formdata(self, valuelist):
        self.raw = valuelist[0] if valuelist else ""
        try:
            self.data = self.parse(self.raw)
        except ValueError as error:
            self.data = None
            raise ValueError(str(error)) from None

    def process_data(self, value):
        self.raw = None
        self.data = value

    def pre_validate(self, form):
        if self.process_errors:
            raise StopValidation()


def parse_percent(text: str | None) -> int | None:
    """ "8.25" (or "8,25 %" where the locale writes a decimal comma) -> 825 hundredths of a percent; None for blank;
    ValueError with the field's message when it is not a rate from 0 to 100 with at most two decimals."""
    text = (text or "").strip().removesuffix("%").strip()
    if not text:
        return None
    if text.startswith("-"):
        raise ValueError(_("A rate cannot be negative."))
    decimal = get_decimal_symbol(get_locale())
    match = re.fullmatch(rf"(?P<whole>[0-9]{{1,3}})(?:{re.escape(decimal)}(?P<fraction>[0-9]*))?", text)
    if match is None:
        raise ValueError(_("Enter a percentage such as %(example)s.", example=f"8{decimal}25"))
    fraction = match["fraction"] or ""
    if len(fraction) > 2:
        raise ValueError(_("Use at most two decimal places."))
    bp = int(match["whole"]) * 100 + int(fraction.ljust(2, "0"))
    if bp > 10000:
        raise ValueError(_("Enter a rate from 0 to 100%."))
    return bp


def percent_text(bp: int | None) -> str:
    """825 -> "8.25", 850 -> "8.5", 800 -> "8": a rate as the field shows it, in the locale's decimal mark."""
    if bp is None:
        return ""
    fraction = f"{bp % 100:02d}".rstrip("0")
    return f"{bp // 100}{get_decimal_symbol(get_locale()) + fraction if fraction else ''}"


class PercentField(_Parsed, StringField):
    """A percentage typed by a person ("8.25"), kept as hundredths of a percent (825)."""

    parse = staticmethod(parse_percent)

    def _value(self) -> str:
        return self.raw if self.raw is not None else percent_text(self.data)


def parse_whole_numbers(text: str | None) -> list[int]:
    """ "30, 7, 7" -> [7, 30]: whole numbers apart by commas or spaces, each once, in order; [] for blank."""
    pieces = [piece for piece in re.split(r"[\s,;]+", (text or "").strip()) if piece]
    if any(not re.fullmatch(r"[0-9]{1,6}", piece) for piece in pieces):
        if any(piece.startswith("-") for piece in pieces):
            raise ValueError(_("Use whole numbers above 0."))
        raise ValueError(_("Write whole numbers apart by commas, like 7, 30."))
    return sorted({int(piece) for piece in pieces})


class NumberListField(_Parsed, StringField):
    """A few whole numbers typed on one line ("7, 30"), kept as a sorted list without repeats."""

    parse = staticmethod(parse_whole_numbers)

    def _value(self) -> str:
        return self.raw if self.raw is not None else ", ".join(str(n) for n in self.data or [])


class WholeNumberField(_Parsed, IntegerField):
    """A whole number, typed with ASCII digits only (no sign, no "1_000", no other script's digits); None for blank.

    `invalid` is the message for text that is not one."""

    def __init__(self, label=None, validators=None, invalid=None, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.invalid = invalid or _l("Enter a whole number.")

    def parse(self, text: str | None) -> int | None:
        text = (text or "").strip()
        if not text:
            return None
        if not re.fullmatch(r"[0-9]{1,9}", text):
            raise ValueError(str(self.invalid))
        return int(text)

    def _value(self) -> str:
        return self.raw if self.raw is not None else ("" if self.data is None else str(self.data))
