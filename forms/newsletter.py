"""The newsletter: the public sign-up, a client's box in the portal, and a campaign staff write."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import Length

from filters import lazy_gettext as _l
from forms.fields import coerce_optional_int
from models import AUDIENCES, ClientStatus


class SignupForm(FlaskForm):
    """No session CSRF token (the sign-up sits on public pages, /start among them, which may be framed):
    `form_key`, signed with the time the form was served, stands in for it (services.spam)."""

    class Meta:
        csrf = False

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", "newsletter")  # its ids never clash with the page's own form (/login, /start)
        super().__init__(*args, **kwargs)

    email = EmailField(_l("Email"), validators=[Length(max=254)])
    name = StringField(_l("Your name (optional)"), validators=[Length(max=160)])
    form_key = HiddenField()
    # Left empty by people (hidden from them and from screen readers); robots fill every field.
    website = StringField(_l("Leave this empty"))


class PortalNewsletterForm(FlaskForm):
    wanted = BooleanField(_l("Send me the newsletter"))


class CampaignForm(FlaskForm):
    subject = StringField(_l("Subject"), validators=[Length(max=200)])
    body_markdown = TextAreaField(_l("Newsletter"), description=_l(
        "Markdown: a blank line between paragraphs, **bold**, *italic*, - for a list, [words](https://…) for a link."))
    audience = SelectField(_l("Send to"), choices=list(AUDIENCES.items()), validate_choice=False)
    territory_id = SelectField(_l("Territory"), coerce=coerce_optional_int, validate_choice=False)
    client_status = SelectField(_l("Client status"), validate_choice=False,
                                choices=[("", _l("Choose…"))] + [(s.value, s.label) for s in ClientStatus])
