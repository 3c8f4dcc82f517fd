"""Messages: a new one (with a subject), a reply, a staff member to answer it, and the public Contact page."""
from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import EmailField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import Length

from filters import lazy_gettext as _l
from forms.fields import coerce_optional_int

# Lengths are checked by services.messages (beside the field, in the same words whatever the form).
FILE_HINT = _l("A photo or a PDF, up to 10 MB. Optional.")


class ReplyForm(FlaskForm):
    body = TextAreaField(_l("Your message"))
    # The served form's own key (services.messages.new_message_key): sent twice (a double click), one message.
    form_key = HiddenField()
    attachment = FileField(_l("Attach a photo or PDF"), description=FILE_HINT,
                           render_kw={"accept": "image/jpeg,image/png,image/webp,application/pdf"})


def visit_form(visit_id: int, **kwargs) -> ReplyForm:
    """A message about a visit, from its card: its fields named for the visit (a day shows several cards)."""
    return ReplyForm(prefix=f"visit{visit_id}", **kwargs)


class MessageForm(ReplyForm):
    subject = StringField(_l("Subject"))


class AssignForm(FlaskForm):
    assigned_to = SelectField(_l("Answered by"), coerce=coerce_optional_int, validate_choice=False)


class ContactForm(FlaskForm):
    """No session CSRF token (like the intake form, the page works embedded in the business's website): the signed
    `form_key` stands in for it (services.spam)."""

    class Meta:
        csrf = False

    name = StringField(_l("Your name"), validators=[Length(max=160)])
    email = EmailField(_l("Your email"), validators=[Length(max=254)])
    phone = StringField(_l("Phone (optional)"), validators=[Length(max=40)])
    subject = StringField(_l("Subject"))
    body = TextAreaField(_l("Your message"))
    form_key = HiddenField()
    # Left empty by people (hidden from them and from screen readers); robots fill every field.
    website = StringField(_l("Leave this empty"))
