"""The roster's side of the SMS conversation (called by `mobilize.conversation` in its transaction).

- 班次 / SHIFTS: a short list of open shifts near home with their codes (nearest first, one per post, within two
  segments); 班次2718 / SHIFT 2718 takes one (or joins its waitlist when full); 取消班次2718 / DROP SHIFT 2718
  leaves it (without a code: the volunteer's bookings, with codes).
- 换班357 / SWAP 357 and 不换班357 / NO SWAP 357 answer a swap request.
- 时长 / HOURS: certified hours, points and stars.
- 签到 / 签退 (ARRIVED / DONE) check in and out of the shift the volunteer is on now, unless a live wartime
  assignment claims the reply (see `handle_shift_check`).

Each handler returns the outcome stored on the inbound message, or None when the reply applies to nothing here
(the conversation then sends its not-understood help, at most once a day).
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from mobilize.domain.geo import haversine_matrix
from mobilize.domain.order_states import UNDERWAY_STATES
from mobilize.domain.replies import Intent
from mobilize.domain.segments import count_segments
from mobilize.domain.templates import MAX_SEGMENTS, render
from mobilize.domain.timefmt import format_window
from mobilize.models import (
    Assignment,
    Order,
    Post,
    Priority,
    Shift,
    ShiftSignup,
    ShiftStatus,
    SignupStatus,
    Site,
)
from mobilize.peacetime import messages, service, staffing, swaps
from mobilize.peacetime.config import RosterConfig
from mobilize.peacetime.conflicts import LIVE_ASSIGNMENT, busy
from mobilize.peacetime.errors import Conflict, Overlap, PeacetimeError
from mobilize.sms import outbox
from mobilize.wartime.audit import Actor

if TYPE_CHECKING:
    from mobilize.sms.exchange import Exchange

ROSTER_INTENTS = frozenset({Intent.SHIFTS, Intent.SHIFT_TAKE, Intent.SHIFT_LEAVE, Intent.SWAP_ACCEPT,
                            Intent.SWAP_DECLINE, Intent.HOURS})
CHECK_INTENTS = frozenset({Intent.ARRIVED, Intent.DONE})
LIST_SEPARATOR = {"zh": "；", "en": "; "}
MIN_LEAD = timedelta(minutes=30)  # shifts starting sooner are not offered by SMS


def _cfg(exchange: "Exchange") -> RosterConfig:
    return RosterConfig.from_settings(exchange.settings)


def _actor(exchange: "Exchange") -> Actor:
    return Actor.sms(exchange.volunteer.phone)


def handle_roster_reply(exchange: "Exchange") -> str | None:
    intent = exchange.parsed.intent
    if intent is Intent.HOURS:
        return _hours(exchange)
    if intent is Intent.SHIFTS:
        return _list_open(exchange)
    if intent is Intent.SHIFT_TAKE:
        return _take(exchange)
    if intent is Intent.SHIFT_LEAVE:
        return _leave(exchange)
    if intent in (Intent.SWAP_ACCEPT, Intent.SWAP_DECLINE):
        return _swap(exchange, intent is Intent.SWAP_ACCEPT)
    return None


# --- hours ---------------------------------------------------------------------------------------------------


def _hours(exchange: "Exchange") -> str:
    standing = service.standing(exchange.session, exchange.volunteer.id, _cfg(exchange))
    exchange.reply("hours_reply", hours=standing.hours, points=standing.points, stars=standing.stars)
    return "hours_sent"


# --- open shifts near home -----------------------------------------------------------------------------------


def open_shifts_near(exchange: "Exchange") -> list[Shift]:
    session, volunteer, now, cfg = exchange.session, exchange.volunteer, exchange.now, _cfg(exchange)
    horizon = now + timedelta(days=cfg.list_days)
    mine = select(ShiftSignup.shift_id).where(ShiftSignup.volunteer_id == volunteer.id,
                                              ShiftSignup.status.in_(["waitlisted", "booked", "checked_in"]))
    statement = (select(Shift).join(Post).join(Site).where(
        Shift.status == ShiftStatus.scheduled, Shift.filled < Shift.capacity, Post.active.is_(True),
        Shift.starts_at > now + MIN_LEAD, Shift.starts_at < horizon, Shift.id.not_in(mine))
        .options(selectinload(Shift.post).selectinload(Post.site), selectinload(Shift.post).selectinload(Post.role))
        .order_by(Shift.starts_at, Shift.id))
    if volunteer.lat is None or volunteer.lon is None:
        statement = statement.where(Site.street_id == volunteer.street_id)
    shifts = list(session.scalars(statement.limit(2000)))
    if not shifts:
        return []
    if volunteer.lat is not None and volunteer.lon is not None:
        distances = haversine_matrix([volunteer.lat], [volunteer.lon], [s.post.site.lat for s in shifts],
                                     [s.post.site.lon for s in shifts])[0]
        ranked = sorted((float(d), s.starts_at, s.id, s) for d, s in zip(distances, shifts) if d <= cfg.near_home_m)
        shifts = [entry[3] for entry in ranked]
    clashes = busy(session, [volunteer.id], now, horizon)
    free = [s for s in shifts if not any(c.starts_at < s.ends_at and c.ends_at > s.starts_at for c in clashes)]
    chosen, posts = [], set()
    for shift in free:  # one per post first: the nearest posts' next shifts
        if shift.post_id not in posts:
            chosen.append(shift)
            posts.add(shift.post_id)
        if len(chosen) >= cfg.list_max:
            break
    return chosen


def _entry(shift: Shift, language: str, zone: str) -> str:
    return f"{shift.code} {format_window(shift.starts_at, shift.ends_at, language, zone)} {shift.post.site.name}"


def fit_list(template: str, language: str, entries: list[str], **values) -> str | None:
    """The template with as many entries as fit in two segments (None if not even one fits)."""
    for count in range(len(entries), 0, -1):
        text = render(template, language, shifts=LIST_SEPARATOR[language].join(entries[:count]), **values)
        if count_segments(text).segments <= MAX_SEGMENTS:
            return text
    return None


def _send_text(exchange: "Exchange", template: str, body: str) -> None:
    """A text already rendered (a list fitted to two segments), as the answer to the volunteer's SMS."""
    outbox.queue_message(exchange.session, body=body, kind=template, priority=Priority.high,
                         volunteer=exchange.volunteer)


def _list_open(exchange: "Exchange") -> str:
    cfg, language = _cfg(exchange), exchange.volunteer.language
    shifts = open_shifts_near(exchange)
    body = fit_list("shift_list", language, [_entry(s, language, cfg.zone) for s in shifts],
                    code=shifts[0].code) if shifts else None
    if body is None:
        exchange.reply("shift_none", days=cfg.list_days)
        return "shifts_none"
    _send_text(exchange, "shift_list", body)
    return "shifts_listed"


# --- take, leave ---------------------------------------------------------------------------------------------


def _live_shift(exchange: "Exchange", code: str) -> Shift | None:
    return exchange.session.scalar(select(Shift).where(Shift.code == code, Shift.status == ShiftStatus.scheduled))


def _take(exchange: "Exchange") -> str:
    session, volunteer, now, cfg = exchange.session, exchange.volunteer, exchange.now, _cfg(exchange)
    code = exchange.parsed.code
    shift = _live_shift(exchange, code)
    if shift is None or shift.starts_at <= now:
        exchange.reply("shift_unavailable", code=code)
        return "shift_unavailable"
    try:
        result = staffing.sign_up(session, shift.id, volunteer.id, actor=_actor(exchange), now=now, cfg=cfg,
                                  source="sms", waitlist=True)
    except Overlap as clash:
        first = clash.details["overlaps"][0]
        window = format_window(datetime.fromisoformat(first["starts_at"]), datetime.fromisoformat(first["ends_at"]),
                               volunteer.language, cfg.zone)
        exchange.reply("shift_conflict", code=code, window=window)
        return "shift_conflict"
    except Conflict:
        exchange.reply("shift_unavailable", code=code)
        return "shift_unavailable"
    if result.outcome.startswith("already"):
        exchange.reply("shift_already", **messages.shift_values(shift, volunteer.language, cfg.zone))
        return f"shift_{result.outcome}"
    return f"shift_{result.outcome}"  # the booking or waitlist SMS is the answer


def _leave(exchange: "Exchange") -> str:
    session, volunteer, now, cfg = exchange.session, exchange.volunteer, exchange.now, _cfg(exchange)
    code = exchange.parsed.code
    if code is not None:
        signup = session.scalar(select(ShiftSignup).join(Shift).where(
            Shift.code == code, Shift.status == ShiftStatus.scheduled, ShiftSignup.volunteer_id == volunteer.id,
            ShiftSignup.status.in_(staffing.CANCELLABLE)))
        if signup is not None:
            try:
                staffing.cancel_signup(session, signup.id, actor=_actor(exchange), now=now, cfg=cfg)
                return "shift_left"
            except PeacetimeError:
                exchange.reply("shift_unavailable", code=code)
                return "shift_leave_refused"
    return _list_mine(exchange)


def _list_mine(exchange: "Exchange") -> str:
    session, volunteer, now, cfg = exchange.session, exchange.volunteer, exchange.now, _cfg(exchange)
    shifts = list(session.scalars(select(Shift).join(ShiftSignup).where(
        ShiftSignup.volunteer_id == volunteer.id, ShiftSignup.status.in_(staffing.CANCELLABLE),
        Shift.status == ShiftStatus.scheduled, Shift.starts_at > now)
        .options(selectinload(Shift.post).selectinload(Post.site)).order_by(Shift.starts_at).limit(10)))
    language = volunteer.language
    body = fit_list("shift_mine", language, [_entry(s, language, cfg.zone) for s in shifts]) if shifts else None
    if body is None:
        exchange.reply("shift_mine_none")
        return "shifts_mine_none"
    _send_text(exchange, "shift_mine", body)
    return "shifts_mine_listed"


# --- swaps ---------------------------------------------------------------------------------------------------


def _swap(exchange: "Exchange", accept: bool) -> str | None:
    session, volunteer, now = exchange.session, exchange.volunteer, exchange.now
    pending = swaps.pending_for(session, volunteer.id)
    code = exchange.parsed.code
    if code is not None:
        named = [s for s in pending if s.code == code]
        if not named:
            if pending:
                exchange.reply("swap_which", codes=[s.code for s in pending], code=pending[0].code)
                return "asked_which_swap"
            return None
        pending = named
    if not pending:
        return None
    if len(pending) > 1:
        exchange.reply("swap_which", codes=[s.code for s in pending], code=pending[0].code)
        return "asked_which_swap"
    try:
        swap = swaps.answer(session, pending[0].id, volunteer.id, accept, actor=_actor(exchange), now=now,
                            cfg=_cfg(exchange))
    except PeacetimeError:
        return None
    return f"swap_{swap.status.value}" if swap.status.value != "proposed" else "swap_accepted"


# --- check-in and check-out ----------------------------------------------------------------------------------


def _wartime_claims(exchange: "Exchange", cfg: RosterConfig) -> bool:
    """Does a live wartime assignment own this 签到/签退? Yes when the reply's code is one of the volunteer's live
    orders, or when an order they are dispatched to runs now (its window, from the check-in opening)."""
    session, volunteer, now = exchange.session, exchange.volunteer, exchange.now
    live = session.execute(select(Order.reply_code, Order.starts_at, Order.ends_at).join(
        Assignment, Assignment.order_id == Order.id).where(
        Assignment.volunteer_id == volunteer.id,
        Assignment.status.in_(list(LIVE_ASSIGNMENT)),
        Order.state.in_(list(UNDERWAY_STATES)))).all()  # a staffed order's dispatched still check in
    code = exchange.parsed.code
    early = timedelta(minutes=cfg.checkin_early_min)
    return any(code is not None and code == reply_code or starts_at - early <= now <= ends_at
               for reply_code, starts_at, ends_at in live)


def handle_shift_check(exchange: "Exchange") -> str | None:
    """签到/签退 for the shift the volunteer is on now (None: not about a shift; the wartime handler decides).

    Wartime first: a live assignment whose order runs now, or named by the reply's code, keeps the reply. A code
    that is not one of the volunteer's current shifts leaves the reply to the wartime handler too."""
    session, volunteer, now, cfg = exchange.session, exchange.volunteer, exchange.now, _cfg(exchange)
    if _wartime_claims(exchange, cfg):
        return None
    arrived = exchange.parsed.intent is Intent.ARRIVED
    early = timedelta(minutes=cfg.checkin_early_min)
    grace = timedelta(hours=cfg.checkout_grace_h)
    if arrived:  # from the check-in opening to the end
        window = [Shift.starts_at <= now + early, Shift.ends_at > now]
        statuses = [SignupStatus.booked, SignupStatus.checked_in]
    else:  # until a while after the end (the automatic check-out comes later)
        window = [Shift.starts_at <= now + early, Shift.ends_at > now - grace]
        statuses = [SignupStatus.checked_in, SignupStatus.completed]
    statement = select(ShiftSignup).join(Shift).where(
        ShiftSignup.volunteer_id == volunteer.id, ShiftSignup.status.in_(statuses), *window,
        or_(Shift.status == ShiftStatus.scheduled, Shift.status == ShiftStatus.ended)).order_by(
        Shift.starts_at.desc() if not arrived else Shift.starts_at)
    candidates = list(session.scalars(statement.options(selectinload(ShiftSignup.shift))))
    code = exchange.parsed.code
    if code is not None:
        candidates = [s for s in candidates if s.shift.code == code]
    if not candidates:
        return None
    open_ones = [s for s in candidates if s.status in (SignupStatus.booked, SignupStatus.checked_in)] if arrived \
        else [s for s in candidates if s.status is SignupStatus.checked_in]
    if not open_ones:
        return "shift_already_checked_in" if arrived else "shift_already_checked_out"
    signup = open_ones[0]
    if arrived and signup.status is SignupStatus.checked_in:
        return "shift_already_checked_in"
    try:
        if arrived:
            service.check_in(session, signup.id, actor=_actor(exchange), now=now, cfg=cfg, notify=True)
            return "shift_checked_in"
        service.check_out(session, signup.id, actor=_actor(exchange), now=now, cfg=cfg, notify=True)
        return "shift_checked_out"
    except PeacetimeError:
        return None
