"""Form helpers shared by the blueprints."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from services.errors import DomainError, FieldErrors


def show_errors(form, error: DomainError, aliases: dict[str, str] | None = None) -> None:
    """Put a service's refusal beside the form fields it names (or at the top of the form)."""
    aliases = aliases or {}
    items = error.errors.items() if isinstance(error, FieldErrors) else [(error.field, error.message)]
    for name, message in items:
        field = form._fields.get(aliases.get(name, name)) if name else None
        if field is not None:
            field.errors = list(field.errors) + [message]
        else:
            form.form_errors.append(message)


def parse_money(text: str | None) -> int | None:
    """"$1,234.5" -> 123450 cents; None for blank; ValueError when not money."""
    text = (text or "").strip().replace(",", "").lstrip("$£€")
    if not text:
        return None
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValueError("Enter an amount such as 25 or 25.50.") from None
    if amount.as_tuple().exponent < -2:
        raise ValueError("Use at most two decimal places.")
    return int(amount * 100)


def cents_to_text(cents: int | None) -> str:
    return "" if cents is None else f"{cents / 100:.2f}"


def coerce_optional_int(value) -> int | None:
    if value in (None, "", "None"):
        return None
    return int(value)

