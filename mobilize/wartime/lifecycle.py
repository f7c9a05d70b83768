"""An order's life after the draft: launch, top up, cancel, close. Each locks the order, checks the transition
(409 with the reason when illegal), changes everything it must in one transaction, and is audited."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from mobilize.domain.order_states import OrderAction
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
from mobilize.wartime.messages import DEFAULT_ZONE, invite_key_prefix, send
from mobilize.wartime.places import end_assignment, lock_order, refresh_fill_state

STILL_EXPECTED = (AssignmentStatus.proposed, AssignmentStatus.notified, AssignmentStatus.confirmed)


def launch(session: Session, order_id: int, actor: Actor, now: datetime) -> Order:
    """draft -> open; the first wave is requested at once."""
    order = lock_order(session, order_id)
    state = require_transition(order.id, order.state, OrderAction.launch)
    if order.ends_at <= now:
        raise Conflict(f"order {order.id}: cannot launch, its window is already over; edit the draft first",
                       code="window_over", details={"ends_at": order.ends_at.isoformat()})
    if not any(demand.capacity > 0 for demand in order.demands):
        raise InvalidOrder(f"order {order.id} has no places to fill", details={"demands": "no capacity"})
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
    told: int  # volunteers told by SMS
    released: int  # assignments ended
    certified_hours: float = 0.0


def cancel(session: Session, order_id: int, actor: Actor, now: datetime, reason: str | None = None,
           zone: str = DEFAULT_ZONE) -> Ending:
    """Everyone with an active assignment or a pending invitation is told the order is off; places are freed."""
    order = lock_order(session, order_id)
    order.state = require_transition(order.id, order.state, OrderAction.cancel)
    order.cancelled_at = now
    told, released = _call_off(session, order, now, AssignmentStatus.released, "order_cancelled",
                               assignments=STILL_EXPECTED + (AssignmentStatus.arrived,), tell=True)
    audit.record(session, actor, "order.cancelled", "order", order.id, now, reason=reason, told=told,
                 released=released)
    return Ending(order, told, released)


def close(session: Session, order_id: int, actor: Actor, now: datetime, zone: str = DEFAULT_ZONE) -> Ending:
    """Certify the hours of everyone who arrived (time on site within the window) and thank them. Closing before
    the window ends also tells those still expected or waiting that they are not needed."""
    order = lock_order(session, order_id)
    order.state = require_transition(order.id, order.state, OrderAction.close)
    order.closed_at = now
    hours = _certify(session, order, now)
    told, released = _call_off(session, order, now, AssignmentStatus.released, "order_closed",
                               assignments=STILL_EXPECTED, tell=now < order.ends_at)
    audit.record(session, actor, "order.closed", "order", order.id, now, certified_hours=round(hours, 2),
                 told=told, released=released)
    return Ending(order, told, released, hours)


def _certify(session: Session, order: Order, now: datetime) -> float:
    """Arrived and completed assignments: hours on record, completed, thanked."""
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
    for assignment in on_site:
        send(session, assignment.volunteer, "thank_you", dedupe_key=f"thanks:assignment:{assignment.id}",
             code=order.reply_code, title=order.title, hours=assignment.hours,
             total_hours=totals.get(assignment.volunteer_id, assignment.hours))
    return float(sum(a.hours for a in on_site))


def _call_off(session: Session, order: Order, now: datetime, status: AssignmentStatus, reason: str, *,
              assignments: tuple[AssignmentStatus, ...], tell: bool) -> tuple[int, int]:
    """End the assignments in `assignments` and the open invitations; tell those who know about the order."""
    never_sent = _cancel_unsent_invitations(session, order.id, now)
    ending = session.scalars(select(Assignment).where(Assignment.order_id == order.id,
                                                      Assignment.status.in_(list(assignments)))).all()
    to_tell: set[int] = set()
    released = 0
    for assignment in ending:
        if end_assignment(session, assignment, status, reason, now, from_statuses=assignments):
            released += 1
            to_tell.add(assignment.volunteer_id)
    served = set(session.scalars(select(Assignment.volunteer_id).where(
        Assignment.order_id == order.id, Assignment.status == AssignmentStatus.completed)))
    waiting = session.scalars(select(Invitation).where(
        Invitation.order_id == order.id,
        Invitation.status.in_([InvitationStatus.queued, InvitationStatus.invited, InvitationStatus.accepted]))
    ).all()
    for invitation in waiting:
        if invitation.status is not InvitationStatus.accepted or reason == "order_cancelled":
            invitation.status = InvitationStatus.cancelled
        if invitation.volunteer_id not in never_sent and invitation.volunteer_id not in served:
            to_tell.add(invitation.volunteer_id)
    if not tell:
        return 0, released
    told = 0
    for volunteer in session.scalars(select(Volunteer).where(Volunteer.id.in_(sorted(to_tell)))):
        message = send(session, volunteer, "order_cancelled",
                       dedupe_key=f"called_off:order:{order.id}:volunteer:{volunteer.id}",
                       code=order.reply_code, title=order.title)
        told += message is not None
    return told, released


def _cancel_unsent_invitations(session: Session, order_id: int, now: datetime) -> set[int]:
    """Invitations still in the outbox are never sent; their volunteers never heard of the order."""
    rows = session.execute(update(OutboundMessage)
                           .where(OutboundMessage.status == OutboundStatus.pending,
                                  OutboundMessage.dedupe_key.startswith(invite_key_prefix(order_id)))
                           .values(status=OutboundStatus.cancelled, error_message="order called off", status_at=now)
                           .returning(OutboundMessage.volunteer_id)
                           .execution_options(synchronize_session=False)).all()
    return {row[0] for row in rows}
