"""A volunteer's service hours over HTTP: certified and pending hours, points and stars, and the certificate
(a printable HTML page, or CSV)."""
from __future__ import annotations

import base64
import hashlib

from flask import Response
from sqlalchemy import func, select

from mobilize.models import ServiceRecord, Volunteer
from mobilize.models._types import utcnow
from mobilize.peacetime import certificate, service
from mobilize.web import db
from mobilize.web.api import api
from mobilize.web.api.auth import check_street, token_auth
from mobilize.web.api.roster.context import roster_config
from mobilize.web.api.roster_schemas import HoursOut
from mobilize.web.errors import ApiError


def _inline_handler_hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


# The certificate is a document of its own, printed from the browser: its inline style block, and its print
# button's handler alone among scripts (by hash), may run; it loads nothing and sits in no frame.
CERTIFICATE_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; "
                      f"script-src 'unsafe-hashes' {_inline_handler_hash('window.print()')}; "
                      "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")


def _volunteer(volunteer_id: int) -> Volunteer:
    volunteer = db().get(Volunteer, volunteer_id)
    if volunteer is None:
        raise ApiError(404, f"no volunteer {volunteer_id}")
    check_street(volunteer.street_id)
    return volunteer


@api.get("/volunteers/<int:volunteer_id>/hours")
@api.auth_required(token_auth)
@api.output(HoursOut)
@api.doc(responses={403: "The volunteer lives in another street than the officer's."})
def volunteer_hours(volunteer_id: int):
    """Certified hours, points and stars (thresholds and the points rate are configuration)."""
    volunteer, cfg = _volunteer(volunteer_id), roster_config()
    standing = service.standing(db(), volunteer.id, cfg)
    records = db().scalar(select(func.count()).select_from(ServiceRecord).where(
        ServiceRecord.volunteer_id == volunteer.id))
    return {"volunteer_id": volunteer.id, "name": volunteer.name, "certified_hours": standing.hours,
            "pending_hours": service.pending_hours(db(), volunteer.id), "points": standing.points,
            "stars": standing.stars, "next_threshold": standing.next_threshold,
            "hours_to_next": standing.hours_to_next, "thresholds": list(cfg.star_thresholds),
            "points_per_hour": cfg.points_per_hour, "records": records}


@api.get("/volunteers/<int:volunteer_id>/certificate")
@api.auth_required(token_auth)
@api.doc(responses={200: {"description": "A printable HTML certificate of service hours.",
                          "content": {"text/html": {}}},
                     403: "The volunteer lives in another street than the officer's."})
def volunteer_certificate(volunteer_id: int):
    """The certificate of service hours, a printable HTML page."""
    volunteer = _volunteer(volunteer_id)
    page = certificate.to_html(certificate.build(db(), volunteer, roster_config(), utcnow()))
    return Response(page, mimetype="text/html", headers={"Content-Security-Policy": CERTIFICATE_POLICY})


@api.get("/volunteers/<int:volunteer_id>/certificate.csv")
@api.auth_required(token_auth)
@api.doc(responses={200: {"description": "The certified service records as CSV (UTF-8).",
                          "content": {"text/csv": {}}},
                     403: "The volunteer lives in another street than the officer's."})
def volunteer_certificate_csv(volunteer_id: int):
    volunteer = _volunteer(volunteer_id)
    body = certificate.to_csv(certificate.build(db(), volunteer, roster_config(), utcnow()))
    return Response("\ufeff" + body, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="service-hours-{volunteer.id}.csv"'})
