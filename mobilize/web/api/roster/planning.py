"""The roster as a whole over HTTP: live gaps per street, the stored daily gap reports, and a run of the shift
generator on demand."""
from __future__ import annotations

from sqlalchemy import select

from mobilize.models import GapReport
from mobilize.models._types import utcnow
from mobilize.peacetime import gaps, generation
from mobilize.web import db
from mobilize.web.api import api
from mobilize.web.api.auth import current, require_command, token_auth
from mobilize.web.api.pagination import PageQuery, paginate
from mobilize.web.api.registry import _street_id
from mobilize.web.api.roster.context import commit, roster_config
from mobilize.web.api.roster_schemas import GapOut, GapQuery, GapReportPage, GenerateOut


@api.get("/roster/gaps")
@api.auth_required(token_auth)
@api.input(GapQuery, location="query")
@api.output(GapOut)
@api.doc(responses={403: "An officer asked about another street."})
def roster_gaps(query_data):
    """Unfilled shifts per street, live (default: from now to the end of tomorrow)."""
    street_id = _street_id(query_data["street"])
    return gaps.report(db(), utcnow(), roster_config(), first_day=query_data["date"], days=query_data["days"],
                       street_id=street_id)


@api.get("/roster/gap-reports")
@api.auth_required(token_auth)
@api.input(PageQuery, location="query")
@api.output(GapReportPage)
def roster_gap_reports(query_data):
    """The stored daily reports, newest first (officers see their street's part)."""
    statement = select(GapReport).order_by(GapReport.report_date.desc())
    items, pagination = paginate(db(), statement, query_data["page"], query_data["per_page"])
    return {"items": [_gap_report_view(report) for report in items], "pagination": pagination}


def _gap_report_view(report: GapReport) -> dict:
    """A stored report as the caller may see it: a street officer, their street's part and its totals (the
    backfill invitations too: the district's count would tell how short the other streets are)."""
    principal = current()
    streets = [s for s in report.streets if principal.may_access_street(s["street_id"])]
    invitations = report.invitations
    if principal.is_officer:
        invitations = sum(item.get("invited", 0) for street in streets for item in street.get("items", ()))
    return {"id": report.id, "report_date": report.report_date, "created_at": report.created_at,
            "shifts": sum(s["shifts"] for s in streets),
            "open_places": sum(s["open_places"] for s in streets), "invitations": invitations, "streets": streets}


@api.post("/roster/generate")
@api.auth_required(token_auth)
@api.output(GenerateOut)
@api.doc(responses={403: "Only admins and commanders run the generator."})
def roster_generate():
    """Run the shift generator now (it also runs hourly)."""
    require_command()
    result = generation.generate_shifts(db(), utcnow(), roster_config())
    commit()
    return result.__dict__
