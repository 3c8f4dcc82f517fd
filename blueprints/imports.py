"""Import clients and pets from a spreadsheet (owner and manager): upload, map the columns, preview, confirm.

The uploaded file is kept privately under the instance folder, named by a random token, until it is
imported or abandoned; every step reads it again, so nothing of it lives in the session.
"""
from __future__ import annotations

from flask import Blueprint, Response, abort, redirect, request, url_for
from wtforms.fields.choices import SelectChoice

from access import manager_required
from filters import ngettext
from filters import gettext as _
from forms.errors import show_errors
from forms.imports import UploadForm, mapping_form
from rendering import done, render_page, submit
from services import imports
from services.errors import DomainError

bp = Blueprint("imports", __name__, url_prefix="/imports")


@bp.get("/")
@manager_required
def index():
    return render_page("imports/index.html", "imports/_upload.html", form=UploadForm(formdata=None))


@bp.post("/")
@manager_required
def upload():
    """Keep the file, check it can be read, and go on to its mapping."""
    form = UploadForm()

    def saved(token: str):
        location = url_for("imports.mapping", token=token)
        if request.headers.get("HX-Request"):
            return _work(token, None, None, push_url=location)
        return redirect(location, 303)

    def check_and_save() -> str:
        token = imports.save_upload(form.file.data)
        try:
            imports.read_table(imports.upload_path(token))
        except DomainError:
            imports.discard_upload(token)
            raise
        return token

    return submit(form, check_and_save, saved,
                  lambda status: render_page("imports/index.html", "imports/_upload.html", status=status, form=form))


@bp.get("/<token>")
@manager_required
def mapping(token: str):
    """The file's columns, each with a few values and the field it goes to (guessed), and the preview."""
    return _work(token, request.args.get("sheet"), None)


@bp.post("/<token>/preview")
@manager_required
def preview(token: str):
    """The preview again for a changed mapping (htmx on every change; the button without JavaScript)."""
    return _work(token, request.form.get("sheet"), request.form)


@bp.post("/<token>/confirm")
@manager_required
def confirm(token: str):
    table = _table_or_expired(token, request.form.get("sheet"))
    if isinstance(table, Response):
        return table
    form = _form(table, request.form)
    mapping = [f.data for f in form.column_fields()]

    def imported(result: imports.Preview):
        imports.discard_upload(token)
        updating = form.on_match.data == imports.UPDATE_MATCHES
        parts = []
        if not result.pets_only:
            parts.append(ngettext("%(num)d new client", "%(num)d new clients", len(result.new_clients)))
            if updating and result.matched_clients:
                parts.append(ngettext("%(num)d client updated", "%(num)d clients updated", len(result.matched_clients)))
        parts.append(ngettext("%(num)d pet", "%(num)d pets", result.pets_to_write(form.on_match.data)))
        message = [_("Imported: %(what)s.", what=", ".join(parts))]
        if result.matched_clients and not updating and not result.pets_only:
            message.append(ngettext("%(num)d client already on file was left as it was.",
                                    "%(num)d clients already on file were left as they were.",
                                    len(result.matched_clients)))
        if result.error_rows:
            message.append(ngettext("%(num)d row with errors was left out.", "%(num)d rows with errors were left out.",
                                    result.error_rows))
        return done(" ".join(message), url_for("pets.index" if result.pets_only else "clients.index"))

    def again(status: int):
        for i, problem in imports.check_mapping(table.headers, mapping).items():
            show_errors(form, DomainError(problem, f"col_{i}" if i >= 0 else None))
        return _render(token, table, form, status)

    def run():
        problems = imports.check_mapping(table.headers, mapping)
        if problems:
            raise DomainError(_("Fix where the columns go first."), None)
        return imports.run_import(table, mapping, form.on_match.data)

    return submit(form, run, imported, again)


@bp.get("/template.<fmt>")
@manager_required
def template(fmt: str):
    if fmt not in ("csv", "xlsx"):
        abort(404)
    mimetype = "text/csv" if fmt == "csv" else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(imports.template_file(fmt), mimetype=mimetype,
                    headers={"Content-Disposition": f"attachment; filename=pawtal-import-template.{fmt}"})


def _work(token: str, sheet: str | None, formdata, push_url: str | None = None):
    table = _table_or_expired(token, sheet)
    if isinstance(table, Response):
        return table
    form = _form(table, formdata)
    if formdata is not None:
        form.validate()
        mapping = [f.data for f in form.column_fields()]
        for i, problem in imports.check_mapping(table.headers, mapping).items():
            show_errors(form, DomainError(problem, f"col_{i}" if i >= 0 else None))
    return _render(token, table, form, 200, push_url=push_url)


def _table_or_expired(token: str, sheet: str | None):
    """The file as a table, or the upload page again saying why not (gone, or no longer readable)."""
    try:
        return imports.read_table(imports.upload_path(token), sheet)
    except DomainError as error:
        form = UploadForm(formdata=None)
        show_errors(form, error)
        status = 404 if isinstance(error, imports.UploadGone) else 422
        return render_page("imports/index.html", "imports/_upload.html", status=status, form=form)


def _form(table: imports.Table, formdata):
    guesses = imports.guess_mapping(table.headers, imports.remembered_mapping())
    form = mapping_form(table.headers, _choices(), guesses, formdata=formdata, sheet=table.sheet)
    form.sheet.data = table.sheet
    return form


def _choices() -> list[SelectChoice]:
    keep, client, pet = _("Not a Pawtal field"), _("Client"), _("Pet")
    return [SelectChoice(imports.SKIP, _("Don't import"), optgroup=keep),
            SelectChoice(imports.NOTE, _("Keep as a note on the profile"), optgroup=keep),
            *(SelectChoice(f.key, str(f.label), optgroup=pet if f.pet else client) for f in imports.FIELDS)]


def _render(token: str, table: imports.Table, form, status: int, push_url: str | None = None):
    mapping = [f.data if f.data is not None else imports.SKIP for f in form.column_fields()]
    problems = imports.check_mapping(table.headers, mapping)
    result = imports.preview(table, mapping) if not problems else None
    columns = result.columns if result else imports.columns_of(table, mapping)
    return render_page("imports/map.html", "imports/_work.html", status=status, push_url=push_url, token=token,
                       table=table, form=form, result=result, columns=columns,
                       on_match=form.on_match.data or imports.SKIP_MATCHES)
