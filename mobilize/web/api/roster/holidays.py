"""Roster holidays over HTTP: a local date without shifts for a post, a street or (commanders) the district,
and the holidays to come."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, or_, select

from mobilize.models import Post, RosterHoliday, Site
from mobilize.models._types import utcnow
from mobilize.peacetime import posts
from mobilize.web import db
from mobilize.web.api import api
from mobilize.web.api.auth import check_street, current, token_auth
from mobilize.web.api.registry import _street_id
from mobilize.web.api.roster.access import checked_post, require_writer
from mobilize.web.api.roster.context import actor, commit, roster_config
from mobilize.web.api.roster_schemas import HolidayIn, HolidayList, HolidayOut
from mobilize.web.errors import ApiError


@api.post("/holidays")
@api.auth_required(token_auth)
@api.input(HolidayIn)
@api.output(HolidayOut, status_code=201)
@api.doc(responses={403: "Viewers may not; officers only for their street or its posts.",
                     404: "No such post."})
def add_holiday(json_data):
    """No shifts that local date (a post, a street, or the district: commanders): those generated are cancelled."""
    require_writer()
    street_id = None
    if json_data["post_id"] is not None:
        street_id_of_post = checked_post(json_data["post_id"]).site.street_id
        check_street(street_id_of_post)
    elif json_data["street"]:
        street_id = _street_id(json_data["street"])
    elif current().is_officer:
        raise ApiError(403, "officers enter holidays for their street or its posts", code="other_street")
    holiday, cancelled = posts.add_holiday(db(), on_date=json_data["date"], reason=json_data["reason"],
                                           street_id=street_id, post_id=json_data["post_id"], actor=actor(),
                                           now=utcnow(), cfg=roster_config())
    commit()
    return {"id": holiday.id, "date": holiday.on_date, "street_id": holiday.street_id, "post_id": holiday.post_id,
            "reason": holiday.reason, "created_by": holiday.created_by, "cancelled_shifts": len(cancelled)}


@api.get("/holidays")
@api.auth_required(token_auth)
@api.output(HolidayList)
def list_holidays():
    """Holidays from today on (a street officer: the district's, their street's and their street's posts')."""
    today = utcnow().astimezone(ZoneInfo(roster_config().zone)).date()
    statement = select(RosterHoliday).where(RosterHoliday.on_date >= today).order_by(RosterHoliday.on_date)
    if current().is_officer:
        statement = statement.where(_holidays_touching_street(current().street_id))
    return {"items": [{"id": h.id, "date": h.on_date, "street_id": h.street_id, "post_id": h.post_id,
                       "reason": h.reason, "created_by": h.created_by, "cancelled_shifts": None}
                      for h in db().scalars(statement)]}


def _holidays_touching_street(street_id: int) -> ColumnElement[bool]:
    """The holidays that cancel shifts in the street: district-wide ones (neither street nor post), the
    street's own, and those of one of its posts. Another street's holiday, and its reason, stay its own."""
    district_wide = and_(RosterHoliday.street_id.is_(None), RosterHoliday.post_id.is_(None))
    post_in_street = RosterHoliday.post_id.in_(select(Post.id).join(Site, Site.id == Post.site_id)
                                               .where(Site.street_id == street_id))
    return or_(district_wide, RosterHoliday.street_id == street_id, post_in_street)
