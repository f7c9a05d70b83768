"""Peacetime shifts beside a wartime order (issue 5, item 5; DESIGN section 3's last paragraph).

An order says what happens to volunteers booked (booked or checked in) on a shift overlapping its window
([starts_at, ends_at), touching ends do not overlap):

- `leave`: they are left alone: not eligible for the order (preview reason `busy_peacetime_shift`) and never
  placed on it.
- `release`: they are eligible; when one is placed (an assignment created, `wartime.places.place`) their
  overlapping sign-ups are released in the same transaction (status `released`, `released_by_order_id`, the place
  freed: the shift's `filled` drops and the gap shows on the peacetime board), and a backfill invitation goes to
  nearby volunteers who are not in the order (`gaps.invite_backfill` with `exclude` = the order's invitees and
  assigned volunteers).
- Protected posts are never stripped: a volunteer booked on a protected post overlapping the window is never
  eligible, whatever the policy (preview reason `busy_protected_post`), and never placed.

Only the overlapping sign-ups are released: later bookings are untouched, so after the order (closed or
cancelled) the released volunteers are simply back on their later shifts.

Serialisation: `before_place` locks the volunteer's row before the assignment is created, and every peacetime
booking path locks it too (`conflicts.lock_volunteer`, FOR UPDATE), so a booking and a placement of one volunteer
are checked one after the other: the booking then sees the live assignment (Overlap), or the placement sees the
booking (left alone, refused, or released). The placement takes the row in share mode (PostgreSQL FOR SHARE; on
SQLite BEGIN IMMEDIATE already serialises writers): it conflicts with a booking's FOR UPDATE but not with another
placement's share lock, so two matchers of different orders placing the same volunteers in different sequences
cannot deadlock on them. Waitlisted volunteers of a released shift are promoted by the roster sweep
(`staffing.promote_all`, every minute), not in the placement's transaction (which would lock more volunteers).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import numpy as np
from sqlalchemy import and_, bindparam, exists, func, select, update
from sqlalchemy.orm import Session, aliased

from mobilize.models import (
    PLACE_HOLDING,
    Assignment,
    Invitation,
    Order,
    OutboundMessage,
    PeacetimePolicy,
    Post,
    Shift,
    ShiftSignup,
    ShiftStatus,
    SignupStatus,
    Volunteer,
)
from mobilize.peacetime.config import RosterConfig
from mobilize.peacetime.conflicts import BUSY_SIGNUP
from mobilize.peacetime.errors import NotFound
from mobilize.wartime.audit import SYSTEM, record

RELEASE_REASON = "released_by_order"
# a volunteer on duty right now (checked in) is released too: the emergency comes first, unless the post is
# protected
RELEASABLE = BUSY_SIGNUP  # booked, checked_in


def _overlapping_signups(order: Order):
    """Busy sign-ups on shifts overlapping the order's window (with their post's protection)."""
    return (select(ShiftSignup.id, ShiftSignup.volunteer_id, ShiftSignup.shift_id, Post.protected)
            .join(Shift, Shift.id == ShiftSignup.shift_id).join(Post, Post.id == Shift.post_id)
            .where(ShiftSignup.status.in_(list(BUSY_SIGNUP)), Shift.status != ShiftStatus.cancelled,
                   Shift.starts_at < order.ends_at, Shift.ends_at > order.starts_at))


def leaves_roster_alone(order: Order) -> bool:
    """The `leave` policy (also for an order not yet saved, whose policy is still unset: the default)."""
    return order.peacetime_policy in (None, PeacetimePolicy.leave, PeacetimePolicy.leave.value)


def roster_busy(session: Session, order: Order) -> tuple[np.ndarray, np.ndarray]:
    """(volunteers on a protected post, volunteers on other shifts only) overlapping the window: id arrays."""
    protected: set[int] = set()
    other: set[int] = set()
    for _signup, volunteer_id, _shift, is_protected in session.execute(_overlapping_signups(order)):
        (protected if is_protected else other).add(volunteer_id)
    other -= protected
    return (np.array(sorted(protected), dtype=np.int64), np.array(sorted(other), dtype=np.int64))


# made once: a fresh alias builds its column proxies on first use, ~2 ms each, for every standby read (issue 15)
_SIGNUP, _SHIFT, _POST = aliased(ShiftSignup), aliased(Shift), aliased(Post)


def blocked_by_roster(order: Order):
    """SQL condition on the enclosing query's Volunteer: this volunteer may not be placed on the order because of
    the roster (on a protected post overlapping the window, or, under `leave`, on any overlapping shift). For
    `dispatch.standby_candidates` (so that a blocked standby volunteer is not planned batch after batch)."""
    signup, shift, post = _SIGNUP, _SHIFT, _POST
    conditions = [signup.volunteer_id == Volunteer.id, signup.status.in_(list(BUSY_SIGNUP)),
                  shift.id == signup.shift_id, shift.status != ShiftStatus.cancelled,
                  shift.starts_at < order.ends_at, shift.ends_at > order.starts_at, post.id == shift.post_id]
    if not leaves_roster_alone(order):
        conditions.append(post.protected.is_(True))
    return exists().where(and_(*conditions))


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str | None = None  # busy_protected_post | busy_peacetime_shift when refused
    release: tuple[int, ...] = ()  # sign-up ids to release once the assignment exists


def share_lock_volunteer(session: Session, volunteer_id: int) -> None:
    """The volunteer's row in share mode until the transaction ends (see the module's docstring)."""
    if session.scalar(_share_lock_statement(), {"locked_volunteer_id": volunteer_id}) is None:
        raise NotFound(f"no volunteer {volunteer_id}", details={"volunteer_id": volunteer_id})


@lru_cache(maxsize=1)
def _share_lock_statement():
    """`share_lock_volunteer`'s read, built once (every placement runs it)."""
    return select(Volunteer.id).where(Volunteer.id == bindparam("locked_volunteer_id")).with_for_update(read=True)


def before_place(session: Session, order: Order, volunteer_id: int) -> Decision:
    """Lock the volunteer (serialises with peacetime bookings) and decide whether the placement may go on."""
    share_lock_volunteer(session, volunteer_id)
    rows = session.execute(_overlapping_signups(order).where(ShiftSignup.volunteer_id == volunteer_id)).all()
    if any(is_protected for *_rest, is_protected in rows):
        return Decision(False, "busy_protected_post")
    if rows and leaves_roster_alone(order):
        return Decision(False, "busy_peacetime_shift")
    return Decision(True, None, tuple(row[0] for row in rows))


def order_people(session: Session, order_id: int) -> frozenset[int]:
    """Everyone in the order: invited (any answer) or assigned (any status)."""
    invited = select(Invitation.volunteer_id).where(Invitation.order_id == order_id)
    assigned = select(Assignment.volunteer_id).where(Assignment.order_id == order_id)
    return frozenset(session.scalars(invited.union(assigned)))


def release_for(session: Session, order: Order, assignment: Assignment, decision: Decision, now: datetime,
                cfg: RosterConfig | None = None) -> list[int]:
    """Release the overlapping sign-ups of a volunteer just placed (in the caller's transaction), then invite
    backfill to each freed place among nearby volunteers not in the order. Returns the released sign-up ids."""
    from mobilize.peacetime import (  # staffing imports wartime modules: imported when used
        gaps,
        staffing,
    )

    cfg = cfg or RosterConfig()
    released: list[int] = []
    for signup_id in decision.release:
        signup = session.get(ShiftSignup, signup_id)
        if signup is None or not staffing.end_signup(session, signup, SignupStatus.released, RELEASE_REASON, now,
                                                     from_statuses=RELEASABLE):
            continue
        session.execute(update(ShiftSignup).where(ShiftSignup.id == signup_id)
                        .values(released_by_order_id=order.id).execution_options(synchronize_session=False))
        session.refresh(signup)
        released.append(signup_id)
        record(session, SYSTEM, "shift.released", "shift_signup", signup_id, now, shift_id=signup.shift_id,
               volunteer_id=signup.volunteer_id, order_id=order.id, assignment_id=assignment.id)
    if released:
        exclude = order_people(session, order.id)
        for shift_id in sorted({session.get(ShiftSignup, sid).shift_id for sid in released}):
            shift = staffing.load_shift(session, shift_id)
            invited = gaps.invite_backfill(session, shift, now, cfg, exclude=exclude)
            record(session, SYSTEM, "shift.backfill_requested", "shift", shift_id, now, order_id=order.id,
                   invited=invited)
    return released


# --- the drill's report -----------------------------------------------------------------------------------------


def peacetime_report(session: Session, order: Order) -> dict:
    """The roster beside the order, for `mobilize drill --json` (key `peacetime`). Over the order's window
    [starts_at, ends_at), shifts not cancelled, as the database is now:

    - `shifts_overlapping`: shifts (not cancelled) whose window overlaps the order's.
    - `shifts_released`: distinct shifts with at least one sign-up released by this order
      (`released_by_order_id` = the order); `signups_released` counts the sign-ups themselves.
    - `protected_posts_total`: distinct protected posts with at least one overlapping shift.
    - `protected_posts_staffed`: of those, the posts none of whose sign-ups was released by the order and whose
      every overlapping shift holds at least one place-holding sign-up (booked, checked in or completed).
      `protected_posts` lists them all: post id, name, shifts, filled, capacity, staffed.
    - `gaps_backfilled`: places freed by this order's releases that were taken again: per released shift,
      min(sign-ups released there, place-holding sign-ups there booked at or after its first release); summed.
    - `backfill_invitations`: backfill SMS queued for the released shifts (by the release or the daily gap run).
    """
    overlapping = (select(Shift.id, Shift.post_id, Shift.filled, Shift.capacity, Post.protected, Post.name)
                   .join(Post, Post.id == Shift.post_id)
                   .where(Shift.status != ShiftStatus.cancelled, Shift.starts_at < order.ends_at,
                          Shift.ends_at > order.starts_at))
    shifts = session.execute(overlapping).all()
    released_rows = session.execute(
        select(ShiftSignup.shift_id, func.count(), func.min(ShiftSignup.ended_at))
        .where(ShiftSignup.released_by_order_id == order.id, ShiftSignup.status == SignupStatus.released)
        .group_by(ShiftSignup.shift_id)).all()
    released = {shift_id: (count, first) for shift_id, count, first in released_rows}

    protected: dict[int, dict] = {}
    for shift_id, post_id, filled, capacity, is_protected, name in shifts:
        if not is_protected:
            continue
        entry = protected.setdefault(post_id, {"post_id": post_id, "name": name, "shifts": 0, "filled": 0,
                                               "capacity": 0, "staffed": True})
        entry["shifts"] += 1
        entry["filled"] += filled
        entry["capacity"] += capacity
        if filled <= 0 or shift_id in released:
            entry["staffed"] = False

    backfilled = invitations = 0
    for shift_id, (count, first) in released.items():
        refilled = session.scalar(select(func.count()).select_from(ShiftSignup).where(
            ShiftSignup.shift_id == shift_id, ShiftSignup.status.in_(list(PLACE_HOLDING)),
            ShiftSignup.booked_at >= first))
        backfilled += min(count, int(refilled or 0))
        invitations += int(session.scalar(select(func.count()).select_from(OutboundMessage).where(
            OutboundMessage.dedupe_key.startswith(f"roster:backfill:shift:{shift_id}:"))) or 0)
    posts = sorted(protected.values(), key=lambda p: p["post_id"])
    return {
        "policy": "leave" if leaves_roster_alone(order) else "release",
        "shifts_overlapping": len(shifts),
        "shifts_released": len(released),
        "signups_released": sum(count for count, _ in released.values()),
        "protected_posts_staffed": sum(1 for p in posts if p["staffed"]),
        "protected_posts_total": len(posts),
        "protected_posts": posts,
        "gaps_backfilled": backfilled,
        "backfill_invitations": invitations,
    }
