"""Shifts over HTTP: list them by street and local date, read one with its sign-ups and waitlist, change its
places, cancel it."""
from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from mobilize.domain.recurrence import day_bounds
from mobilize.models import Post, Shift, ShiftSignup, ShiftStatus, SignupStatus, Site
from mobilize.models._types import utcnow
from mobilize.peacetime import posts
from mobilize.web import db
from mobilize.web.api import api
from mobilize.web.api.auth import token_auth
from mobilize.web.api.pagination import paginate
from mobilize.web.api.roster.access import by_street, checked_shift, require_writer
from mobilize.web.api.roster.context import actor, commit, roster_config
from mobilize.web.api.roster.views import shift_view, signup_view
from mobilize.web.api.roster_schemas import ShiftCancelIn, ShiftDetail, ShiftFilter, ShiftPage, ShiftPatch


def _waitlisted(shift_ids: list[int]) -> dict[int, int]:
    if not shift_ids:
        return {}
    return dict(db().execute(select(ShiftSignup.shift_id, func.count()).where(
        ShiftSignup.shift_id.in_(shift_ids), ShiftSignup.status == SignupStatus.waitlisted)
        .group_by(ShiftSignup.shift_id)).all())


@api.get("/shifts")
@api.auth_required(token_auth)
@api.input(ShiftFilter, location="query")
@api.output(ShiftPage)
@api.doc(responses={403: "An officer asked about another street."})
def list_shifts(query_data):
    """Shifts by street and local date range (default: today), in start order."""
    cfg = roster_config()
    first = query_data["date"] or (utcnow().astimezone(ZoneInfo(cfg.zone)).date())
    start = day_bounds(first, cfg.zone)[0]
    end = day_bounds(first + timedelta(days=query_data["days"] - 1), cfg.zone)[1]
    statement = (select(Shift).join(Post).join(Site).where(Shift.starts_at >= start, Shift.starts_at < end)
                 .options(selectinload(Shift.post).selectinload(Post.site).selectinload(Site.street),
                          selectinload(Shift.post).selectinload(Post.role))
                 .order_by(Shift.starts_at, Shift.id))
    statement = by_street(statement, Site.street_id, query_data["street"])
    if query_data["post_id"] is not None:
        statement = statement.where(Shift.post_id == query_data["post_id"])
    if query_data["status"]:
        statement = statement.where(Shift.status == query_data["status"])
    if query_data["open_only"]:
        statement = statement.where(Shift.filled < Shift.capacity, Shift.status == ShiftStatus.scheduled)
    items, pagination = paginate(db(), statement, query_data["page"], query_data["per_page"])
    waiting = _waitlisted([s.id for s in items])
    return {"items": [shift_view(s, waiting.get(s.id, 0)) for s in items], "pagination": pagination}


def _shift_detail(shift_id: int) -> dict:
    shift = checked_shift(shift_id)
    signups = db().scalars(select(ShiftSignup).where(ShiftSignup.shift_id == shift_id)
                           .options(selectinload(ShiftSignup.volunteer), selectinload(ShiftSignup.shift))
                           .order_by(ShiftSignup.id)).all()
    waiting = [s for s in signups if s.status is SignupStatus.waitlisted]
    views = [signup_view(s, position=waiting.index(s) + 1 if s in waiting else None) for s in signups]
    return {**shift_view(shift, len(waiting)), "signups": views}


@api.get("/shifts/<int:shift_id>")
@api.auth_required(token_auth)
@api.output(ShiftDetail)
@api.doc(responses={403: "The shift is in another street than the officer's."})
def get_shift(shift_id: int):
    """A shift with its sign-ups and waitlist."""
    return _shift_detail(shift_id)


@api.patch("/shifts/<int:shift_id>")
@api.auth_required(token_auth)
@api.input(ShiftPatch)
@api.output(ShiftDetail)
@api.doc(responses={403: "Viewers may not; officers only in their street.",
                     409: "The shift is not open, has started, or has more places taken."})
def update_shift(shift_id: int, json_data):
    """Change a shift's places (never below those taken; new places go to the waitlist first)."""
    require_writer()
    checked_shift(shift_id)
    posts.set_capacity(db(), shift_id, json_data["capacity"], actor=actor(), now=utcnow(),
                       cfg=roster_config())
    commit()
    return _shift_detail(shift_id)


@api.post("/shifts/<int:shift_id>/cancel")
@api.auth_required(token_auth)
@api.input(ShiftCancelIn)
@api.output(ShiftDetail)
@api.doc(responses={403: "Viewers may not; officers only in their street.",
                     409: "The shift is not open or has started."})
def cancel_shift(shift_id: int, json_data):
    """Cancel one shift (an exception): its volunteers are told by SMS."""
    require_writer()
    checked_shift(shift_id)
    posts.cancel_shift(db(), shift_id, reason=json_data["reason"], actor=actor(), now=utcnow(),
                       cfg=roster_config())
    commit()
    return _shift_detail(shift_id)
