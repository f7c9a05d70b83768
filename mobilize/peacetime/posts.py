"""Posts, their weekly patterns, one-off shifts, cancellations and holidays. Every change is audited."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mobilize.domain.recurrence import PatternError, duration, local_date, parse_weekdays
from mobilize.domain.text_safety import clean_line
from mobilize.models import (
    Post,
    Role,
    RosterHoliday,
    Shift,
    ShiftPattern,
    ShiftSignup,
    ShiftStatus,
    SignupStatus,
    Site,
    Street,
)
from mobilize.peacetime import messages
from mobilize.peacetime.codes import shift_codes
from mobilize.peacetime.config import RosterConfig
from mobilize.peacetime.errors import Conflict, Invalid, NotFound
from mobilize.peacetime.generation import holiday_applies
from mobilize.peacetime.staffing import end_signup, load_shift, promote_waitlist
from mobilize.wartime.audit import Actor, record

MAX_SLOTS = 500
MAX_SHIFT_HOURS = 16


def load_post(session: Session, post_id: int) -> Post:
    post = session.get(Post, post_id)
    if post is None:
        raise NotFound(f"no post {post_id}", details={"post_id": post_id})
    return post


def _slots(value: int | None, field: str = "slots") -> None:
    if value is not None and not 1 <= value <= MAX_SLOTS:
        raise Invalid(f"{field} must be between 1 and {MAX_SLOTS}", details={field: value})


def create_post(session: Session, *, site_id: int, role: str, slots: int, actor: Actor, now: datetime,
                name: str | None = None, protected: bool = False, notes: str = "") -> Post:
    site = session.get(Site, site_id)
    if site is None:
        raise Invalid(f"unknown site {site_id}", details={"site_id": site_id})
    role_row = session.scalar(select(Role).where(Role.code == role))
    if role_row is None:
        raise Invalid(f"unknown role {role!r}", details={"role": role})
    _slots(slots)
    name = clean_line(name or f"{site.name}{role_row.name_zh}")  # as Post.name will store it
    if not name or len(name) > 80:
        raise Invalid("a post's name must be 1 to 80 characters", details={"name": name})
    if session.scalar(select(Post.id).where(Post.site_id == site_id, Post.name == name)) is not None:
        raise Conflict(f"site {site_id} already has a post named {name!r}", code="duplicate_post",
                       details={"site_id": site_id, "name": name})
    post = Post(site_id=site_id, role_id=role_row.id, name=name, slots=slots, protected=protected, active=True,
                notes=notes or "", created_at=now)
    session.add(post)
    session.flush()
    record(session, actor, "post.created", "post", post.id, now, site_id=site_id, role=role, slots=slots,
           protected=protected)
    return post


def update_post(session: Session, post_id: int, *, actor: Actor, now: datetime, **changes) -> Post:
    """Change name, slots (future shifts keep theirs), protected, active or notes."""
    post = load_post(session, post_id)
    allowed = {"name", "slots", "protected", "active", "notes"}
    unknown = set(changes) - allowed
    if unknown:
        raise Invalid(f"cannot change {', '.join(sorted(unknown))}", details={"fields": sorted(unknown)})
    if "slots" in changes:
        _slots(changes["slots"])
    if "name" in changes and not clean_line(changes["name"] or ""):
        raise Invalid("a post's name must be 1 to 80 characters", details={"name": changes["name"]})
    if "name" in changes:
        _require_free_name(session, post, clean_line(changes["name"]))
    before = {key: getattr(post, key) for key in changes}
    for key, value in changes.items():
        setattr(post, key, value)
    session.flush()
    record(session, actor, "post.updated", "post", post.id, now, before=before, after=changes)
    return post


def _require_free_name(session: Session, post: Post, name: str) -> None:
    """A site's posts have distinct names (a unique index): renaming onto another post's name is a 409, not
    the index's IntegrityError."""
    other = session.scalar(select(Post.id).where(Post.site_id == post.site_id, Post.name == name,
                                                 Post.id != post.id))
    if other is not None:
        raise Conflict(f"site {post.site_id} already has a post named {name!r}", code="duplicate_post",
                       details={"site_id": post.site_id, "name": name, "post_id": other})


def add_pattern(session: Session, post_id: int, *, weekdays, start_time: time, end_time: time, actor: Actor,
                now: datetime, cfg: RosterConfig, slots: int | None = None, valid_from: date | None = None,
                valid_until: date | None = None) -> ShiftPattern:
    post = load_post(session, post_id)
    try:
        days = parse_weekdays(weekdays)
        length = duration(start_time, end_time)
    except PatternError as error:
        raise Invalid(str(error), details={"weekdays": str(weekdays), "start_time": str(start_time),
                                           "end_time": str(end_time)}) from None
    if length > timedelta(hours=MAX_SHIFT_HOURS):
        raise Invalid(f"a shift may last at most {MAX_SHIFT_HOURS} hours",
                      details={"hours": length / timedelta(hours=1)})
    _slots(slots)
    valid_from = valid_from or local_date(now, cfg.zone)
    if valid_until is not None and valid_until < valid_from:
        raise Invalid("valid_until is before valid_from", details={"valid_from": str(valid_from),
                                                                    "valid_until": str(valid_until)})
    pattern = ShiftPattern(post_id=post.id, weekdays=days, start_time=start_time.replace(tzinfo=None),
                           end_time=end_time.replace(tzinfo=None), slots=slots, valid_from=valid_from,
                           valid_until=valid_until, active=True, created_at=now)
    session.add(pattern)
    session.flush()
    record(session, actor, "pattern.created", "shift_pattern", pattern.id, now, post_id=post.id, weekdays=days,
           start=start_time.strftime("%H:%M"), end=end_time.strftime("%H:%M"), slots=slots)
    return pattern


def deactivate_pattern(session: Session, pattern_id: int, *, actor: Actor, now: datetime) -> ShiftPattern:
    """No more shifts from this pattern (those already generated stay; cancel them one by one if needed)."""
    pattern = session.get(ShiftPattern, pattern_id)
    if pattern is None:
        raise NotFound(f"no pattern {pattern_id}", details={"pattern_id": pattern_id})
    pattern.active = False
    record(session, actor, "pattern.deactivated", "shift_pattern", pattern.id, now, post_id=pattern.post_id)
    return pattern


def add_extra_shift(session: Session, post_id: int, *, starts_at: datetime, ends_at: datetime, actor: Actor,
                    now: datetime, cfg: RosterConfig, slots: int | None = None) -> Shift:
    """A one-off shift (an exception to the patterns): a big event, a market day."""
    post = load_post(session, post_id)
    if not post.active:
        raise Conflict(f"post {post_id} is not active", code="post_inactive", details={"post_id": post_id})
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise Invalid("times need an offset (or are local time at the API)")
    if ends_at <= starts_at:
        raise Invalid("a shift must end after it starts", details={"starts_at": starts_at.isoformat(),
                                                                  "ends_at": ends_at.isoformat()})
    if ends_at - starts_at > timedelta(hours=MAX_SHIFT_HOURS):
        raise Invalid(f"a shift may last at most {MAX_SHIFT_HOURS} hours")
    if starts_at <= now:
        raise Invalid("a new shift must start in the future", details={"starts_at": starts_at.isoformat()})
    _slots(slots)
    if session.scalar(select(Shift.id).where(Shift.post_id == post_id, Shift.starts_at == starts_at)):
        raise Conflict(f"post {post_id} already has a shift starting then", code="duplicate_shift",
                       details={"post_id": post_id, "starts_at": starts_at.isoformat()})
    shift = Shift(post_id=post_id, pattern_id=None, local_date=local_date(starts_at, cfg.zone),
                  starts_at=starts_at, ends_at=ends_at, capacity=slots or post.slots, filled=0,
                  status=ShiftStatus.scheduled, code=shift_codes(session, 1)[0], extra=True, created_at=now)
    try:
        with session.begin_nested():
            session.add(shift)
            session.flush()
    except IntegrityError:
        raise Conflict(f"post {post_id} already has a shift starting then", code="duplicate_shift") from None
    record(session, actor, "shift.created", "shift", shift.id, now, post_id=post_id, extra=True,
           starts_at=starts_at.isoformat(), ends_at=ends_at.isoformat(), capacity=shift.capacity)
    return shift


def cancel_shift(session: Session, shift_id: int, *, reason: str, actor: Actor, now: datetime,
                 cfg: RosterConfig, notify: bool = True) -> Shift:
    """Cancel a shift that has not started: its volunteers are taken off (and told), its code is freed."""
    shift = load_shift(session, shift_id)
    if shift.status is not ShiftStatus.scheduled:
        raise Conflict(f"shift {shift.code} is {shift.status.value}", code="shift_not_open",
                       details={"shift_id": shift_id, "status": shift.status.value})
    if shift.starts_at <= now:
        raise Conflict(f"shift {shift.code} has already started", code="shift_started",
                       details={"shift_id": shift_id})
    moved = session.execute(update(Shift).where(Shift.id == shift_id, Shift.status == ShiftStatus.scheduled)
                            .values(status=ShiftStatus.cancelled, cancelled_at=now,
                                    cancel_reason=clean_line(reason)[:120])  # Core: no model validator
                            .execution_options(synchronize_session=False)).rowcount
    if not moved:
        raise Conflict(f"shift {shift.code} changed meanwhile", code="shift_not_open")
    signups = list(session.scalars(select(ShiftSignup).where(
        ShiftSignup.shift_id == shift_id,
        ShiftSignup.status.in_([SignupStatus.waitlisted, SignupStatus.booked]))))
    told = 0
    for signup in signups:
        was_booked = signup.status is SignupStatus.booked
        if end_signup(session, signup, SignupStatus.cancelled, "shift_cancelled", now) and was_booked and notify:
            volunteer = signup.volunteer
            sent = messages.send_notice(session, cfg, volunteer, "shift_cancelled", now,
                                        dedupe_key=messages.signup_key(signup.id, "shift_cancelled"),
                                        useful_until=shift.starts_at,
                                        **messages.shift_values(shift, volunteer.language, cfg.zone))
            told += sent is not None
    session.refresh(shift)
    record(session, actor, "shift.cancelled", "shift", shift.id, now, reason=reason, signups=len(signups),
           told=told)
    return shift


def add_holiday(session: Session, *, on_date: date, reason: str, actor: Actor, now: datetime, cfg: RosterConfig,
                street_id: int | None = None, post_id: int | None = None) -> tuple[RosterHoliday, list[Shift]]:
    """No shifts on this local date (of a post, a street, or everywhere): the generator skips it and the shifts
    already generated (not yet started) are cancelled."""
    if post_id is not None and street_id is not None:
        raise Invalid("a holiday is for a post or a street (or everywhere), not both")
    if post_id is not None:
        load_post(session, post_id)
    if street_id is not None and session.get(Street, street_id) is None:
        raise Invalid(f"unknown street {street_id}", details={"street_id": street_id})
    if on_date < local_date(now, cfg.zone):
        raise Invalid("a holiday cannot be in the past", details={"on_date": str(on_date)})
    reason = clean_line(reason or "")  # as RosterHoliday.reason will store it
    if not reason or len(reason) > 80:
        raise Invalid("a holiday needs a reason (up to 80 characters)")
    holiday = RosterHoliday(on_date=on_date, street_id=street_id, post_id=post_id, reason=reason,
                            created_by=actor.name, created_at=now)
    session.add(holiday)
    session.flush()
    candidates = session.scalars(select(Shift).join(Post).join(Site).where(
        Shift.local_date == on_date, Shift.status == ShiftStatus.scheduled, Shift.starts_at > now)
        .order_by(Shift.starts_at)).all()
    cancelled = [cancel_shift(session, shift.id, reason=reason, actor=actor, now=now, cfg=cfg)
                 for shift in candidates if holiday_applies(holiday, shift.post)]
    record(session, actor, "holiday.created", "roster_holiday", holiday.id, now, on_date=str(on_date),
           street_id=street_id, post_id=post_id, reason=reason, cancelled_shifts=len(cancelled))
    return holiday, cancelled


def set_capacity(session: Session, shift_id: int, capacity: int, *, actor: Actor, now: datetime,
                 cfg: RosterConfig) -> Shift:
    """More or fewer places on one shift; never fewer than are taken. More places go to the waitlist first."""
    _slots(capacity, "capacity")
    shift = load_shift(session, shift_id)
    before = shift.capacity
    moved = session.execute(update(Shift).where(Shift.id == shift_id, Shift.filled <= capacity,
                                                Shift.status == ShiftStatus.scheduled)
                            .values(capacity=capacity).execution_options(synchronize_session=False)).rowcount
    session.refresh(shift)
    if not moved:
        raise Conflict(f"shift {shift.code} has {shift.filled} places taken; capacity cannot go below",
                       code="capacity_below_filled", details={"filled": shift.filled, "capacity": capacity})
    record(session, actor, "shift.capacity_changed", "shift", shift.id, now, before=before, after=capacity)
    if capacity > before:
        promote_waitlist(session, shift.id, now, cfg)
    return shift
