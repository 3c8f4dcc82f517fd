"""Import clients and pets from a spreadsheet (owner and manager): upload, preview, confirm."""
from __future__ import annotations

from flask import Blueprint, Response, abort, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from access import manager_required
from forms.errors import show_errors
from forms.imports import KINDS, ConfirmForm, UploadForm
from rendering import done, perform, render_page, submit
from services import imports

bp = Blueprint("imports", __name__, url_prefix="/imports")


@bp.get("/")
@manager_required
def index():
    return render_page("imports/index.html", "imports/_upload.html", form=UploadForm(formdata=None))


@bp.post("/preview")
@manager_required
def preview():
    form = UploadForm()

    def previewed(found):
        token, result = found
        confirm = ConfirmForm(formdata=None, kind=form.kind.data, token=token)
        return render_page("imports/index.html", "imports/_preview.html", result=result, confirm=confirm, form=form)

    return submit(form, lambda: imports.preview_upload(form.kind.data, form.file.data), previewed,
                  lambda status: render_page("imports/index.html", "imports/_upload.html", status=status, form=form))


@bp.post("/confirm")
@manager_required
def confirm():
    form = ConfirmForm()
    if not form.validate_on_submit() or form.kind.data not in dict(KINDS):
        abort(400)
    kind, token = form.kind.data, form.token.data

    def imported(result):
        imports.discard_upload(token)
        skipped = result.error_rows + len(result.duplicates)
        count = len(result.valid)
        imported = (ngettext("Imported %(num)d client", "Imported %(num)d clients", count) if kind == "clients"
                    else ngettext("Imported %(num)d pet", "Imported %(num)d pets", count))
        message = (_("%(imported)s; %(left_out)s", imported=imported,
                     left_out=ngettext("%(num)d row left out.", "%(num)d rows left out.", skipped))
                   if skipped else _("%(imported)s.", imported=imported))
        return done(message, url_for("clients.index") if kind == "clients" else url_for("pets.index"))

    def refused(error):
        upload = UploadForm(formdata=None, kind=kind)
        show_errors(upload, error)
        return render_page("imports/index.html", "imports/_upload.html", status=422, form=upload)

    return perform(lambda: imports.run_import(kind, imports.upload_path(token)), imported, refused)


@bp.get("/template/<kind>.<fmt>")
@manager_required
def template(kind: str, fmt: str):
    if kind not in dict(KINDS) or fmt not in ("csv", "xlsx"):
        abort(404)
    mimetype = "text/csv" if fmt == "csv" else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(imports.template_file(kind, fmt), mimetype=mimetype,
                    headers={"Content-Disposition": f"attachment; filename=pawtal-{kind}-template.{fmt}"})
