"""How a service's refusal and the site's field rules show on a form."""
from __future__ import annotations

from models import HIDDEN, REQUIRED


def show_errors(form, error, aliases: dict[str, str] | None = None) -> None:
    """Put a service's refusal beside the fields it names (or at the top of the form).

    `error` is a DomainError: `errors` maps fields to messages, or `field` and `message` name one.
    """
    aliases = aliases or {}
    items = error.errors.items() if getattr(error, "errors", None) else [(error.field, error.message)]
    for name, message in items:
        field = form._fields.get(aliases.get(name, name)) if name else None
        if field is not None:
            field.errors = list(field.errors) + [message]
        else:
            form.form_errors.append(message)


def apply_rules(form, rules: dict[str, str]) -> None:
    """Remove hidden fields and mark required ones, so the page shows what the server enforces."""
    for name, rule in rules.items():
        if name not in form._fields:
            continue
        if rule == HIDDEN:
            del form[name]
        elif rule == REQUIRED:
            form[name].flags.required = True
