"""The officer's check-in list of a street (issue 17): who is expected at the street's sites, bulk "arrived",
undo within a minute, who is missing once the order has started, and the drop-outs that free a place.

Reuses the board's officer actions (`board.officer_arrive`) for each person; a bulk check-in is one audit event
(`checkin.arrived`, subject the street) holding what each arrival changed, so that an undo restores exactly
that: the status and the confirmation time before, and the arrival SMS withdrawn if it is still in the outbox.
Both directions are conditional UPDATEs: two officers clicking at once change each place once (the second
finds it arrived already, or already undone). No Flask here: the views in `mobilize.web.ui.checkin` check who
may do it and in which street.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from mobilize.domain.order_states import UNDERWAY_STATES
from mobilize.models import (
    Assignment,
    AssignmentStatus,
    AuditEvent,
    Demand,
    Order,
    OutboundMessage,
    OutboundStatus,
    Site,
)
from mobilize.wartime import audit, board
from mobilize.wartime.audit import Actor
from mobilize.wartime.errors import Conflict, NotFound
from mobilize.wartime.optouts import OPT_OUT_REASON
from mobilize.wartime.places import NOT_YET_ARRIVED
from mobilize.wartime.timers import TIMEOUT_REASON

UNDO_SECONDS = 60
BATCH_ACTION = "checkin.arrived"
UNDONE_ACTION = "assignment.arrival_undone"
MAX_BATCH = 500  # ids in one bulk request: a street's people, never a whole district
DROPPED_OUT_REASON = "dropped_out"
# Why a place of the street opened again by itself (the officer's own release or no-show is not news to them).
ALERT_REASONS = (DROPPED_OUT_REASON, TIMEOUT_REASON, OPT_OUT_REASON)
LISTED = (*NOT_YET_ARRIVED, AssignmentStatus.arrived, AssignmentStatus.completed)


class WrongStreet(Exception):
    """An assignment or a batch that is not of the officer's street: nothing was changed."""


# --- the list ------------------------------------------------------------------------------------------------


@dataclass
class Person:
    assignment: Assignment
    order: Order
    missing: bool  # not arrived although the order has started
    undo_batch: int | None = None  # the check-in that can still be undone (within the minute)


@dataclass
class CheckinList:
    people: list[Person] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)

    @property
    def missing(self) -> list[Person]:
        return [person for person in self.people if person.missing]

    @property
    def arrived(self) -> int:
        return sum(person.assignment.status in board.ARRIVED_OR_LATER for person in self.people)

    now: datetime | None = None

    @property
    def started(self) -> bool:
        """An order of the street has started: who has not arrived is missing."""
        return any(order.starts_at <= self.now for order in self.orders)


def underway_orders(session: Session, street_id: int) -> list[Order]:
    return list(session.scalars(select(Order).where(
        Order.state.in_(list(UNDERWAY_STATES)),
        Order.demands.any(Demand.site.has(Site.street_id == street_id))).order_by(Order.starts_at, Order.id)))


def street_list(session: Session, street_id: int, now: datetime) -> CheckinList:
    """Everyone placed at this street's sites by an order under way, not yet gone: by site, role, name."""
    orders = underway_orders(session, street_id)
    result = CheckinList(orders=orders, now=now)
    by_id = {order.id: order for order in orders}
    if not orders:
        return result
    statement = (select(Assignment).join(Demand, Demand.id == Assignment.demand_id)
                 .join(Site, Site.id == Demand.site_id)
                 .where(Assignment.order_id.in_(list(by_id)), Site.street_id == street_id,
                        Assignment.status.in_(list(LISTED)))
                 .options(selectinload(Assignment.volunteer),
                          selectinload(Assignment.demand).selectinload(Demand.site),
                          selectinload(Assignment.demand).selectinload(Demand.role)))
    undoable = recent_batches(session, street_id, now)
    for assignment in session.scalars(statement):
        order = by_id[assignment.order_id]
        missing = assignment.status in NOT_YET_ARRIVED and order.starts_at <= now
        result.people.append(Person(assignment, order, missing, undoable.get(assignment.id)))
    result.people.sort(key=lambda p: (p.assignment.demand.site.name, p.assignment.demand.role_id,
                                      p.assignment.volunteer.name, p.assignment.id))
    return result


def recent_batches(session: Session, street_id: int, now: datetime) -> dict[int, int]:
    """{assignment id: batch id} of this street's check-ins still undoable (the latest batch wins)."""
    batches = session.scalars(select(AuditEvent).where(
        AuditEvent.action == BATCH_ACTION, AuditEvent.subject_type == "street",
        AuditEvent.subject_id == street_id, AuditEvent.at >= now - timedelta(seconds=UNDO_SECONDS))
        .order_by(AuditEvent.id))
    return {item["assignment_id"]: batch.id for batch in batches for item in batch.details.get("items", ())}


def matches(person: Person, query: str, sees_phones: bool) -> bool:
    """The search: part of the name, or (for those who may see numbers) the last digits of the phone."""
    query = query.strip()
    if not query:
        return True
    if query.isdigit():
        return sees_phones and person.assignment.volunteer.phone.endswith(query)
    return query.lower() in person.assignment.volunteer.name.lower()


# --- bulk arrival and its undo -------------------------------------------------------------------------------


@dataclass
class BatchResult:
    batch_id: int | None
    arrived: list[int] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)  # assignment id -> its status (already arrived...)


def street_assignments(session: Session, street_id: int, assignment_ids) -> list[Assignment]:
    """The assignments named, all of this street (else WrongStreet, NotFound: nothing loaded for a change)."""
    ids = sorted({int(i) for i in assignment_ids})
    if not ids:
        raise Conflict("choose at least one person", code="nothing_chosen")
    if len(ids) > MAX_BATCH:
        raise Conflict(f"at most {MAX_BATCH} people at once", code="too_many")
    rows = session.execute(select(Assignment.id, Site.street_id).join(Demand, Demand.id == Assignment.demand_id)
                           .join(Site, Site.id == Demand.site_id).where(Assignment.id.in_(ids))).all()
    found = dict(rows)
    if missing := [i for i in ids if i not in found]:
        raise NotFound(f"no assignment {missing[0]}", details={"assignment_id": missing[0]})
    if any(street != street_id for street in found.values()):
        raise WrongStreet()
    return [session.get(Assignment, i) for i in ids]  # by id: two bulk requests lock rows in the same order


def bulk_arrive(session: Session, street_id: int, assignment_ids, actor: Actor, now: datetime) -> BatchResult:
    """Mark each of them arrived (as the board's one-click action does); those no longer waiting to arrive are
    skipped and named. One audit event holds what changed, for the undo."""
    result = BatchResult(None)
    items = []
    for assignment in street_assignments(session, street_id, assignment_ids):
        before, confirmed_at = assignment.status, assignment.confirmed_at
        if before not in NOT_YET_ARRIVED:
            result.skipped[assignment.id] = before.value
            continue
        try:
            board.officer_arrive(session, assignment, actor, now)
        except Conflict:  # another officer (or the volunteer's SMS) was first: it is theirs, untouched
            session.refresh(assignment)
            result.skipped[assignment.id] = assignment.status.value
            continue
        result.arrived.append(assignment.id)
        items.append({"assignment_id": assignment.id, "order_id": assignment.order_id, "from": before.value,
                      "confirmed_at": confirmed_at.isoformat() if confirmed_at else None})
    if items:
        event = AuditEvent(actor=actor.name, actor_user_id=actor.user_id, action=BATCH_ACTION,
                           subject_type="street", subject_id=street_id, at=now,
                           details={"items": items, "arrived_at": now.isoformat()})
        session.add(event)
        session.flush()
        result.batch_id = event.id
    return result


@dataclass
class UndoResult:
    undone: list[int] = field(default_factory=list)
    unchanged: dict[int, str] = field(default_factory=dict)  # changed since (signed out, released, undone)
    sms_already_sent: list[int] = field(default_factory=list)


def batch(session: Session, street_id: int, batch_id: int) -> AuditEvent:
    event = session.get(AuditEvent, batch_id)
    if event is None or event.action != BATCH_ACTION:
        raise NotFound(f"no check-in {batch_id}", details={"batch_id": batch_id})
    if event.subject_type != "street" or event.subject_id != street_id:
        raise WrongStreet()
    return event


def undo(session: Session, street_id: int, batch_id: int, actor: Actor, now: datetime,
         assignment_ids=None) -> UndoResult:
    """Reverse a check-in (all of it, or the people named) within UNDO_SECONDS: each one back to the status and
    confirmation time it had, the arrival SMS withdrawn if not sent yet. Audited per person."""
    event = batch(session, street_id, batch_id)
    age = (now - event.at).total_seconds()
    if age > UNDO_SECONDS:
        raise Conflict(f"the check-in was {int(age)} s ago: it can be undone within {UNDO_SECONDS} s only",
                       code="undo_expired", details={"batch_id": batch_id, "age_s": int(age)})
    wanted = None if assignment_ids is None else {int(i) for i in assignment_ids}
    if wanted is not None and (unknown := wanted - {item["assignment_id"] for item in event.details["items"]}):
        raise NotFound(f"assignment {min(unknown)} is not in check-in {batch_id}",
                       details={"assignment_id": min(unknown), "batch_id": batch_id})
    arrived_at = datetime.fromisoformat(event.details["arrived_at"])
    result = UndoResult()
    for item in event.details.get("items", ()):
        assignment_id = item["assignment_id"]
        if wanted is not None and assignment_id not in wanted:
            continue
        confirmed_at = datetime.fromisoformat(item["confirmed_at"]) if item["confirmed_at"] else None
        changed = session.execute(
            update(Assignment).where(Assignment.id == assignment_id,
                                     Assignment.status == AssignmentStatus.arrived,
                                     Assignment.arrived_at == arrived_at)
            .values(status=AssignmentStatus(item["from"]), arrived_at=None, confirmed_at=confirmed_at)
            .execution_options(synchronize_session=False)).rowcount == 1
        if not changed:
            current = session.get(Assignment, assignment_id)
            session.refresh(current)
            result.unchanged[assignment_id] = current.status.value
            continue
        sms_withdrawn = _withdraw_arrival_sms(session, assignment_id, now)
        if not sms_withdrawn:
            result.sms_already_sent.append(assignment_id)
        result.undone.append(assignment_id)
        audit.record(session, actor, UNDONE_ACTION, "assignment", assignment_id, now, order_id=item["order_id"],
                     batch_id=batch_id, restored=item["from"], sms_withdrawn=sms_withdrawn)
    session.expire_all()
    return result


def _withdraw_arrival_sms(session: Session, assignment_id: int, now: datetime) -> bool:
    """The arrival acknowledgement, if still waiting in the outbox, is never sent (and frees its dedupe key for a
    real arrival later). False when it has already gone to the carrier (or there was none)."""
    return session.execute(
        update(OutboundMessage).where(OutboundMessage.dedupe_key == f"arrival:assignment:{assignment_id}",
                                      OutboundMessage.status == OutboundStatus.pending)
        .values(status=OutboundStatus.cancelled, dedupe_key=None, status_at=now)
        .execution_options(synchronize_session=False)).rowcount == 1


# --- alerts: a place of the street opened again by itself -------------------------------------------------------


@dataclass(frozen=True)
class Alert:
    assignment_id: int
    volunteer: str
    site: str
    role: object
    reason: str
    at: datetime
    order_code: str


def alerts(session: Session, street_id: int, since: datetime, limit: int = 30) -> list[Alert]:
    """Drop-outs, unconfirmed dispatches that timed out and opt-outs in this street's orders under way, after
    `since`: each freed a place that now needs backfilling. Newest first."""
    statement = (select(Assignment).join(Demand, Demand.id == Assignment.demand_id)
                 .join(Site, Site.id == Demand.site_id).join(Order, Order.id == Assignment.order_id)
                 .where(Site.street_id == street_id, Order.state.in_(list(UNDERWAY_STATES)),
                        Assignment.end_reason.in_(ALERT_REASONS), Assignment.ended_at > since)
                 .options(selectinload(Assignment.volunteer), selectinload(Assignment.order),
                          selectinload(Assignment.demand).selectinload(Demand.site),
                          selectinload(Assignment.demand).selectinload(Demand.role))
                 .order_by(Assignment.ended_at.desc(), Assignment.id.desc()).limit(limit))
    return [Alert(a.id, a.volunteer.name, a.demand.site.name, a.demand.role, a.end_reason, a.ended_at,
                  a.order.reply_code) for a in session.scalars(statement)]
