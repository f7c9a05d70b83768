"""What a volunteer is busy with at a time: booked peacetime shifts and live wartime assignments.

A volunteer is never booked into two overlapping shifts, nor into a shift overlapping a wartime assignment that
is still live (proposed, notified, confirmed, arrived; its window is the order's). Every booking path locks the
volunteer's row first (`lock_volunteer`: SELECT ... FOR UPDATE on PostgreSQL, the write lock BEGIN IMMEDIATE
already took on SQLite), so two concurrent bookings of one volunteer are checked one after the other.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilize.models import Assignment, Order, OrderState, Shift, ShiftSignup, SignupStatus, Volunteer
from mobilize.peacetime.errors import NotFound, Overlap

BUSY_SIGNUP = (SignupStatus.booked, SignupStatus.checked_in)
LIVE_ASSIGNMENT = ("proposed", "notified", "confirmed", "arrived")


@dataclass(frozen=True)
class Busy:
    volunteer_id: int
    kind: str  # "shift" or "order"
    id: int  # the sign-up or the assignment
    starts_at: datetime
    ends_at: datetime
    label: str  # the shift code or the order's reply code

    def as_details(self) -> dict:
        return {"kind": self.kind, "id": self.id, "starts_at": self.starts_at.isoformat(),
                "ends_at": self.ends_at.isoformat(), "code": self.label}


def lock_volunteer(session: Session, volunteer_id: int) -> Volunteer:
    volunteer = session.scalar(select(Volunteer).where(Volunteer.id == volunteer_id).with_for_update()
                               .execution_options(populate_existing=True))
    if volunteer is None:
        raise NotFound(f"no volunteer {volunteer_id}", details={"volunteer_id": volunteer_id})
    return volunteer


def busy(session: Session, volunteer_ids: Iterable[int], starts_at: datetime, ends_at: datetime,
         exclude_signups: Iterable[int] = ()) -> list[Busy]:
    """Everything of these volunteers that overlaps [starts_at, ends_at) (touching ends do not overlap)."""
    ids = sorted(set(volunteer_ids))
    if not ids:
        return []
    excluded = list(exclude_signups)
    shifts = select(ShiftSignup.volunteer_id, ShiftSignup.id, Shift.starts_at, Shift.ends_at, Shift.code).join(
        Shift, Shift.id == ShiftSignup.shift_id).where(
        ShiftSignup.volunteer_id.in_(ids), ShiftSignup.status.in_(BUSY_SIGNUP),
        Shift.starts_at < ends_at, Shift.ends_at > starts_at)
    if excluded:
        shifts = shifts.where(ShiftSignup.id.not_in(excluded))
    orders = select(Assignment.volunteer_id, Assignment.id, Order.starts_at, Order.ends_at, Order.reply_code).join(
        Order, Order.id == Assignment.order_id).where(
        Assignment.volunteer_id.in_(ids), Assignment.status.in_(LIVE_ASSIGNMENT),
        Order.state != OrderState.cancelled, Order.starts_at < ends_at, Order.ends_at > starts_at)
    found = [Busy(v, "shift", i, s, e, c) for v, i, s, e, c in session.execute(shifts)]
    found += [Busy(v, "order", i, s, e, c) for v, i, s, e, c in session.execute(orders)]
    return sorted(found, key=lambda b: (b.volunteer_id, b.starts_at))


def busy_volunteers(session: Session, volunteer_ids: Iterable[int], starts_at: datetime,
                    ends_at: datetime) -> set[int]:
    return {item.volunteer_id for item in busy(session, volunteer_ids, starts_at, ends_at)}


def require_free(session: Session, volunteer_id: int, starts_at: datetime, ends_at: datetime,
                 exclude_signups: Iterable[int] = ()) -> None:
    """Overlap (409) naming the first booking or assignment in the way."""
    clash = busy(session, [volunteer_id], starts_at, ends_at, exclude_signups)
    if clash:
        first = clash[0]
        what = f"shift {first.label}" if first.kind == "shift" else f"order #{first.label}"
        raise Overlap(f"volunteer {volunteer_id} is already on {what} at that time",
                      details={"volunteer_id": volunteer_id, "overlaps": [c.as_details() for c in clash]})
