"""Capacity, enforced by the database. Every writer of an order's places or state goes through here.

- `lock_order` first, in every transaction that changes an order's places or state: on PostgreSQL a row lock
  (SELECT ... FOR UPDATE), on SQLite the write lock BEGIN IMMEDIATE already took. One lock, always taken first,
  so there is no lock-order deadlock, and one matcher at a time sees an order's whole standby (which keeps the
  micro-batch optimal).
- `reserve_place` is nevertheless an atomic conditional UPDATE (filled < capacity, rowcount 1 or nothing) and
  `place` relies on the partial unique index of active assignments: even a code path that forgot the lock can
  neither overfill a demand nor place a volunteer twice (the CHECK constraint is the last line behind both).
- `demands.filled` always equals the number of active assignments: it moves only with an assignment entering or
  leaving the active statuses, in the same transaction.
- `invitations.off_standby` says whether an assignment of the order keeps the volunteer off its standby
  (`keeps_off_standby`): set by `place`, set again from the assignments by `move_assignment`, in the same
  transaction, so that the standby's read touches the few waiting and not the thousands placed (issue 15).
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache
from types import SimpleNamespace

from sqlalchemy import and_, bindparam, delete, exists, func, or_, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from mobilize.domain.order_states import OrderAction
from mobilize.models import (
    ACTIVE_ASSIGNMENT,
    Assignment,
    AssignmentStatus,
    Demand,
    Invitation,
    InvitationStatus,
    Order,
    OrderState,
    OutboundMessage,
    OutboundStatus,
)
from mobilize.wartime import audit
from mobilize.wartime.errors import NotFound, require_transition
from mobilize.wartime.messages import invite_key_prefix

ACTIVE = tuple(AssignmentStatus(status) for status in ACTIVE_ASSIGNMENT)
# Active but not yet on site: what a drop-out, a timeout, a no-show or an officer's release can end.
NOT_YET_ARRIVED = (AssignmentStatus.proposed, AssignmentStatus.notified, AssignmentStatus.confirmed)
OFFICER_RELEASE_REASON = "released_by_officer"  # takes the volunteer out of the order (they may ask to come back)
_KEEPING = aliased(Assignment)  # `off_standby_now`'s (never correlated with an enclosing statement's)


def keeps_off_standby(assignment=Assignment):
    """The assignment keeps its volunteer off its order's standby: it holds a place (active), or an officer took
    them out (a no-show, a release by an officer). A timed-out dispatch or a drop-out does not: the volunteer who
    says yes again is standby again."""
    return or_(assignment.status.in_(list(ACTIVE) + [AssignmentStatus.no_show]),
               and_(assignment.status == AssignmentStatus.released,
                    assignment.end_reason == OFFICER_RELEASE_REASON))


def off_standby_now(order_id, volunteer_id):
    """Whether an assignment of the order keeps the volunteer off its standby, read from the assignments (SQL:
    the arguments may be columns of the enclosing statement)."""
    keeping = _KEEPING
    return exists().where(keeping.order_id == order_id, keeping.volunteer_id == volunteer_id,
                          keeps_off_standby(keeping))


def sync_off_standby(session: Session, assignment_id: int) -> None:
    """`invitations.off_standby` of the assignment's volunteer in its order set again from the assignments,
    after a change of the assignment's status or end reason (in the caller's transaction)."""
    session.execute(_statements().sync, {"assignment_id": assignment_id})


@lru_cache(maxsize=1)
def _statements() -> SimpleNamespace:
    """The statements of every placement, built once with bound parameters: building one (its cache key
    included) cost as much as running it, or several times as much (the mark's), thousands of times an hour."""
    theirs = select(Assignment.order_id, Assignment.volunteer_id).where(Assignment.id == bindparam("assignment_id"))
    now = off_standby_now(Invitation.order_id, Invitation.volunteer_id)
    no_sync = {"synchronize_session": False}
    return SimpleNamespace(
        # only a mark that changes is written (a confirmation or an arrival leaves the row alone)
        sync=update(Invitation).where(tuple_(Invitation.order_id, Invitation.volunteer_id).in_(theirs),
                                      Invitation.off_standby != now)
        .values(off_standby=now).execution_options(**no_sync),
        placed=update(Invitation).where(Invitation.order_id == bindparam("placed_order_id"),
                                        Invitation.volunteer_id == bindparam("placed_volunteer_id"))
        .values(off_standby=True).execution_options(**no_sync),
        lock_order=select(Order).where(Order.id == bindparam("locked_order_id")).with_for_update()
        .execution_options(populate_existing=True),
        reserve=update(Demand).where(Demand.id == bindparam("reserved_demand_id"), Demand.filled < Demand.capacity)
        .values(filled=Demand.filled + 1).execution_options(**no_sync))


def lock_order(session: Session, order_id: int) -> Order:
    """The order, locked until the transaction ends, with fresh values (NotFound if there is none)."""
    order = session.scalar(_statements().lock_order, {"locked_order_id": order_id})
    if order is None:
        raise NotFound(f"no order {order_id}", details={"order_id": order_id})
    return order


def reserve_place(session: Session, demand_id: int) -> bool:
    """Take one place of the demand if one is free: an atomic conditional UPDATE, True if it took one."""
    return session.execute(_statements().reserve, {"reserved_demand_id": demand_id}).rowcount == 1


def place(session: Session, order_id: int, demand_id: int, volunteer_id: int, now: datetime, *,
          distance_m: float | None = None, backfill: bool = False,
          status: AssignmentStatus = AssignmentStatus.notified, confirm_by: datetime | None = None
          ) -> Assignment | None:
    """Reserve a place and create the assignment together, in a savepoint: None (and nothing changed) when the
    demand is full or the volunteer already has an active assignment in this order."""
    # Peacetime coexistence (issue 5): lock the volunteer as every roster booking does, then apply the order's
    # peacetime policy: refused (None) when on a protected post overlapping the window, or on any overlapping
    # shift under `leave`; under `release` the overlapping sign-ups are released below, in this savepoint.
    # (Imported here: the roster imports wartime modules.)
    from mobilize.peacetime import coexistence

    order = session.get(Order, order_id)
    decision = coexistence.before_place(session, order, volunteer_id) if order is not None else None
    if decision is not None and not decision.allowed:
        return None
    pending_kicks = {key: set(value) for key, value in session.info.items() if isinstance(value, set)}
    try:
        with session.begin_nested():
            if not reserve_place(session, demand_id):
                return None
            assignment = Assignment(order_id=order_id, demand_id=demand_id, volunteer_id=volunteer_id,
                                    status=status, distance_m=distance_m, backfill=backfill, created_at=now,
                                    notified_at=now, confirm_by=confirm_by, notes="")
            session.add(assignment)
            session.flush()  # the partial unique index speaks here
            session.execute(_statements().placed,
                            {"placed_order_id": order_id, "placed_volunteer_id": volunteer_id})
            if decision is not None and decision.release:  # issue 5: release overlapping shifts, backfill them
                coexistence.release_for(session, order, assignment, decision, now)
    except IntegrityError:
        # A concurrent placement of the same volunteer won; the savepoint undid our reservation. Rolling back a
        # savepoint fires after_soft_rollback, which forgets the whole transaction's sender kicks: put them back.
        session.info.update(pending_kicks)
        return None
    return assignment


def move_assignment(session: Session, assignment_id: int, from_statuses: Iterable[AssignmentStatus],
                    **values) -> bool:
    """Change an assignment's fields only if it is still in one of `from_statuses` (a conditional UPDATE, so a
    timeout and a confirmation arriving together cannot both win). Does not touch places: see `end_assignment`."""
    result = session.execute(update(Assignment)
                             .where(Assignment.id == assignment_id, Assignment.status.in_(list(from_statuses)))
                             .values(**values).execution_options(synchronize_session=False))
    moved = result.rowcount == 1
    # the mark follows an assignment's end (moved into an active status, a confirmation or an arrival, the
    # volunteer still holds a place: still marked)
    status = values.get("status")
    if moved and ((status is not None and status not in ACTIVE) or "end_reason" in values):
        sync_off_standby(session, assignment_id)
    return moved


def end_assignment(session: Session, assignment: Assignment, status: AssignmentStatus, reason: str,
                   now: datetime, from_statuses: Iterable[AssignmentStatus] = NOT_YET_ARRIVED) -> bool:
    """Release / no-show / decline an active assignment and free its place, in the caller's transaction (which
    holds the order lock). False if it was no longer in `from_statuses`."""
    if status.value in ACTIVE_ASSIGNMENT:
        raise ValueError(f"{status.value} is not an ending status")
    if not move_assignment(session, assignment.id, from_statuses, status=status, ended_at=now, end_reason=reason):
        return False
    session.execute(update(Demand).where(Demand.id == assignment.demand_id, Demand.filled > 0)
                    .values(filled=Demand.filled - 1).execution_options(synchronize_session=False))
    session.refresh(assignment)
    return True


def open_places(session: Session, order_id: int) -> int:
    return int(session.scalar(select(func.coalesce(func.sum(Demand.capacity - Demand.filled), 0))
                              .where(Demand.order_id == order_id)))


def refresh_fill_state(session: Session, order: Order, now: datetime) -> OrderState:
    """open <-> filled from the demands as they are now (the caller holds the order lock). Audited."""
    if order.state not in (OrderState.open, OrderState.filled):
        return order.state
    demands, short = session.execute(
        select(func.count(), func.count().filter(Demand.filled < Demand.capacity))
        .where(Demand.order_id == order.id)
    ).one()
    if order.state is OrderState.open and demands and not short:
        action = OrderAction.fill
    elif order.state is OrderState.filled and short:
        action = OrderAction.reopen
    else:
        return order.state
    order.state = require_transition(order.id, order.state, action)
    if action is OrderAction.fill:
        order.filled_at = now
    audit.record(session, audit.SYSTEM, f"order.{order.state.value}", "order", order.id, now,
                 reason="every demand is full" if action is OrderAction.fill else "a place is free again")
    if action is OrderAction.fill:
        withdraw_unsent_invitations(session, order, now)
    return order.state


WITHDRAW_CHUNK = 500  # ids per statement (SQLite allows 32766 parameters)


def withdraw_unsent_invitations(session: Session, order: Order, now: datetime) -> int:
    """An order that fills stops inviting (DESIGN 3: "inviting stops when it is"): invitations still waiting in
    the outbox are never sent. Their volunteers never heard of the order, so their invitation rows go too: should
    the order be short again, a later wave may still invite them, nearest first, and each of them still receives
    at most one invitation (the withdrawn SMS is cancelled and loses its dedupe key, so the new one can be
    written). Messages a sender has already claimed (`sending`) go out as usual. Returns how many were withdrawn."""
    candidates = session.scalars(select(OutboundMessage.id).join(
        Invitation, (Invitation.volunteer_id == OutboundMessage.volunteer_id) & (Invitation.order_id == order.id))
        .where(OutboundMessage.status == OutboundStatus.pending,
               OutboundMessage.dedupe_key.startswith(invite_key_prefix(order.id)),
               Invitation.status == InvitationStatus.invited,
               # someone placed in this order has heard of it, whatever the outbox says
               ~exists().where(Assignment.order_id == order.id,
                               Assignment.volunteer_id == Invitation.volunteer_id))).all()
    withdrawn = 0
    for start in range(0, len(candidates), WITHDRAW_CHUNK):
        # conditional: a sender may claim a message meanwhile (PostgreSQL); only what is still pending is withdrawn
        volunteer_ids = session.scalars(
            update(OutboundMessage).where(OutboundMessage.id.in_(candidates[start:start + WITHDRAW_CHUNK]),
                                          OutboundMessage.status == OutboundStatus.pending)
            .values(status=OutboundStatus.cancelled, dedupe_key=None, status_at=now,
                    error_message="withdrawn: the order filled before it was sent")
            .returning(OutboundMessage.volunteer_id).execution_options(synchronize_session=False)).all()
        session.execute(delete(Invitation).where(Invitation.order_id == order.id,
                                                 Invitation.volunteer_id.in_(volunteer_ids),
                                                 Invitation.status == InvitationStatus.invited)
                        .execution_options(synchronize_session=False))
        withdrawn += len(volunteer_ids)
    if withdrawn:
        audit.record(session, audit.SYSTEM, "order.invitations_withdrawn", "order", order.id, now,
                     withdrawn=withdrawn)
    return withdrawn
