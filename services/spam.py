"""Guards of the public forms (the intake form, the newsletter sign-up) against robots: each served form carries
its own key, random and signed with the time it was served, so no session cookie is needed (the form works framed
in the business's own website); a form sent back sooner than a person could fill it in is a robot's. The forms
also carry a honeypot field and their routes a rate limit."""
from __future__ import annotations

import secrets
from datetime import datetime, timezone

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from filters import gettext as _
from services.errors import DomainError


class TooFast(DomainError):
    """Sent within seconds of being served: treated as a robot's (answered as if received, nothing kept)."""

    def __init__(self):
        super().__init__("too fast")


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def new_form_key(salt: str) -> str:
    """The key a served form carries: random, signed with the time it was served."""
    return _serializer(salt).dumps(secrets.token_hex(16))


def read_form_key(signed: str, salt: str, min_seconds: float, max_age: int) -> str:
    """The form's own key, once its signature and age are checked; TooFast for a form sent back too soon."""
    try:
        key, served = _serializer(salt).loads(signed or "", max_age=max_age, return_timestamp=True)
    except SignatureExpired:
        raise DomainError(_("This form was open for more than a day. Check what you typed and send it again.")) \
            from None
    except BadSignature:
        raise DomainError(_("This form could not be read. Check what you typed and send it again.")) from None
    if (datetime.now(timezone.utc) - served).total_seconds() < min_seconds:
        raise TooFast()
    return key
