"""Sign-ups within capacity, officer assignment, cancellation and the waitlist.

Capacity is the database's: `reserve_place` is an atomic conditional UPDATE (`filled < capacity`, rowcount 1 or
nothing) on a shift that is still scheduled and not started, and the sign-up is inserted in the same savepoint,
so a concurrent booking of the same volunteer (the partial unique index) undoes the reservation. The CHECK
constraint `filled <= capacity` is the last line of defence. `shifts.filled` always equals the number of sign-ups
holding a place: it moves only with a sign-up entering or leaving booked / checked in / completed, in the same
transaction.

Overlaps: every booking path locks the volunteer (`conflicts.lock_volunteer`) and checks their other bookings
and live wartime assignments first.

Waitlist: a full shift takes the volunteer on its waitlist (when asked to); when a place frees before the start,
`promote_waitlist` books the oldest entry that is still free at that time and tells them by SMS.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from mobilize.domain.text_safety import clean_line
from mobilize.models import (
    LIVE_SIGNUP,
    PLACE_HOLDING,
    Post,
    Shift,
    ShiftSignup,
    ShiftStatus,
    ShiftSwap,
    SignupStatus,
    Site,
    SwapStatus,
)
from mobilize.peacetime import messages
from mobilize.peacetime.config import RosterConfig
from mobilize.peacetime.conflicts import lock_volunteer, require_free
from mobilize.peacetime.errors import Conflict, Full, NotFound, Overlap
from mobilize.wartime.audit import Actor, record

CANCELLABLE = (SignupStatus.waitlisted, SignupStatus.booked)


@dataclass(frozen=True)
class SignupResult:
    signup: ShiftSignup
    outcome: str  # booked, waitlisted, already_booked, already_waitlisted
    position: int | None = None  # on the waitlist


def load_shift(session: Session, shift_id: int, lock: bool = False) -> Shift:
    statement = select(Shift).where(Shift.id == shift_id).options(
        selectinload(Shift.post).selectinload(Post.site).selectinload(Site.street),
        selectinload(Shift.post).selectinload(Post.role))
    if lock:
        statement = statement.with_for_update(of=Shift).execution_options(populate_existing=True)
    shift = session.scalar(statement)
    if shift is None:
        raise NotFound(f"no shift {shift_id}", details={"shift_id": shift_id})
    return shift


def load_signup(session: Session, signup_id: int) -> ShiftSignup:
    signup = session.get(ShiftSignup, signup_id, populate_existing=True)
    if signup is None:
        raise NotFound(f"no sign-up {signup_id}", details={"signup_id": signup_id})
    return signup


def require_open(shift: Shift, now: datetime) -> None:
    if shift.status is not ShiftStatus.scheduled:
        raise Conflict(f"shift {shift.code} is {shift.status.value}", code="shift_not_open",
                       details={"shift_id": shift.id, "status": shift.status.value})
    if shift.starts_at <= now:
        raise Conflict(f"shift {shift.code} has already started", code="shift_started",
                       details={"shift_id": shift.id, "starts_at": shift.starts_at.isoformat()})


def _forget_filled(session: Session, shift_id: int) -> None:
    """A loaded Shift reads `filled` again after a conditional UPDATE changed it behind the ORM's back."""
    loaded = session.identity_map.get(session.identity_key(Shift, shift_id))
    if loaded is not None:
        session.expire(loaded, ["filled"])


def reserve_place(session: Session, shift_id: int, now: datetime) -> bool:
    """Take one place of a scheduled, not yet started shift if one is free (atomic; True if it took one)."""
    result = session.execute(update(Shift).where(Shift.id == shift_id, Shift.filled < Shift.capacity,
                                                 Shift.status == ShiftStatus.scheduled, Shift.starts_at > now)
                             .values(filled=Shift.filled + 1).execution_options(synchronize_session=False))
    _forget_filled(session, shift_id)
    return result.rowcount == 1


def free_place(session: Session, shift_id: int) -> None:
    session.execute(update(Shift).where(Shift.id == shift_id, Shift.filled > 0)
                    .values(filled=Shift.filled - 1).execution_options(synchronize_session=False))
    _forget_filled(session, shift_id)


def live_signup(session: Session, shift_id: int, volunteer_id: int) -> ShiftSignup | None:
    return session.scalar(select(ShiftSignup).where(ShiftSignup.shift_id == shift_id,
                                                    ShiftSignup.volunteer_id == volunteer_id,
                                                    ShiftSignup.status.in_(LIVE_SIGNUP)))


def waitlist_position(session: Session, signup: ShiftSignup) -> int:
    return int(session.scalar(select(func.count()).select_from(ShiftSignup).where(
        ShiftSignup.shift_id == signup.shift_id, ShiftSignup.status == SignupStatus.waitlisted,
        ShiftSignup.id <= signup.id)))


def sign_up(session: Session, shift_id: int, volunteer_id: int, *, actor: Actor, now: datetime,
            cfg: RosterConfig, source: str, waitlist: bool = False, notify: bool = True) -> SignupResult:
    """Book the volunteer on the shift, or put them on its waitlist when it is full and `waitlist` is asked.

    Raises Conflict (not open, started), Overlap (busy at that time) or Full (no place, no waitlist)."""
    shift = load_shift(session, shift_id)
    require_open(shift, now)
    volunteer = lock_volunteer(session, volunteer_id)
    existing = live_signup(session, shift_id, volunteer_id)
    if existing is not None:
        if existing.status is SignupStatus.waitlisted:
            return SignupResult(existing, "already_waitlisted", waitlist_position(session, existing))
        return SignupResult(existing, "already_booked")
    require_free(session, volunteer_id, shift.starts_at, shift.ends_at)
    pending_kicks = {key: set(value) for key, value in session.info.items() if isinstance(value, set)}
    if not waitlist and shift.filled >= shift.capacity:
        raise Full(f"shift {shift.code} is full", details={"shift_id": shift_id, "capacity": shift.capacity})
    signup = None
    try:
        with session.begin_nested():
            booked = reserve_place(session, shift_id, now)
            if booked or waitlist:
                signup = ShiftSignup(shift_id=shift_id, volunteer_id=volunteer_id,
                                     status=SignupStatus.booked if booked else SignupStatus.waitlisted,
                                     source=source, created_by=actor.name, created_at=now,
                                     booked_at=now if booked else None)
                session.add(signup)
                session.flush()  # the partial unique index speaks here
    except IntegrityError:
        # the same volunteer was signed up concurrently; the savepoint undid our reservation
        session.info.update(pending_kicks)
        existing = live_signup(session, shift_id, volunteer_id)
        if existing is None:
            raise
        return SignupResult(existing, "already_booked" if existing.status is not SignupStatus.waitlisted
                            else "already_waitlisted")
    if signup is None:
        _full(session, shift)
    session.refresh(shift)
    record(session, actor, "shift.booked" if booked else "shift.waitlisted", "shift_signup", signup.id, now,
           shift_id=shift_id, volunteer_id=volunteer_id, source=source)
    position = None if booked else waitlist_position(session, signup)
    if notify:
        values = messages.shift_values(shift, volunteer.language, cfg.zone)
        template = "shift_booked" if booked else "shift_waitlisted"
        key = messages.signup_key(signup.id, template)
        if source == "sms":  # the answer to their own message
            messages.send_now(session, volunteer, template, dedupe_key=key, position=position, **values)
        else:
            messages.send_notice(session, cfg, volunteer, template, now, dedupe_key=key, position=position,
                                 useful_until=shift.starts_at - timedelta(hours=1), **values)
    return SignupResult(signup, "booked" if booked else "waitlisted", position)


def _full(session: Session, shift: Shift):
    session.refresh(shift)
    raise Full(f"shift {shift.code} is full", details={"shift_id": shift.id, "capacity": shift.capacity})


def end_signup(session: Session, signup: ShiftSignup, status: SignupStatus, reason: str, now: datetime,
               from_statuses=CANCELLABLE) -> bool:
    """Move a live sign-up to an ending status and free its place if it held one (conditional, in the caller's
    transaction). False if it was no longer in `from_statuses`."""
    if status.value in LIVE_SIGNUP:
        raise ValueError(f"{status.value} is not an ending status")
    holding = [s for s in from_statuses if s.value in PLACE_HOLDING]
    others = [s for s in from_statuses if s.value not in PLACE_HOLDING]
    # two conditional UPDATEs, so that the place is freed exactly when the row held one at that moment
    for group, frees in ((holding, True), (others, False)):
        if group and session.execute(update(ShiftSignup).where(ShiftSignup.id == signup.id,
                                                               ShiftSignup.status.in_(group))
                                     .values(status=status, ended_at=now,
                                             end_reason=clean_line(reason))  # Core: no model validator
                                     .execution_options(synchronize_session=False)).rowcount:
            if frees:
                free_place(session, signup.shift_id)
            break
    else:
        return False
    messages.cancel_pending(session, signup.id, now)
    _cancel_swaps_of(session, signup.id, now)
    session.refresh(signup)
    return True


def _cancel_swaps_of(session: Session, signup_id: int, now: datetime) -> None:
    session.execute(update(ShiftSwap).where(
        ShiftSwap.status == SwapStatus.proposed,
        (ShiftSwap.first_signup_id == signup_id) | (ShiftSwap.second_signup_id == signup_id))
        .values(status=SwapStatus.cancelled, decided_at=now, outcome="a sign-up of the swap ended")
        .execution_options(synchronize_session=False))


def cancel_signup(session: Session, signup_id: int, *, actor: Actor, now: datetime, cfg: RosterConfig,
                  by_officer: bool = False, reason: str | None = None, notify: bool = True) -> ShiftSignup:
    """The volunteer leaves the shift (or its waitlist), or an officer takes them off, before it starts. The freed
    place goes to the waitlist at once."""
    signup = load_signup(session, signup_id)
    shift = load_shift(session, signup.shift_id)
    if signup.status not in CANCELLABLE:
        raise Conflict(f"sign-up {signup_id} is {signup.status.value}", code="signup_not_cancellable",
                       details={"signup_id": signup_id, "status": signup.status.value})
    if shift.starts_at <= now:
        raise Conflict(f"shift {shift.code} has started: mark a no-show instead", code="shift_started",
                       details={"shift_id": shift.id})
    held_place = signup.status is SignupStatus.booked
    status = SignupStatus.removed if by_officer else SignupStatus.cancelled
    if not end_signup(session, signup, status, reason or ("removed_by_officer" if by_officer else "cancelled"),
                      now):
        raise Conflict(f"sign-up {signup_id} changed meanwhile", code="signup_not_cancellable")
    record(session, actor, f"shift.{status.value}", "shift_signup", signup.id, now, shift_id=shift.id,
           volunteer_id=signup.volunteer_id, reason=reason)
    if notify:
        volunteer = signup.volunteer
        values = messages.shift_values(shift, volunteer.language, cfg.zone)
        key = messages.signup_key(signup.id, "left")
        if by_officer:
            messages.send_notice(session, cfg, volunteer, "shift_cancelled", now, dedupe_key=key,
                                 useful_until=shift.starts_at, **values)
        else:
            messages.send_now(session, volunteer, "shift_left", dedupe_key=key, **values)
    if held_place:
        promote_waitlist(session, shift.id, now, cfg)
    return signup


def promote_waitlist(session: Session, shift_id: int, now: datetime, cfg: RosterConfig) -> list[ShiftSignup]:
    """Book waitlisted volunteers, oldest first, while places are free and the shift has not started. An entry
    whose volunteer is now busy at that time is dropped (end_reason "conflict")."""
    promoted: list[ShiftSignup] = []
    shift = load_shift(session, shift_id)
    while True:
        session.refresh(shift)
        if shift.status is not ShiftStatus.scheduled or shift.starts_at <= now or shift.filled >= shift.capacity:
            break
        entry = session.scalar(select(ShiftSignup).where(ShiftSignup.shift_id == shift_id,
                                                         ShiftSignup.status == SignupStatus.waitlisted)
                               .order_by(ShiftSignup.id).limit(1))
        if entry is None:
            break
        volunteer = lock_volunteer(session, entry.volunteer_id)
        try:
            require_free(session, volunteer.id, shift.starts_at, shift.ends_at)
        except Overlap as clash:
            end_signup(session, entry, SignupStatus.cancelled, "conflict", now, (SignupStatus.waitlisted,))
            record(session, Actor.system(), "shift.waitlist_dropped", "shift_signup", entry.id, now,
                   shift_id=shift_id, overlaps=clash.details.get("overlaps"))
            continue
        if not reserve_place(session, shift_id, now):
            break
        moved = session.execute(update(ShiftSignup).where(ShiftSignup.id == entry.id,
                                                          ShiftSignup.status == SignupStatus.waitlisted)
                                .values(status=SignupStatus.booked, booked_at=now, source="waitlist")
                                .execution_options(synchronize_session=False)).rowcount
        if not moved:
            free_place(session, shift_id)
            continue
        session.refresh(entry)
        record(session, Actor.system(), "shift.promoted", "shift_signup", entry.id, now, shift_id=shift_id,
               volunteer_id=entry.volunteer_id)
        values = messages.shift_values(shift, volunteer.language, cfg.zone)
        messages.send_notice(session, cfg, volunteer, "shift_promoted", now,
                             dedupe_key=messages.signup_key(entry.id, "promoted"),
                             useful_until=shift.starts_at - timedelta(hours=1), **values)
        promoted.append(entry)
    return promoted


def promote_all(session: Session, now: datetime, cfg: RosterConfig) -> int:
    """Sweep: shifts with a free place and a waitlist (a capacity raised, a promotion that failed to commit)."""
    waiting = select(ShiftSignup.shift_id).where(ShiftSignup.status == SignupStatus.waitlisted).distinct()
    shift_ids = list(session.scalars(select(Shift.id).where(
        Shift.id.in_(waiting), Shift.status == ShiftStatus.scheduled, Shift.starts_at > now,
        Shift.filled < Shift.capacity)))
    return sum(len(promote_waitlist(session, shift_id, now, cfg)) for shift_id in shift_ids)


def drop_stale_waitlists(session: Session, now: datetime) -> int:
    """Waitlist entries of shifts that started (or were cancelled) will never be promoted."""
    over = select(Shift.id).where((Shift.starts_at <= now) | (Shift.status != ShiftStatus.scheduled))
    return session.execute(update(ShiftSignup).where(ShiftSignup.status == SignupStatus.waitlisted,
                                                     ShiftSignup.shift_id.in_(over))
                           .values(status=SignupStatus.cancelled, ended_at=now, end_reason="waitlist_closed")
                           .execution_options(synchronize_session=False)).rowcount
