"""Import clients and pets from a spreadsheet (owner and manager): upload, preview, confirm."""
from __future__ import annotations

from flask import Blueprint, Response, abort, url_for
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField, SelectField
from wtforms.validators import InputRequired

from access import manager_required
from blueprints.forms import show_errors
from rendering import done, render_page
from services import imports
from services.errors import DomainError

bp = Blueprint("imports", __name__, url_prefix="/imports")
KINDS = [("clients", "Clients"), ("pets", "Pets (matched to clients by email)")]


class UploadForm(FlaskForm):
    kind = SelectField("What the file holds", choices=KINDS)
    file = FileField("Spreadsheet (.csv or .xlsx)", validators=[InputRequired(message="Choose a file.")])


class ConfirmForm(FlaskForm):
    kind = HiddenField()
    token = HiddenField()


@bp.get("/")
@manager_required
def index():
    return render_page("imports/index.html", "imports/_upload.html", form=UploadForm(formdata=None))


@bp.post("/preview")
@manager_required
def preview():
    form = UploadForm()
    if form.validate_on_submit():
        token = None
        try:
            token = imports.save_upload(form.file.data)
            result = imports.preview(form.kind.data, imports.upload_path(token))
        except DomainError as error:
            if token:
                imports.discard_upload(token)
            show_errors(form, error)
        else:
            confirm = ConfirmForm(formdata=None, kind=form.kind.data, token=token)
            return render_page("imports/index.html", "imports/_preview.html", result=result, confirm=confirm,
                               form=form)
    return render_page("imports/index.html", "imports/_upload.html", status=422, form=form)


@bp.post("/confirm")
@manager_required
def confirm():
    form = ConfirmForm()
    if not form.validate_on_submit() or form.kind.data not in dict(KINDS):
        abort(400)
    upload = UploadForm(formdata=None, kind=form.kind.data)
    try:
        result = imports.run_import(form.kind.data, imports.upload_path(form.token.data))
    except DomainError as error:
        show_errors(upload, error)
        return render_page("imports/index.html", "imports/_upload.html", status=422, form=upload)
    imports.discard_upload(form.token.data)
    skipped = result.error_rows + len(result.duplicates)
    message = f"Imported {len(result.valid)} {form.kind.data}" + (f"; {skipped} rows left out." if skipped else ".")
    target = url_for("clients.index") if form.kind.data == "clients" else url_for("pets.index")
    return done(message, target)


@bp.get("/template/<kind>.<fmt>")
@manager_required
def template(kind: str, fmt: str):
    if kind not in dict(KINDS) or fmt not in ("csv", "xlsx"):
        abort(404)
    mimetype = "text/csv" if fmt == "csv" else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(imports.template_file(kind, fmt), mimetype=mimetype,
                    headers={"Content-Disposition": f"attachment; filename=pawtal-{kind}-template.{fmt}"})
