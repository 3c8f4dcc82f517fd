"""Messages in the portal: "Message us" (a subject, the text, a photo or PDF), the client's threads with the business
(their visits' too), answering them, and a visit's own thread from its panel. Behind the messages switch; open before
onboarding is done (a new client has questions too). Another client's ids answer 404."""
from __future__ import annotations

from flask import url_for
from flask_login import current_user

from access import (
    attachment_or_404, client_required, feature_required, my_client, read_only, thread_or_404, viewer, visit_or_404,
)
from blueprints.messages import prepared
from blueprints.portal.base import bp, portal_context
from filters import gettext as _
from forms.messages import MessageForm, ReplyForm, visit_form
from rendering import done, render_page, send_upload, submit
from services import messages

LIST = "portal/_messages.html"
THREAD = "portal/_thread.html"


def _list_context(form: MessageForm | None = None) -> dict:
    client = my_client()
    return {**portal_context(client), "threads": messages.client_threads(client),
            "form": prepared(form or MessageForm(formdata=None))}


@bp.get("/messages")
@client_required
@feature_required("messages")
def messages_index():
    return render_page("portal/messages.html", LIST, **_list_context())


@bp.post("/messages")
@client_required
@feature_required("messages")
def write():
    """Message us: a new thread; the business is told and answers here (and by email)."""
    form = MessageForm()
    return submit(form, lambda: messages.write_to_business(my_client(), current_user, form.subject.data,
                                                           form.body.data, form.attachment.data,
                                                           form.form_key.data or ""),
                  lambda thread: done(_("Sent. We will answer here, and by email."),
                                      url_for("portal.thread", thread_id=thread.id)),
                  lambda status: render_page("portal/messages.html", LIST, status=status, **_list_context(form)))


def _thread_context(thread, form: ReplyForm | None = None) -> dict:
    return {**portal_context(my_client()), "thread": thread, "form": prepared(form or ReplyForm(formdata=None))}


@bp.get("/messages/<int:thread_id>")
@client_required
@feature_required("messages")
def thread(thread_id: int):
    """One of the client's threads, read (staff viewing the portal leave it unread for the client)."""
    found = thread_or_404(thread_id)
    if not read_only():
        messages.mark_read(found, viewer())
    return render_page("portal/thread.html", THREAD, **_thread_context(found))


@bp.post("/messages/<int:thread_id>")
@client_required
@feature_required("messages")
def reply_thread(thread_id: int):
    found = thread_or_404(thread_id)
    form = ReplyForm()
    return submit(form, lambda: messages.reply(found, current_user, form.body.data, form.attachment.data,
                                                       form.form_key.data),
                  lambda _message: done(_("Sent."), url_for("portal.thread", thread_id=found.id), THREAD,
                                        **_thread_context(found)),
                  lambda status: render_page("portal/thread.html", THREAD, status=status,
                                             **_thread_context(found, form)))


@bp.get("/messages/files/<int:attachment_id>")
@client_required
@feature_required("messages")
def message_file(attachment_id: int):
    message = attachment_or_404(attachment_id)
    return send_upload(messages.attachment_path(message), message.attachment_type,
                       message.attachment_name or f"message-{message.id}")


@bp.post("/visits/<int:visit_id>/messages")
@client_required
@feature_required("messages")
def about_visit(visit_id: int):
    """A message in the visit's own thread (its sitter and the office read it), from the visit's panel."""
    visit = visit_or_404(visit_id)
    form = visit_form(visit.id)
    return submit(form, lambda: messages.write_about_visit(visit, current_user, form.body.data, form.attachment.data,
                                                                   form.form_key.data),
                  lambda found: done(_("Sent to your sitter and the office."),
                                     url_for("portal.thread", thread_id=found.id), THREAD, **_thread_context(found)),
                  lambda status: render_page("portal/visit_message.html", "portal/_visit_message.html", status=status,
                                             **portal_context(my_client()), visit=visit, message_form=prepared(form)))
