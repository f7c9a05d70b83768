"""Everything that waits on time, driven by a periodic sweep that reads the database only (the truth).

Per running order, every ~10 s: unconfirmed dispatches past `confirm_by` are released (confirm_timeout SMS; the
place goes to standby, nearest first, then to a new wave) unless an answer stored before `confirm_by` and not
processed yet says otherwise (`on_time`), the open/filled state is reconciled, and matching and
waves are requested when the database says they are needed. So a lost job, a dead worker or a flushed Redis only
delays things by one sweep.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mobilize.domain.order_states import RUNNING_STATES
from mobilize.models import Assignment, AssignmentStatus, Invitation, InvitationStatus, Order
from mobilize.wartime import audit, followups, on_time
from mobilize.wartime.dispatch import standby_filter
from mobilize.wartime.messages import send
from mobilize.wartime.places import end_assignment, lock_order, refresh_fill_state
from mobilize.wartime.waves import assess

if TYPE_CHECKING:
    from config import Settings

TIMEOUT_REASON = "confirm_timeout"
UNCONFIRMED = (AssignmentStatus.proposed, AssignmentStatus.notified)


@dataclass(frozen=True)
class SweepResult:
    order_id: int
    timed_out: int = 0
    match_requested: bool = False
    wave_requested: bool = False


def running_order_ids(session: Session) -> list[int]:
    return list(session.scalars(select(Order.id).where(Order.state.in_(list(RUNNING_STATES))).order_by(Order.id)))


def sweep_order(session: Session, order_id: int, now: datetime, settings: "Settings | None" = None
                ) -> SweepResult:
    """`settings` (the replies' hotline and time zone) let the sweep answer replies stored before a deadline
    itself; without them such a dispatch waits for the inbound job (see `on_time`)."""
    order = lock_order(session, order_id)
    if order.state not in RUNNING_STATES:
        return SweepResult(order_id)
    timed_out = expire_confirmations(session, order, now, settings)
    refresh_fill_state(session, order, now)
    if settings is not None:
        need = assess(session, order, now, settings.sms_segments_per_second, settings.timezone)
    else:
        need = assess(session, order, now)
    untold = session.scalar(select(func.count()).select_from(Invitation).where(
        standby_filter(order.id), Invitation.standby_notified_at.is_(None)))
    match = need.placeable > 0 or untold > 0
    wave = need.due and need.size > 0
    if match:
        followups.request_match(session, order.id)
    if wave:
        followups.request_wave(session, order.id)
    return SweepResult(order_id, timed_out, match, wave)


def expire_confirmations(session: Session, order: Order, now: datetime, settings: "Settings | None" = None
                         ) -> int:
    """Release dispatches nobody confirmed in time (the caller holds the order lock). The volunteer may still say
    yes: their invitation awaits an answer again and a "Y" puts them back on standby. An answer stored before
    the deadline but not processed yet counts as in time: it is applied first (`on_time`)."""
    expired = session.scalars(select(Assignment).where(
        Assignment.order_id == order.id, Assignment.status.in_(list(UNCONFIRMED)),
        Assignment.confirm_by.is_not(None), Assignment.confirm_by < now).order_by(Assignment.id)).all()
    kept = on_time.answer_stored_replies(session, order, list(expired), now, settings)
    released = 0
    for assignment in expired:
        if assignment.id in kept:
            continue  # its answer, stored in time, is being processed by the inbound job
        if not end_assignment(session, assignment, AssignmentStatus.released, TIMEOUT_REASON, now,
                              from_statuses=UNCONFIRMED):
            continue  # confirmed a moment ago, or just now by its stored answer (or dropped out)
        released += 1
        invitation = session.scalar(select(Invitation).where(Invitation.order_id == order.id,
                                                             Invitation.volunteer_id == assignment.volunteer_id))
        if invitation is not None and invitation.status is InvitationStatus.accepted:
            invitation.status, invitation.answered_at, invitation.standby_notified_at = (
                InvitationStatus.invited, None, None)
        send(session, assignment.volunteer, "confirm_timeout", dedupe_key=f"timeout:assignment:{assignment.id}",
             code=order.reply_code, site=assignment.demand.site.name)
        audit.record(session, audit.SYSTEM, "assignment.timed_out", "assignment", assignment.id, now,
                     order_id=order.id, demand_id=assignment.demand_id)
    if released:
        followups.request_match(session, order.id)
    return released
