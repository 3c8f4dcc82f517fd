"""The staff inbox (/messages): threads with clients, visitors from the Contact page and visits; reading, answering,
giving a thread to a staff member, and writing to a client first. Owners and managers see every thread; a sitter
the threads of her visits and those given to her."""
from __future__ import annotations

from flask import Blueprint, current_app, request, url_for
from flask_login import current_user

from access import attachment_or_404, client_or_404, manager_required, staff_required, thread_or_404, visit_or_404
from filters import gettext as _
from forms.messages import AssignForm, MessageForm, ReplyForm, visit_form
from models import MessageThread
from rendering import done, render_page, send_upload, submit
from services import messages
from services.uploads import human_size

bp = Blueprint("messages", __name__, url_prefix="/messages")
THREAD = "messages/_thread.html"
VISIT_THREAD = "messages/_visit_thread.html"


def prepared(form):
    """A message form as served: its own key (sent twice, it makes one message) and the file field saying how large a
    file may be (PAWTAL_DOCUMENT_MAX_BYTES)."""
    form.form_key.data = form.form_key.data or messages.new_message_key()
    form.attachment.description = _("A photo or a PDF, up to %(size)s. Optional.",
                                    size=human_size(current_app.config["DOCUMENT_MAX_BYTES"]))
    return form


def _thread_context(thread: MessageThread, form: ReplyForm | None = None, assign_form: AssignForm | None = None) -> dict:
    if assign_form is None and current_user.can_manage:
        assign_form = AssignForm(formdata=None, assigned_to=thread.assigned_to_id)
    if assign_form is not None:
        assign_form.assigned_to.choices = [(None, _("Nobody yet"))] + [(s.id, s.name) for s in messages.assignable()]
    return {"thread": thread, "form": prepared(form or ReplyForm(formdata=None)), "assign_form": assign_form,
            "known": messages.known_client(thread) if thread.client_id is None else None}


@bp.get("/")
@staff_required()
def index():
    """The inbox, newest first: all, unread, mine, unassigned or visits, with a search."""
    show = request.args.get("show", "all")
    show = show if show in messages.SHOWS else "all"
    q = request.args.get("q", "")[:100]
    page = max(1, request.args.get("page", 1, type=int) or 1)
    rows, more = messages.inbox(current_user, show, q, page)
    return render_page("messages/index.html", "messages/_list.html", rows=rows, show=show, q=q, page=page, more=more)


@bp.get("/<int:thread_id>")
@staff_required()
def show(thread_id: int):
    """A thread, read: it stops counting as unread for this staff member."""
    thread = thread_or_404(thread_id)
    messages.mark_read(thread, current_user)
    return render_page("messages/show.html", THREAD, **_thread_context(thread))


@bp.post("/<int:thread_id>")
@staff_required()
def reply(thread_id: int):
    thread = thread_or_404(thread_id)
    form = ReplyForm()
    location = url_for("messages.show", thread_id=thread.id)
    return submit(form, lambda: messages.reply(thread, current_user, form.body.data, form.attachment.data,
                                                       form.form_key.data),
                  lambda _message: done(_("Message sent."), location, THREAD, **_thread_context(thread)),
                  lambda status: render_page("messages/show.html", THREAD, status=status,
                                             **_thread_context(thread, form)),
                  aliases={"attachment": "attachment"})


@bp.post("/<int:thread_id>/assign")
@manager_required
def assign(thread_id: int):
    thread = thread_or_404(thread_id)
    form = AssignForm()
    location = url_for("messages.show", thread_id=thread.id)
    return submit(form, lambda: messages.assign(thread, form.assigned_to.data, current_user),
                  lambda _none: done(_("Saved: %(name)s answers this thread.", name=thread.assigned_to.name)
                                     if thread.assigned_to else _("Saved: nobody answers this thread yet."),
                                     location, THREAD, **_thread_context(thread)),
                  lambda status: render_page("messages/show.html", THREAD, status=status,
                                             **_thread_context(thread, assign_form=form)))


@bp.route("/new/<int:client_id>", methods=["GET", "POST"])
@manager_required
def new(client_id: int):
    """Write to a client first: they are emailed, and read and answer it in their portal."""
    client = client_or_404(client_id)
    form = prepared(MessageForm())
    return submit(form, lambda: messages.start_with_client(client, current_user, form.subject.data, form.body.data,
                                                           form.attachment.data, form.form_key.data),
                  lambda thread: done(_("Message sent to %(name)s.", name=client.name),
                                      url_for("messages.show", thread_id=thread.id)),
                  lambda status: render_page("messages/new.html", "messages/_new.html", status=status, form=form,
                                             client=client))


@bp.get("/files/<int:attachment_id>")
@staff_required()
def attachment(attachment_id: int):
    """A message's file, for staff who may read its thread."""
    message = attachment_or_404(attachment_id)
    return send_upload(messages.attachment_path(message), message.attachment_type,
                       message.attachment_name or f"message-{message.id}")


@bp.get("/visits/<int:visit_id>")
@staff_required()
def visit_thread(visit_id: int):
    """A visit's thread: a page of its own, or (htmx) the body a closed thread on a day of cards fetches when opened."""
    visit = visit_or_404(visit_id)
    return render_page("messages/visit_thread.html", "messages/_visit_thread_body.html", **visit_thread_context(visit))


@bp.post("/visits/<int:visit_id>")
@staff_required()
def about_visit(visit_id: int):
    """A message in a visit's thread, from its card (the sitter's day, the visit's page)."""
    visit = visit_or_404(visit_id)
    form = visit_form(visit.id)
    return submit(form, lambda: messages.write_about_visit(visit, current_user, form.body.data, form.attachment.data,
                                                                   form.form_key.data),
                  lambda _thread: done(_("Message sent."), url_for("visits.show", visit_id=visit.id),
                                       VISIT_THREAD, **visit_thread_context(visit)),
                  lambda status: render_page("messages/visit_thread.html", VISIT_THREAD, status=status,
                                             **visit_thread_context(visit, form=prepared(form))))


def visit_thread_context(visit, thread=False, form=None, lazy=False) -> dict:
    """What a visit's thread shows on its card (`thread` when the page loaded it already, None for none).

    `lazy` (a day of cards): a thread with no messages gets no form until it is opened; building and rendering a
    form per card was a third of the sitter's day."""
    thread = messages.visit_thread(visit) if thread is False else thread
    if lazy and not (thread and thread.messages) and form is None:
        return {"visit": visit, "thread": thread, "form": _NO_FORM, "lazy": True}
    return {"visit": visit, "thread": thread, "form": form or prepared(visit_form(visit.id, formdata=None))}


class _NoForm:
    """Stands for the form a lazy thread does not build: it has no errors to show."""

    errors: dict = {}


_NO_FORM = _NoForm()

