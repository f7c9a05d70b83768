"""Service: check-in and check-out (by the officer or by SMS), late and no-show marking, service records for
shifts and for wartime assignments, certification by the officer, and a volunteer's hours, points and stars.

Hours of a shift are the time on site inside the shift's window (`domain.service_time.service_hours`): arriving
early or leaving late does not count extra. A check-out writes a pending service record; the officer certifies
it as it is, or adjusts the hours with a reason; both are audited. Points and stars come from the certified hours
only (`domain.stars`), so a configuration change applies to everyone at once.

Wartime service counts the same way: `record_wartime_service(session, assignment)` writes a certified record for
a completed assignment when its order closes (the order's close certifies); the periodic sweep
(`record_missing_wartime_service`) catches any the close did not write.
"""
from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from mobilize.domain import stars
from mobilize.domain.service_time import service_hours
from mobilize.domain.text_safety import clean_line
from mobilize.models import (
    Assignment,
    AssignmentStatus,
    Demand,
    Order,
    OrderState,
    ServiceKind,
    ServiceRecord,
    ServiceStatus,
    Shift,
    ShiftSignup,
    SignupStatus,
)
from mobilize.models._types import utcnow
from mobilize.peacetime import messages
from mobilize.peacetime.config import RosterConfig
from mobilize.peacetime.errors import Conflict, Invalid, NotFound
from mobilize.peacetime.staffing import end_signup, load_shift, load_signup
from mobilize.wartime.audit import SYSTEM, Actor, record

MAX_ADJUSTED_HOURS = 24.0
ORDER_CLOSE = "order close"


# --- check-in, check-out, late, no-show ----------------------------------------------------------------------


def check_in(session: Session, signup_id: int, *, actor: Actor, now: datetime, cfg: RosterConfig,
             at: datetime | None = None, notify: bool = False) -> ShiftSignup:
    """The volunteer is on site (from `checkin_early_min` before the start until the end). Late past the grace."""
    at = at or now
    signup = load_signup(session, signup_id)
    shift = load_shift(session, signup.shift_id)
    if signup.status is SignupStatus.checked_in:
        return signup
    if signup.status is not SignupStatus.booked:
        raise Conflict(f"sign-up {signup_id} is {signup.status.value}", code="not_booked",
                       details={"signup_id": signup_id, "status": signup.status.value})
    opens = shift.starts_at - timedelta(minutes=cfg.checkin_early_min)
    if not opens <= at <= shift.ends_at or at > now + timedelta(minutes=1):
        raise Conflict(f"check-in for shift {shift.code} is possible from {opens.isoformat()} to its end",
                       code="outside_check_in_window",
                       details={"opens": opens.isoformat(), "closes": shift.ends_at.isoformat(), "at": at.isoformat()})
    minutes_late = (at - shift.starts_at).total_seconds() / 60
    late = math.ceil(minutes_late) if minutes_late > cfg.late_grace_min else None
    moved = session.execute(update(ShiftSignup).where(ShiftSignup.id == signup_id,
                                                      ShiftSignup.status == SignupStatus.booked)
                            .values(status=SignupStatus.checked_in, checked_in_at=at, late_minutes=late)
                            .execution_options(synchronize_session=False)).rowcount
    session.refresh(signup)
    if not moved:
        raise Conflict(f"sign-up {signup_id} changed meanwhile", code="not_booked")
    record(session, actor, "shift.checked_in", "shift_signup", signup.id, now, shift_id=shift.id,
           at=at.isoformat(), late_minutes=late)
    if notify:
        volunteer = signup.volunteer
        messages.send_now(session, volunteer, "shift_checkin_ack",
                          dedupe_key=messages.signup_key(signup.id, "checked_in"),
                          **messages.shift_values(shift, volunteer.language, cfg.zone))
    return signup


def check_out(session: Session, signup_id: int, *, actor: Actor, now: datetime, cfg: RosterConfig,
              at: datetime | None = None, notify: bool = False) -> ServiceRecord:
    """The volunteer leaves: the sign-up is completed and a pending service record written (hours on site
    within the shift's window)."""
    at = at or now
    signup = load_signup(session, signup_id)
    shift = load_shift(session, signup.shift_id)
    if signup.status is SignupStatus.completed:
        existing = session.scalar(select(ServiceRecord).where(ServiceRecord.signup_id == signup_id))
        if existing is not None:
            return existing
    if signup.status is not SignupStatus.checked_in:
        raise Conflict(f"sign-up {signup_id} is {signup.status.value}: check in first", code="not_checked_in",
                       details={"signup_id": signup_id, "status": signup.status.value})
    if at < signup.checked_in_at or at > now + timedelta(minutes=1):
        raise Invalid("check-out time must be after the check-in and not in the future",
                      details={"at": at.isoformat(), "checked_in_at": signup.checked_in_at.isoformat()})
    moved = session.execute(update(ShiftSignup).where(ShiftSignup.id == signup_id,
                                                      ShiftSignup.status == SignupStatus.checked_in)
                            .values(status=SignupStatus.completed, checked_out_at=at)
                            .execution_options(synchronize_session=False)).rowcount
    session.refresh(signup)
    if not moved:
        raise Conflict(f"sign-up {signup_id} changed meanwhile", code="not_checked_in")
    hours = service_hours(signup.checked_in_at, at, shift.starts_at, shift.ends_at)
    post, site = shift.post, shift.post.site
    service = ServiceRecord(volunteer_id=signup.volunteer_id, kind=ServiceKind.shift, signup_id=signup.id,
                            street_id=site.street_id, site_id=site.id, description=post.name[:120],
                            role=post.role.name_zh, started_at=max(signup.checked_in_at, shift.starts_at),
                            ended_at=min(at, shift.ends_at), hours=hours, status=ServiceStatus.pending,
                            created_at=now)
    session.add(service)
    session.flush()
    record(session, actor, "shift.checked_out", "shift_signup", signup.id, now, shift_id=shift.id,
           at=at.isoformat(), hours=hours, service_record_id=service.id)
    if notify:
        volunteer = signup.volunteer
        messages.send_now(session, volunteer, "shift_checkout_ack",
                          dedupe_key=messages.signup_key(signup.id, "checked_out"), hours=hours,
                          **messages.shift_values(shift, volunteer.language, cfg.zone))
    return service


def mark_late(session: Session, signup_id: int, minutes: int, *, actor: Actor, now: datetime) -> ShiftSignup:
    if not 0 <= minutes <= 24 * 60:
        raise Invalid("minutes late must be between 0 and 1440", details={"minutes": minutes})
    signup = load_signup(session, signup_id)
    if signup.status not in (SignupStatus.checked_in, SignupStatus.completed):
        raise Conflict(f"sign-up {signup_id} is {signup.status.value}: only someone who came can be late",
                       code="not_checked_in", details={"status": signup.status.value})
    before = signup.late_minutes
    signup.late_minutes = minutes or None
    session.flush()
    record(session, actor, "shift.marked_late", "shift_signup", signup.id, now, before=before, after=minutes)
    return signup


def mark_no_show(session: Session, signup_id: int, *, actor: Actor, now: datetime) -> ShiftSignup:
    """A booked volunteer who did not come, once the shift has started; the place is freed (the gap shows)."""
    signup = load_signup(session, signup_id)
    shift = load_shift(session, signup.shift_id)
    if shift.starts_at > now:
        raise Conflict(f"shift {shift.code} has not started: cancel the sign-up instead", code="shift_not_started")
    if not end_signup(session, signup, SignupStatus.no_show, "no_show", now, (SignupStatus.booked,)):
        raise Conflict(f"sign-up {signup_id} is {signup.status.value}: only a booked volunteer can be a no-show",
                       code="not_booked", details={"status": signup.status.value})
    record(session, actor, "shift.no_show", "shift_signup", signup.id, now, shift_id=shift.id,
           volunteer_id=signup.volunteer_id)
    return signup


def auto_check_out(session: Session, now: datetime, cfg: RosterConfig) -> int:
    """Volunteers still checked in `checkout_grace_h` after their shift ended are checked out at its end (a
    pending record the officer sees and certifies)."""
    cutoff = now - timedelta(hours=cfg.checkout_grace_h)
    ids = list(session.scalars(select(ShiftSignup.id).join(Shift).where(
        ShiftSignup.status == SignupStatus.checked_in, Shift.ends_at < cutoff).limit(500)))
    for signup_id in ids:
        signup = load_signup(session, signup_id)
        check_out(session, signup_id, actor=SYSTEM, now=now, cfg=cfg,
                  at=max(signup.shift.ends_at, signup.checked_in_at))
    return len(ids)


# --- certification -----------------------------------------------------------------------------------------


def load_record(session: Session, record_id: int) -> ServiceRecord:
    service = session.scalar(select(ServiceRecord).where(ServiceRecord.id == record_id).with_for_update()
                             .execution_options(populate_existing=True))
    if service is None:
        raise NotFound(f"no service record {record_id}", details={"record_id": record_id})
    return service


def certify(session: Session, record_id: int, *, actor: Actor, now: datetime, hours: float | None = None,
            reason: str | None = None) -> ServiceRecord:
    """Approve the recorded hours, or certify other hours with a reason. A certified record may be adjusted
    again (with a reason). Audited with the hours before and after."""
    service = load_record(session, record_id)
    reason = clean_line(reason or "") or None  # as the record stores it: only hidden characters is no reason
    if hours is not None:
        limit = None if service.kind is ServiceKind.imported else MAX_ADJUSTED_HOURS
        if hours != hours or hours < 0 or (limit is not None and hours > limit):
            raise Invalid(f"certified hours must be between 0 and {MAX_ADJUSTED_HOURS:g}", details={"hours": hours})
        hours = round(float(hours), 2)
    already = service.status is ServiceStatus.certified
    if already and (hours is None or hours == service.certified_hours) and not reason:
        return service  # certifying again as it is: nothing to do
    target = hours if hours is not None else (service.certified_hours if already else service.hours)
    adjusting = target != service.hours or already
    if adjusting and not reason:
        raise Invalid("adjusting hours needs a reason", code="reason_required",
                      details={"recorded_hours": service.hours, "hours": target})
    if reason and len(reason) > 200:
        raise Invalid("the reason may have at most 200 characters")
    before = {"status": service.status.value, "certified_hours": service.certified_hours}
    service.status = ServiceStatus.certified
    service.certified_hours = target
    service.certified_at = now
    service.certified_by = actor.name
    service.certified_by_user_id = actor.user_id
    service.adjustment_reason = reason if adjusting else None
    session.flush()
    record(session, actor, "service.adjusted" if adjusting else "service.certified", "service_record", service.id,
           now, volunteer_id=service.volunteer_id, recorded_hours=service.hours, before=before,
           certified_hours=target, reason=reason)
    return service


# --- wartime -------------------------------------------------------------------------------------------------


def record_wartime_service(session: Session, assignment: Assignment, now: datetime | None = None,
                           certified_by: str = ORDER_CLOSE) -> ServiceRecord | None:
    """A certified service record for a completed wartime assignment (its `hours` set by the order's close).
    Idempotent: one record per assignment; None when the assignment has no hours to record."""
    now = now or utcnow()
    if assignment.status is not AssignmentStatus.completed or assignment.hours is None:
        return None
    existing = session.scalar(select(ServiceRecord).where(ServiceRecord.assignment_id == assignment.id))
    if existing is not None:
        return existing
    demand = session.get(Demand, assignment.demand_id)
    order = session.get(Order, assignment.order_id)
    site = demand.site
    service = ServiceRecord(volunteer_id=assignment.volunteer_id, kind=ServiceKind.wartime,
                            assignment_id=assignment.id, order_id=order.id, street_id=site.street_id,
                            site_id=site.id, description=order.title[:120], role=demand.role.name_zh,
                            started_at=assignment.arrived_at, ended_at=assignment.completed_at,
                            hours=float(assignment.hours), certified_hours=float(assignment.hours),
                            status=ServiceStatus.certified, certified_by=certified_by, certified_at=now,
                            created_at=now)
    try:
        with session.begin_nested():
            session.add(service)
            session.flush()
    except IntegrityError:  # written concurrently by the sweep or the close
        return session.scalar(select(ServiceRecord).where(ServiceRecord.assignment_id == assignment.id))
    return service


def record_missing_wartime_service(session: Session, now: datetime, limit: int = 1000) -> int:
    """Sweep: completed assignments with hours of closed orders that have no service record yet."""
    recorded = select(ServiceRecord.assignment_id).where(ServiceRecord.assignment_id.is_not(None))
    assignments = session.scalars(select(Assignment).join(Order).where(
        Order.state == OrderState.closed, Assignment.status == AssignmentStatus.completed,
        Assignment.hours.is_not(None), Assignment.id.not_in(recorded)).limit(limit)).all()
    count = 0
    for assignment in assignments:
        count += record_wartime_service(session, assignment, now, certified_by="order close (sweep)") is not None
    return count


# --- hours, points, stars ------------------------------------------------------------------------------------


def certified_hours(session: Session, volunteer_id: int) -> float:
    total = session.scalar(select(func.coalesce(func.sum(ServiceRecord.certified_hours), 0.0)).where(
        ServiceRecord.volunteer_id == volunteer_id, ServiceRecord.status == ServiceStatus.certified))
    return round(float(total or 0.0), 2)


def pending_hours(session: Session, volunteer_id: int) -> float:
    total = session.scalar(select(func.coalesce(func.sum(ServiceRecord.hours), 0.0)).where(
        ServiceRecord.volunteer_id == volunteer_id, ServiceRecord.status == ServiceStatus.pending))
    return round(float(total or 0.0), 2)


def standing(session: Session, volunteer_id: int, cfg: RosterConfig) -> stars.Standing:
    return stars.standing(certified_hours(session, volunteer_id), tuple(cfg.star_thresholds), cfg.points_per_hour)


def records_of(session: Session, volunteer_id: int, status: ServiceStatus | None = None) -> list[ServiceRecord]:
    statement = select(ServiceRecord).where(ServiceRecord.volunteer_id == volunteer_id).order_by(
        ServiceRecord.started_at.is_(None), ServiceRecord.started_at, ServiceRecord.id)
    if status is not None:
        statement = statement.where(ServiceRecord.status == status)
    return list(session.scalars(statement.options(selectinload(ServiceRecord.volunteer))))
