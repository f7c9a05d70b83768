"""An order's life after the draft: launch, top up, and three endings never confused (DESIGN 3.7, issue 10):

- stop recruiting: enough people. Nobody more is invited or placed; unsent invitations are withdrawn; those on
  standby are thanked once; nobody who never answered is texted; dispatched volunteers are untouched.
- finish: at or after the window's start. Hours of those who came are certified and they are thanked; those
  dispatched who never came become no-shows.
- cancel: everyone who said yes or was dispatched is told it is off; silent invitees hear nothing.

Each locks the order, checks the transition (409 with the reason when illegal), changes everything it must in
one transaction, and is audited. `wartime.previews` runs them in a rolled-back savepoint to show beforehand
exactly which SMS they write."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from mobilize.domain.order_states import OrderAction
from mobilize.domain.timefmt import format_start
from mobilize.domain.service_time import service_hours
from mobilize.models import (
    Assignment,
    AssignmentStatus,
    Demand,
    Invitation,
    InvitationStatus,
    Order,
    OutboundMessage,
    OutboundStatus,
    Volunteer,
)
from mobilize.peacetime.service import certified_hours, record_wartime_service
from mobilize.wartime import audit, followups
from mobilize.wartime.audit import Actor
from mobilize.wartime.drafts import DemandSpec, check_demands
from mobilize.wartime.errors import Conflict, InvalidOrder, require_transition
from mobilize.wartime.messages import (
    DEFAULT_ZONE,
    called_off_key,
    invite_key_prefix,
    not_needed_key,
    not_needed_prefix,
    send,
)
from mobilize.wartime.places import NOT_YET_ARRIVED, end_assignment, lock_order, refresh_fill_state
from mobilize.wartime.standby import standby_filter

STILL_EXPECTED = NOT_YET_ARRIVED  # dispatched (proposed, notified) or confirmed, not on site
CALLED_OFF = NOT_YET_ARRIVED + (AssignmentStatus.arrived,)  # what a cancel ends (and tells)
NO_SHOW_REASON = "not_arrived_by_finish"
UNANSWERED = (InvitationStatus.queued, InvitationStatus.invited)


def launch(session: Session, order_id: int, actor: Actor, now: datetime) -> Order:
    """draft -> open; the first wave is requested at once."""
    order = lock_order(session, order_id)
    state = require_transition(order.id, order.state, OrderAction.launch)
    if order.ends_at <= now:
        raise Conflict(f"order {order.id}: cannot launch, its window is already over; edit the draft first",
                       code="window_over", details={"ends_at": order.ends_at.isoformat()})
    if not any(demand.capacity > 0 for demand in order.demands):
        raise InvalidOrder(f"order {order.id} has no places to fill", details={"demands": "no capacity"})
    if order.needed_by is not None and order.needed_by <= now:  # the draft waited past its deadline
        raise InvalidOrder(f"order {order.id}: its needed-by time has passed; edit the draft first",
                           details={"needed_by": "the needed-by time must be in the future"})
    order.state, order.launched_at = state, now
    audit.record(session, actor, "order.launched", "order", order.id, now, reply_code=order.reply_code)
    followups.request_wave(session, order.id)
    return order


def top_up(session: Session, order_id: int, additions: list[DemandSpec], actor: Actor, now: datetime) -> Order:
    """More places: `capacity` of each addition is added to the (site, role) demand, created if new.
    A filled order opens again; waves and matching are requested."""
    order = lock_order(session, order_id)
    require_transition(order.id, order.state, OrderAction.top_up)
    existing = {(d.site_id, d.role_id): d for d in order.demands}
    resolved = _check_top_up(session, additions, existing)
    for values in resolved:
        demand = existing.get((values["site_id"], values["role_id"]))
        if demand is None:
            order.demands.append(Demand(site_id=values["site_id"], role_id=values["role_id"],
                                        capacity=values["capacity"], filled=0,
                                        required_skill_id=values["required_skill_id"],
                                        accepts_provisional=values["accepts_provisional"]))
        else:  # a relative UPDATE: it never writes back a stale row
            session.execute(update(Demand).where(Demand.id == demand.id)
                            .values(capacity=Demand.capacity + values["capacity"])
                            .execution_options(synchronize_session=False))
    session.flush()
    session.expire_all()
    order = lock_order(session, order_id)
    refresh_fill_state(session, order, now)
    audit.record(session, actor, "order.topped_up", "order", order.id, now,
                 added=[{"site_id": v["site_id"], "role": v["role"], "capacity": v["capacity"]} for v in resolved])
    followups.request_match(session, order.id)
    followups.request_wave(session, order.id)
    return order


def _check_top_up(session: Session, additions: list[DemandSpec], existing: dict) -> list[dict]:
    problems: dict[str, str] = {}
    resolved = check_demands(session, additions, problems)
    if not problems:
        for index, (addition, values) in enumerate(zip(additions, resolved)):
            demand = existing.get((values["site_id"], values["role_id"]))
            if demand is not None and addition.skill and demand.required_skill_id != values["required_skill_id"]:
                problems[f"demands[{index}]"] = "this site and role already have a demand with another skill"
    if problems:
        raise InvalidOrder("invalid top up: " + "; ".join(f"{k}: {v}" for k, v in problems.items()),
                           details=problems)
    return resolved


@dataclass(frozen=True)
class Ending:
    order: Order
    told: int  # volunteers told by SMS (thanked, told they are not needed, or told it is off)
    released: int  # assignments ended (released, or no-shows)
    certified_hours: float = 0.0
    no_shows: int = 0  # dispatched volunteers who never arrived (finish)
    withdrawn: int = 0  # invitations still in the outbox, never sent
    lapsed: int = 0  # invitations sent but never answered: closed without a message


def stop_recruiting(session: Session, order_id: int, actor: Actor, now: datetime,
                    zone: str = DEFAULT_ZONE) -> Ending:
    """open/filled -> staffed: the command center has the people it will have.

    Invitations still in the outbox are withdrawn (never sent); invitations sent but never answered lapse without
    a message; volunteers on standby (said yes, not placed) get one "not needed this time, thank you"; dispatched,
    confirmed and arrived volunteers are untouched. From now on no wave invites and no matching places anyone
    (`order_states.RECRUITING_STATES`), and a later yes gets "all places are filled" (`replies`). Confirmations,
    drop-outs, arrivals and check-outs by SMS and officers' actions on existing assignments still work; a
    drop-out or no-show is NOT backfilled (recruiting is stopped): the place stays free."""
    order = lock_order(session, order_id)
    order.state = require_transition(order.id, order.state, OrderAction.stop_recruiting)
    order.recruiting_stopped_at = now
    withdrawn = len(_cancel_unsent_invitations(session, order.id, now, "withdrawn: recruiting stopped"))
    told = _thank_standby(session, order)
    lapsed = _lapse_unanswered(session, order.id)
    audit.record(session, actor, "order.recruiting_stopped", "order", order.id, now, told=told,
                 withdrawn=withdrawn, lapsed=lapsed)
    return Ending(order, told, 0, withdrawn=withdrawn, lapsed=lapsed)


def finish(session: Session, order_id: int, actor: Actor, now: datetime, zone: str = DEFAULT_ZONE) -> Ending:
    """open/filled/staffed -> closed, at or after the window's start (409 `window_not_started` before it).

    The hours of those who arrived are certified (time on site within the window) and they are thanked; those
    dispatched or confirmed who never arrived become no-shows (not cancelled, not texted). Nobody who never
    answered is texted; volunteers on standby get the "not needed" message unless stop recruiting already sent
    it."""
    order = lock_order(session, order_id)
    state = require_transition(order.id, order.state, OrderAction.finish)
    if now < order.starts_at:
        raise Conflict(
            f"order {order.id}: cannot finish before its window starts ({format_start(order.starts_at, 'en', zone)}); "
            "to end it now, stop recruiting (those dispatched still come) or cancel it (everyone who said yes is "
            "told it is off)", code="window_not_started", details={"starts_at": order.starts_at.isoformat()})
    order.state, order.closed_at = state, now
    withdrawn = len(_cancel_unsent_invitations(session, order.id, now, "withdrawn: the order finished"))
    told = _thank_standby(session, order)
    hours, thanked = _certify(session, order, now)
    no_shows = _mark_no_shows(session, order, now)
    lapsed = _lapse_unanswered(session, order.id)
    audit.record(session, actor, "order.finished", "order", order.id, now, certified_hours=round(hours, 2),
                 thanked=thanked, not_needed=told, no_shows=no_shows, withdrawn=withdrawn, lapsed=lapsed)
    return Ending(order, told + thanked, no_shows, hours, no_shows=no_shows, withdrawn=withdrawn, lapsed=lapsed)


def cancel(session: Session, order_id: int, actor: Actor, now: datetime, reason: str | None = None,
           zone: str = DEFAULT_ZONE) -> Ending:
    """Called off (from a draft too, which sends nothing). Everyone dispatched, confirmed or on site, and everyone
    who said yes (standby), is told it is off and their places are freed. Silent invitees get nothing now (their
    invitations lapse; a later reply gets the same "called off" text, see `replies`); unsent invitations are
    withdrawn; those whose service is already completed are left alone."""
    order = lock_order(session, order_id)
    order.state = require_transition(order.id, order.state, OrderAction.cancel)
    order.cancelled_at = now
    withdrawn = len(_cancel_unsent_invitations(session, order.id, now, "withdrawn: the order was cancelled"))
    to_tell, released = _release_all(session, order, now)
    to_tell |= set(session.scalars(select(Invitation.volunteer_id).where(
        Invitation.order_id == order.id, Invitation.status == InvitationStatus.accepted)))
    to_tell -= set(session.scalars(select(Assignment.volunteer_id).where(
        Assignment.order_id == order.id, Assignment.status == AssignmentStatus.completed)))
    # standby already told "not needed this time" (recruiting stopped) expect nothing more: a second text saying
    # "called off" would only confuse them
    to_tell -= set(session.scalars(select(OutboundMessage.volunteer_id).where(
        OutboundMessage.dedupe_key.startswith(not_needed_prefix(order.id)))))
    lapsed = _lapse_unanswered(session, order.id)
    session.execute(update(Invitation).where(Invitation.order_id == order.id,
                                             Invitation.status == InvitationStatus.accepted)
                    .values(status=InvitationStatus.cancelled).execution_options(synchronize_session=False))
    told = 0
    for volunteer in session.scalars(select(Volunteer).where(Volunteer.id.in_(sorted(to_tell)))
                                     .order_by(Volunteer.id)):
        told += send(session, volunteer, "order_cancelled", dedupe_key=called_off_key(order.id, volunteer.id),
                     code=order.reply_code, title=order.title) is not None
    audit.record(session, actor, "order.cancelled", "order", order.id, now, reason=reason, told=told,
                 released=released, withdrawn=withdrawn, lapsed=lapsed)
    return Ending(order, told, released, withdrawn=withdrawn, lapsed=lapsed)


def _thank_standby(session: Session, order: Order) -> int:
    """One "not needed this time, thank you" to each volunteer on standby (the dedupe key makes it once per
    order, whichever ending sends it)."""

    standby = session.scalars(select(Invitation).where(standby_filter(order.id))
                              .options(selectinload(Invitation.volunteer)).order_by(Invitation.volunteer_id)).all()
    told = 0
    for invitation in standby:
        told += send(session, invitation.volunteer, "not_needed",
                     dedupe_key=not_needed_key(order.id, invitation.volunteer_id),
                     code=order.reply_code, title=order.title) is not None
    return told


def _mark_no_shows(session: Session, order: Order, now: datetime) -> int:
    expected = session.scalars(select(Assignment).where(Assignment.order_id == order.id,
                                                        Assignment.status.in_(list(STILL_EXPECTED)))).all()
    return sum(end_assignment(session, a, AssignmentStatus.no_show, NO_SHOW_REASON, now) for a in expected)


def _release_all(session: Session, order: Order, now: datetime) -> tuple[set[int], int]:
    """Cancel: every assignment not completed ends (released); their volunteers are to be told."""
    ending = session.scalars(select(Assignment).where(Assignment.order_id == order.id,
                                                      Assignment.status.in_(list(CALLED_OFF)))).all()
    told: set[int] = set()
    for assignment in ending:
        if end_assignment(session, assignment, AssignmentStatus.released, "order_cancelled", now,
                          from_statuses=CALLED_OFF):
            told.add(assignment.volunteer_id)
    return told, len(told)


def _lapse_unanswered(session: Session, order_id: int) -> int:
    """Invitations never answered end without a message (a later reply is answered by `replies`)."""
    return session.execute(update(Invitation).where(Invitation.order_id == order_id,
                                                    Invitation.status.in_(list(UNANSWERED)))
                           .values(status=InvitationStatus.cancelled)
                           .execution_options(synchronize_session=False)).rowcount


def _certify(session: Session, order: Order, now: datetime) -> tuple[float, int]:
    """Arrived and completed assignments: hours on record, completed, thanked. (Hours, volunteers thanked.)"""
    on_site = session.scalars(select(Assignment).where(
        Assignment.order_id == order.id,
        Assignment.status.in_([AssignmentStatus.arrived, AssignmentStatus.completed]))
        .options(selectinload(Assignment.volunteer))).all()
    for assignment in on_site:
        left = assignment.completed_at or min(now, order.ends_at)
        assignment.status = AssignmentStatus.completed
        assignment.completed_at = left
        assignment.hours = service_hours(assignment.arrived_at, left, order.starts_at, order.ends_at)
    session.flush()
    for assignment in on_site:  # wartime service counts like peacetime service: certified hours, points, stars
        record_wartime_service(session, assignment, now)
    session.flush()
    totals = {vid: certified_hours(session, vid) for vid in {a.volunteer_id for a in on_site}}
    thanked = 0
    for assignment in on_site:
        thanked += send(session, assignment.volunteer, "thank_you", dedupe_key=f"thanks:assignment:{assignment.id}",
                        code=order.reply_code, title=order.title, hours=assignment.hours,
                        total_hours=totals.get(assignment.volunteer_id, assignment.hours)) is not None
    return float(sum(a.hours for a in on_site)), thanked


def _cancel_unsent_invitations(session: Session, order_id: int, now: datetime, why: str) -> set[int]:
    """Invitations still in the outbox are never sent; their volunteers never heard of the order. (Their dedupe
    keys stay: the order no longer recruits, so nobody is invited to it again.)"""
    rows = session.execute(update(OutboundMessage)
                           .where(OutboundMessage.status == OutboundStatus.pending,
                                  OutboundMessage.dedupe_key.startswith(invite_key_prefix(order_id)))
                           .values(status=OutboundStatus.cancelled, error_message=why, status_at=now)
                           .returning(OutboundMessage.volunteer_id)
                           .execution_options(synchronize_session=False)).all()
    return {row[0] for row in rows}
