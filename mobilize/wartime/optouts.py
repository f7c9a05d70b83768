"""An opt-out frees the volunteer's places at once (DESIGN 7; issue 10, item 5).

Both ways a volunteer opts out go through `release_opted_out`: an SMS (STOP, TD, 退订...: the conversation)
and Twilio's error 21610 on a send (the sender). In every order under way (recruiting, or staffed: recruiting
stopped, the dispatched still serve) the volunteer's dispatch that has not reached the site yet is released
(end reason `opted_out`) and its place goes back to the order; while it recruits, as a backfill vacancy, so
matching gives it to the standby at once, and a wave follows if nobody waits. Their acceptances
are withdrawn too, so they are nobody's standby even if they opt in again (a "Y" with the order's code takes
them back, as after any decline). Nothing is sent to them: the opt-out confirmation, written by the
conversation, is the only message they get, and whatever still waited for them in the outbox is cancelled.

Locks (see `places`): the orders first, in id order, then the volunteer's row (marking the opt-out). Matching
takes its order's lock and then the volunteer's row (`coexistence.before_place`), so the other way round
would deadlock on PostgreSQL; holding the orders' locks also keeps matching from placing the volunteer
meanwhile.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from mobilize.domain.order_states import UNDERWAY_STATES
from mobilize.models import Assignment, AssignmentStatus, Invitation, InvitationStatus, Order, Volunteer
from mobilize.sms import outbox
from mobilize.wartime import audit, followups
from mobilize.wartime.places import NOT_YET_ARRIVED, end_assignment, lock_order, refresh_fill_state

OPT_OUT_REASON = "opted_out"


def release_opted_out(session: Session, volunteer_id: int, now: datetime,
                      actor: audit.Actor = audit.SYSTEM) -> int:
    """Mark the volunteer opted out (idempotent) and release their places in orders under way, in the caller's
    transaction. Returns how many assignments were released. Someone already on site (arrived) keeps their
    place: the opt-out is about messages, and their hours are still certified."""
    locked = {order_id: lock_order(session, order_id) for order_id in _orders_involved(session, volunteer_id)}
    outbox.mark_opted_out(session, volunteer_id, now)
    _forget_loaded(session, volunteer_id)
    freed: dict[int, Order] = {}  # one live place per volunteer and order: as many as were released
    for assignment in _live_assignments(session, volunteer_id):
        # An order missing from the first look: the acceptance and the placement both committed in between
        # (another worker processed a reply of theirs). Locked now, out of id order: the batch that placed
        # them has committed, so it no longer holds that lock.
        order = locked.get(assignment.order_id) or lock_order(session, assignment.order_id)
        locked[order.id] = order
        if end_assignment(session, assignment, AssignmentStatus.released, OPT_OUT_REASON, now):
            freed[order.id] = order
            audit.record(session, actor, "assignment.opted_out", "assignment", assignment.id, now,
                         order_id=order.id, demand_id=assignment.demand_id, volunteer_id=volunteer_id)
    for invitation in _acceptances(session, volunteer_id, list(locked)):
        invitation.status, invitation.answered_at = InvitationStatus.declined, now
        audit.record(session, actor, "invitation.opted_out", "invitation", invitation.id, now,
                     order_id=invitation.order_id, volunteer_id=volunteer_id)
    for order in freed.values():
        refresh_fill_state(session, order, now)  # a filled order is open again
        followups.request_match(session, order.id)  # the standby first (if it recruits); then waves
    return len(freed)


def _orders_involved(session: Session, volunteer_id: int) -> list[int]:
    """Orders under way where the volunteer holds a place or is on standby (accepted), in id order: the
    order in which every transaction that locks several orders takes them."""
    placed = select(Assignment.order_id).where(Assignment.volunteer_id == volunteer_id,
                                               Assignment.status.in_(list(NOT_YET_ARRIVED)))
    accepted = select(Invitation.order_id).where(Invitation.volunteer_id == volunteer_id,
                                                 Invitation.status == InvitationStatus.accepted)
    return list(session.scalars(select(Order.id).where(
        Order.state.in_(list(UNDERWAY_STATES)), or_(Order.id.in_(placed), Order.id.in_(accepted)))
        .order_by(Order.id)))


def _live_assignments(session: Session, volunteer_id: int) -> list[Assignment]:
    """Read after the locks: what a matching batch committed while we waited is there too."""
    return list(session.scalars(select(Assignment).join(Order, Order.id == Assignment.order_id).where(
        Assignment.volunteer_id == volunteer_id, Assignment.status.in_(list(NOT_YET_ARRIVED)),
        Order.state.in_(list(UNDERWAY_STATES))).order_by(Assignment.order_id)
        .execution_options(populate_existing=True)))


def _acceptances(session: Session, volunteer_id: int, order_ids: list[int]) -> list[Invitation]:
    if not order_ids:
        return []
    return list(session.scalars(select(Invitation).where(
        Invitation.volunteer_id == volunteer_id, Invitation.order_id.in_(order_ids),
        Invitation.status == InvitationStatus.accepted).execution_options(populate_existing=True)))


def _forget_loaded(session: Session, volunteer_id: int) -> None:
    """The opt-out was written by an UPDATE statement: a Volunteer already loaded in this session must not go
    on saying "not opted out" (the outbox refuses messages by reading it)."""
    session.get(Volunteer, volunteer_id, populate_existing=True)
