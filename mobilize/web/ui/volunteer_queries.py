"""What a volunteer's page shows (read-only queries, no Flask): standing (certified hours, points, stars),
wartime assignments and peacetime shifts (current and past), and the SMS exchanged with them."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from mobilize.domain.stars import Standing
from mobilize.models import (
    Assignment,
    Demand,
    Shift,
    ShiftSignup,
    Volunteer,
)
from mobilize.models.roster import Post
from mobilize.peacetime import service
from mobilize.peacetime.config import RosterConfig
from mobilize.web.ui.message_log_queries import LogFilters, LogPage, log_page

HISTORY_SIZE = 50
CURRENT_ASSIGNMENT = ("proposed", "notified", "confirmed", "arrived")
CURRENT_SIGNUP = ("waitlisted", "booked", "checked_in")


@dataclass(frozen=True)
class Profile:
    volunteer: Volunteer
    standing: Standing
    pending_hours: float
    current_assignments: list[Assignment]
    past_assignments: list[Assignment]
    current_shifts: list[ShiftSignup]
    past_shifts: list[ShiftSignup]
    messages: LogPage


def profile(session: Session, volunteer: Volunteer, cfg: RosterConfig, now: datetime) -> Profile:
    assignments = list(session.scalars(
        select(Assignment).where(Assignment.volunteer_id == volunteer.id)
        .options(selectinload(Assignment.order), selectinload(Assignment.demand).selectinload(Demand.site),
                 selectinload(Assignment.demand).selectinload(Demand.role))
        .order_by(Assignment.created_at.desc(), Assignment.id.desc()).limit(HISTORY_SIZE * 2)))
    signups = list(session.scalars(
        select(ShiftSignup).join(Shift, Shift.id == ShiftSignup.shift_id)
        .where(ShiftSignup.volunteer_id == volunteer.id)
        .options(selectinload(ShiftSignup.shift).selectinload(Shift.post).selectinload(Post.site))
        .order_by(Shift.starts_at.desc(), ShiftSignup.id.desc()).limit(HISTORY_SIZE * 2)))
    current_shifts = [s for s in signups if s.status.value in CURRENT_SIGNUP and s.shift.ends_at >= now]
    return Profile(
        volunteer=volunteer, standing=service.standing(session, volunteer.id, cfg),
        pending_hours=service.pending_hours(session, volunteer.id),
        current_assignments=[a for a in assignments if a.status.value in CURRENT_ASSIGNMENT],
        past_assignments=[a for a in assignments if a.status.value not in CURRENT_ASSIGNMENT][:HISTORY_SIZE],
        current_shifts=current_shifts[::-1],  # soonest first
        past_shifts=[s for s in signups if s not in current_shifts][:HISTORY_SIZE],
        messages=messages_with(session, volunteer))


def messages_with(session: Session, volunteer: Volunteer, limit: int = HISTORY_SIZE) -> LogPage:
    """The SMS exchanged with the volunteer, newest first (the message log's rows, under the volunteer's filter):
    sent to them, and received from them (by their record, or from their number before it was matched)."""
    return log_page(session, LogFilters(volunteer=volunteer.id), page_size=limit)


def volunteer_with_lists(session: Session, volunteer_id: int) -> Volunteer | None:
    return session.scalar(select(Volunteer).where(Volunteer.id == volunteer_id).options(
        selectinload(Volunteer.street), selectinload(Volunteer.community), selectinload(Volunteer.teams),
        selectinload(Volunteer.skills)))
