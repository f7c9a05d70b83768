"""Swaps between two volunteers, done only once both accepted.

A swap hands the first volunteer's place on shift X to the second volunteer; with the second's booking on shift Y
it is a two-way swap (the first takes Y). Proposed by an officer (on behalf of a volunteer who asked), each
volunteer accepts by SMS (换班357 / SWAP 357) or an officer records their consent. When the second acceptance
arrives, the swap is checked again (bookings may have changed, overlaps too) and applied in one transaction: the
old sign-ups end as `swapped`, new ones are booked; `filled` does not move (one place changes hands).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from mobilize.models import Shift, ShiftSignup, ShiftStatus, ShiftSwap, SignupStatus, SwapStatus, Volunteer
from mobilize.peacetime import messages
from mobilize.peacetime.codes import swap_code
from mobilize.peacetime.config import RosterConfig
from mobilize.peacetime.conflicts import lock_volunteer, require_free
from mobilize.peacetime.errors import Conflict, Invalid, NotFound, PeacetimeError
from mobilize.peacetime.staffing import live_signup, load_shift, load_signup
from mobilize.wartime.audit import Actor, record


def load_swap(session: Session, swap_id: int) -> ShiftSwap:
    swap = session.get(ShiftSwap, swap_id, populate_existing=True)
    if swap is None:
        raise NotFound(f"no swap {swap_id}", details={"swap_id": swap_id})
    return swap


def _bookable(signup: ShiftSignup, now: datetime, which: str) -> Shift:
    shift = signup.shift
    if signup.status is not SignupStatus.booked:
        raise Conflict(f"{which} sign-up {signup.id} is {signup.status.value}, not booked", code="not_booked",
                       details={"signup_id": signup.id})
    if shift.status is not ShiftStatus.scheduled or shift.starts_at <= now:
        raise Conflict(f"shift {shift.code} has started or is not open", code="shift_started",
                       details={"shift_id": shift.id})
    return shift


def _check(session: Session, first: ShiftSignup, second_volunteer_id: int, second: ShiftSignup | None,
           now: datetime) -> None:
    """Can the swap be applied now? Conflict naming why not."""
    x = _bookable(first, now, "first")
    if second_volunteer_id == first.volunteer_id:
        raise Invalid("a volunteer cannot swap with themselves")
    if live_signup(session, x.id, second_volunteer_id) is not None:
        raise Conflict(f"volunteer {second_volunteer_id} is already on shift {x.code}", code="already_on_shift")
    excluded = [second.id] if second is not None else []
    require_free(session, second_volunteer_id, x.starts_at, x.ends_at, exclude_signups=excluded)
    if second is not None:
        if second.volunteer_id != second_volunteer_id:
            raise Invalid(f"sign-up {second.id} is not volunteer {second_volunteer_id}'s")
        y = _bookable(second, now, "second")
        if y.id == x.id:
            raise Invalid("both sign-ups are on the same shift")
        if live_signup(session, y.id, first.volunteer_id) is not None:
            raise Conflict(f"volunteer {first.volunteer_id} is already on shift {y.code}", code="already_on_shift")
        require_free(session, first.volunteer_id, y.starts_at, y.ends_at, exclude_signups=[first.id])


def propose(session: Session, first_signup_id: int, second_volunteer_id: int, *, actor: Actor, now: datetime,
            cfg: RosterConfig, second_signup_id: int | None = None) -> ShiftSwap:
    first = load_signup(session, first_signup_id)
    second = load_signup(session, second_signup_id) if second_signup_id is not None else None
    if session.get(Volunteer, second_volunteer_id) is None:
        raise Invalid(f"unknown volunteer {second_volunteer_id}", details={"volunteer_id": second_volunteer_id})
    _check(session, first, second_volunteer_id, second, now)
    ids = [first.id] + ([second.id] if second else [])
    pending = session.scalar(select(ShiftSwap.id).where(
        ShiftSwap.status == SwapStatus.proposed,
        or_(ShiftSwap.first_signup_id.in_(ids), ShiftSwap.second_signup_id.in_(ids))))
    if pending is not None:
        raise Conflict(f"swap {pending} already waits for these sign-ups", code="swap_pending",
                       details={"swap_id": pending})
    swap = ShiftSwap(code=swap_code(session), status=SwapStatus.proposed, first_signup_id=first.id,
                     second_signup_id=second.id if second else None, first_volunteer_id=first.volunteer_id,
                     second_volunteer_id=second_volunteer_id, created_by=actor.name, created_at=now)
    session.add(swap)
    session.flush()
    record(session, actor, "swap.proposed", "shift_swap", swap.id, now, first_signup_id=first.id,
           second_signup_id=swap.second_signup_id, second_volunteer_id=second_volunteer_id)
    _ask(session, swap, now, cfg)
    return swap


def _ask(session: Session, swap: ShiftSwap, now: datetime, cfg: RosterConfig) -> None:
    """Ask each volunteer: what they give and what they get."""
    x = swap.first_signup.shift
    y = swap.second_signup.shift if swap.second_signup else None
    deadline = min(s.starts_at for s in (x, y) if s is not None) - timedelta(hours=1)
    for volunteer, gives, gets, other in (
            (swap.first_volunteer, x, y, swap.second_volunteer),
            (swap.second_volunteer, y, x, swap.first_volunteer)):
        language = volunteer.language
        values = {"code": swap.code, "name": other.name,
                  "gives": _describe(gives, language, cfg) if gives else ("无" if language == "zh" else "none"),
                  "gets": _describe(gets, language, cfg) if gets else ("无" if language == "zh" else "none")}
        messages.send_notice(session, cfg, volunteer, "swap_request", now, useful_until=deadline,
                             dedupe_key=f"roster:swap:{swap.id}:{volunteer.id}:request", **values)


def _describe(shift: Shift, language: str, cfg: RosterConfig) -> str:
    values = messages.shift_values(shift, language, cfg.zone)
    return f"{values['window']} {values['site']}"


def answer(session: Session, swap_id: int, volunteer_id: int, accept: bool, *, actor: Actor, now: datetime,
           cfg: RosterConfig) -> ShiftSwap:
    """One volunteer's answer. Both yes: applied (or failed, saying why). One no: declined, both told."""
    swap = load_swap(session, swap_id)
    if volunteer_id not in (swap.first_volunteer_id, swap.second_volunteer_id):
        raise Invalid(f"volunteer {volunteer_id} is not part of swap {swap_id}")
    if swap.status is not SwapStatus.proposed:
        raise Conflict(f"swap {swap_id} is {swap.status.value}", code="swap_not_open",
                       details={"status": swap.status.value})
    column = "first_accepted_at" if volunteer_id == swap.first_volunteer_id else "second_accepted_at"
    if not accept:
        _decide(session, swap, SwapStatus.declined, f"declined by volunteer {volunteer_id}", now)
        record(session, actor, "swap.declined", "shift_swap", swap.id, now, volunteer_id=volunteer_id)
        _tell(session, swap, "swap_declined", now, cfg)
        return swap
    session.execute(update(ShiftSwap).where(ShiftSwap.id == swap.id, ShiftSwap.status == SwapStatus.proposed)
                    .values({column: now}).execution_options(synchronize_session=False))
    session.refresh(swap)
    record(session, actor, "swap.accepted", "shift_swap", swap.id, now, volunteer_id=volunteer_id)
    if swap.first_accepted_at is not None and swap.second_accepted_at is not None:
        _apply(session, swap, actor, now, cfg)
    return swap


def _decide(session: Session, swap: ShiftSwap, status: SwapStatus, outcome: str, now: datetime) -> bool:
    moved = session.execute(update(ShiftSwap).where(ShiftSwap.id == swap.id, ShiftSwap.status == SwapStatus.proposed)
                            .values(status=status, decided_at=now, outcome=outcome[:80])
                            .execution_options(synchronize_session=False)).rowcount
    session.refresh(swap)
    return bool(moved)


def _apply(session: Session, swap: ShiftSwap, actor: Actor, now: datetime, cfg: RosterConfig) -> None:
    for volunteer_id in sorted({swap.first_volunteer_id, swap.second_volunteer_id}):
        lock_volunteer(session, volunteer_id)  # always in id order: no deadlock between two swaps
    first = load_signup(session, swap.first_signup_id)
    second = load_signup(session, swap.second_signup_id) if swap.second_signup_id else None
    try:
        _check(session, first, swap.second_volunteer_id, second, now)
    except PeacetimeError as error:
        _decide(session, swap, SwapStatus.failed, error.message, now)
        record(session, actor, "swap.failed", "shift_swap", swap.id, now, reason=error.message)
        _tell(session, swap, "swap_declined", now, cfg)
        return
    if not _decide(session, swap, SwapStatus.completed, "applied", now):
        return
    moves = [(first, swap.second_volunteer_id)] + ([(second, swap.first_volunteer_id)] if second else [])
    for old, new_volunteer_id in moves:
        session.execute(update(ShiftSignup).where(ShiftSignup.id == old.id, ShiftSignup.status == SignupStatus.booked)
                        .values(status=SignupStatus.swapped, ended_at=now, end_reason=f"swap:{swap.id}")
                        .execution_options(synchronize_session=False))
        messages.cancel_pending(session, old.id, now)
    session.flush()
    for old, new_volunteer_id in moves:  # the place changes hands: `filled` does not move
        session.add(ShiftSignup(shift_id=old.shift_id, volunteer_id=new_volunteer_id, status=SignupStatus.booked,
                                source="swap", created_by=actor.name, created_at=now, booked_at=now))
    session.flush()
    record(session, actor, "swap.completed", "shift_swap", swap.id, now,
           moves=[{"shift_id": old.shift_id, "from": old.volunteer_id, "to": to} for old, to in moves])
    _tell(session, swap, "swap_done", now, cfg)


def _tell(session: Session, swap: ShiftSwap, template: str, now: datetime, cfg: RosterConfig) -> None:
    shifts = {swap.first_volunteer_id: swap.second_signup.shift if swap.second_signup else None,
              swap.second_volunteer_id: swap.first_signup.shift}
    for volunteer in (swap.first_volunteer, swap.second_volunteer):
        gets = shifts[volunteer.id]
        language = volunteer.language
        messages.send_now(session, volunteer, template,
                          dedupe_key=f"roster:swap:{swap.id}:{volunteer.id}:{template}", code=swap.code,
                          gets=_describe(gets, language, cfg) if gets else ("无" if language == "zh" else "none"))


def side_streets(session: Session, swap: ShiftSwap) -> dict[int, int | None]:
    """{volunteer id: the street their side of the swap is in}: the site of their sign-up, or, for a second
    volunteer who gives no shift back, their home street. A swap across two streets concerns both officers; each
    records the answers of their own street's side."""
    sides = {swap.first_volunteer_id: _signup_street(session, swap.first_signup_id)}
    if swap.second_signup_id is not None:
        sides[swap.second_volunteer_id] = _signup_street(session, swap.second_signup_id)
    else:
        volunteer = session.get(Volunteer, swap.second_volunteer_id)
        sides[swap.second_volunteer_id] = volunteer.street_id if volunteer is not None else None
    return sides


def _signup_street(session: Session, signup_id: int) -> int:
    signup = load_signup(session, signup_id)
    return load_shift(session, signup.shift_id).post.site.street_id


def pending_for(session: Session, volunteer_id: int) -> list[ShiftSwap]:
    return list(session.scalars(select(ShiftSwap).where(
        ShiftSwap.status == SwapStatus.proposed,
        or_(ShiftSwap.first_volunteer_id == volunteer_id, ShiftSwap.second_volunteer_id == volunteer_id))
        .order_by(ShiftSwap.id)))


def expire(session: Session, now: datetime) -> int:
    """Proposed swaps whose shift started (or whose sign-ups ended) can no longer happen."""
    count = 0
    for swap in session.scalars(select(ShiftSwap).where(ShiftSwap.status == SwapStatus.proposed)).all():
        signups = [swap.first_signup] + ([swap.second_signup] if swap.second_signup else [])
        if any(s.status is not SignupStatus.booked or s.shift.starts_at <= now for s in signups):
            count += _decide(session, swap, SwapStatus.expired, "a shift started or a sign-up ended", now)
    return count


def shift_of(session: Session, swap: ShiftSwap) -> Shift:
    return load_shift(session, swap.first_signup.shift_id)
