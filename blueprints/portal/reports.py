"""Visit reports in the portal: the list of the client's reports, one report with its photos, and the photos
themselves (only the client's own sent ones; another client's ids answer 404). Behind the visit-reports switch."""
from __future__ import annotations

from flask import request, url_for

from access import client_required, feature_required, my_client, or_404, viewer
from blueprints.portal.base import bp, portal_context
from blueprints.visits import send_visit_photo
from models import ReportPhoto
from rendering import render_page
from services import reports


def client_photo_url(photo: ReportPhoto, thumb: int = 0) -> str:
    return url_for("portal.report_photo", report_photo_id=photo.id, thumb=thumb or None)


REPORT_HELPERS = {"photos_of": reports.sent_photos, "photo_url": client_photo_url}


@bp.get("/reports")
@client_required
@feature_required("reports")
def reports_index():
    client = my_client()
    return render_page("portal/reports.html", "portal/_reports.html", **portal_context(client),
                       shown=reports.client_reports(client.id), **REPORT_HELPERS)


@bp.get("/reports/<int:visit_id>")
@client_required
@feature_required("reports")
def show_report(visit_id: int):
    client = my_client()
    visit = or_404(next(iter(reports.client_reports(client.id, visit_id=visit_id)), None))
    return render_page("portal/report.html", "portal/_report.html", **portal_context(client), visit=visit,
                       **REPORT_HELPERS)


@bp.get("/reports/photos/<int:report_photo_id>")
@client_required
@feature_required("reports")
def report_photo(report_photo_id: int):
    """A photo of one of the client's own sent reports (?thumb=1 for its thumbnail)."""
    return send_visit_photo(or_404(reports.load_photo(report_photo_id, viewer())),
                            request.args.get("thumb") == "1")
