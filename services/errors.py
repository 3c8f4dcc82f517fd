"""Domain errors that views turn into messages beside fields."""
from __future__ import annotations

from filters import gettext as _



class DomainError(Exception):
    """A business rule refused the change; `field` names where to show it, if anywhere."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class FieldErrors(DomainError):
    """Several fields were refused at once: {field: message}."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(_("Please correct the highlighted fields."))
        self.errors = errors
