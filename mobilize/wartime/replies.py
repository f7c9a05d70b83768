"""What an SMS answer does to the volunteer's orders: accept, decline, drop out, confirm, arrive, sign out.

Which order a reply is about: the code in it (Y27) names the order. A bare reply (Y) applies only when exactly one
of the volunteer's open orders can take that answer; with several, the volunteer is asked which (the codes are
listed), never guessed. Every applied answer leaves a Response row and an audit event; replies go out through
the outbox in the same transaction (`conversation` runs us inside the one that marks the inbound processed).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Callable

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from mobilize.domain.order_states import ENDED_STATES, RECRUITING_STATES, UNDERWAY_STATES
from mobilize.domain.replies import Intent
from mobilize.domain.service_time import service_hours
from mobilize.models import (
    Assignment,
    AssignmentStatus,
    Invitation,
    InvitationStatus,
    Order,
    OrderState,
    OutboundMessage,
    OutboundStatus,
    Response,
    Volunteer,
)
from mobilize.wartime import audit, followups
from mobilize.wartime.dispatch import standby_filter
from mobilize.wartime.messages import DEFAULT_ZONE, called_off_key, dispatch_values, full_key, invite_key, send
from mobilize.wartime.places import (
    ACTIVE,
    NOT_YET_ARRIVED,
    end_assignment,
    lock_order,
    move_assignment,
    refresh_fill_state,
)

if TYPE_CHECKING:
    from mobilize.sms.exchange import Exchange


class Stage(str, enum.Enum):
    """Where a volunteer stands in one order."""

    invited = "invited"  # awaiting their answer
    standby = "standby"  # accepted, not placed
    dispatched = "dispatched"  # placed, not yet confirmed
    confirmed = "confirmed"
    arrived = "arrived"
    completed = "completed"
    declined = "declined"  # said no (or dropped out): a "yes" naming the order by its code takes them back
    other = "other"  # accepted but taken out (no-show, released by an officer): nothing to answer


# The stages an answer can apply to; a bare answer is ambiguous when it applies in several orders.
APPLIES_TO: dict[Intent, frozenset[Stage]] = {
    Intent.ACCEPT: frozenset({Stage.invited, Stage.standby, Stage.dispatched, Stage.confirmed}),
    Intent.DECLINE: frozenset({Stage.invited, Stage.standby, Stage.dispatched, Stage.confirmed}),
    Intent.DROP_OUT: frozenset({Stage.invited, Stage.standby, Stage.dispatched, Stage.confirmed}),
    Intent.ARRIVED: frozenset({Stage.dispatched, Stage.confirmed, Stage.arrived}),
    Intent.DONE: frozenset({Stage.arrived, Stage.completed}),
}
# Only when the reply names the order by its code: a bare "Y" never revives an invitation the volunteer declined.
BY_CODE_ONLY: dict[Intent, frozenset[Stage]] = {Intent.ACCEPT: frozenset({Stage.declined})}
_BY_STATUS = {AssignmentStatus.proposed: Stage.dispatched, AssignmentStatus.notified: Stage.dispatched,
              AssignmentStatus.confirmed: Stage.confirmed, AssignmentStatus.arrived: Stage.arrived,
              AssignmentStatus.completed: Stage.completed}


@dataclass
class Standing:
    order: Order
    invitation: Invitation | None
    assignment: Assignment | None  # the active one, if any
    stage: Stage


def standings(session: Session, volunteer_id: int) -> list[Standing]:
    """The volunteer's place in every order under way they were invited to or placed in, by order id. In an order
    that no longer recruits (staffed) only a live assignment stands: an invitation or a standby there can take no
    answer (a later yes is told the places are filled, see `answer_ended_order`)."""
    statements = _standing_statements()
    orders = {o.id: o for o in session.scalars(statements.orders)}
    if not orders:
        return []
    theirs = {"volunteer_id": volunteer_id, "order_ids": list(orders)}
    invitations = {i.order_id: i for i in session.scalars(statements.invitations, theirs)}
    assignments = {a.order_id: a for a in session.scalars(statements.assignments, theirs)}
    standby = _standby_orders(session, invitations, statements.standby)
    result = []
    for order_id in sorted(set(invitations) | set(assignments)):
        invitation, assignment = invitations.get(order_id), assignments.get(order_id)
        if assignment is None and orders[order_id].state not in RECRUITING_STATES:
            continue
        result.append(Standing(orders[order_id], invitation, assignment,
                               _stage(invitation, assignment, order_id in standby)))
    return result


@dataclass(frozen=True)
class _StandingStatements:
    orders: Select
    invitations: Select
    assignments: Select
    standby: Select


@lru_cache(maxsize=1)
def _standing_statements() -> _StandingStatements:
    """`standings`' statements, built once with bound parameters: building them cost more than running them (every
    answer reads its sender's standings, thousands a minute at district scale, issue 15)."""
    volunteer, order_ids = bindparam("volunteer_id"), bindparam("order_ids", expanding=True)
    return _StandingStatements(
        orders=select(Order).where(Order.state.in_(list(UNDERWAY_STATES))),
        invitations=select(Invitation).where(
            Invitation.volunteer_id == volunteer, Invitation.order_id.in_(order_ids),
            Invitation.status.in_([InvitationStatus.invited, InvitationStatus.accepted, InvitationStatus.declined])),
        assignments=select(Assignment).where(Assignment.volunteer_id == volunteer, Assignment.order_id.in_(order_ids),
                                             Assignment.status.in_(list(ACTIVE))),
        standby=select(Invitation.id).where(Invitation.id == bindparam("invitation_id"),
                                            standby_filter(bindparam("order_id"), bindparam("volunteer_id"))))


def _standby_orders(session: Session, invitations: dict[int, Invitation], standby: Select) -> set[int]:
    """The orders whose standby the volunteer is in, of those whose invitation they accepted (`standby`: one
    accepted invitation's check, `_StandingStatements.standby`)."""
    return {i.order_id for i in invitations.values() if i.status is InvitationStatus.accepted and session.scalar(
        standby, {"invitation_id": i.id, "order_id": i.order_id, "volunteer_id": i.volunteer_id})}


def _stage(invitation: Invitation | None, assignment: Assignment | None, standby: bool) -> Stage:
    if assignment is not None:
        return _BY_STATUS[assignment.status]
    if invitation is not None and invitation.status is InvitationStatus.invited:
        return Stage.invited
    if invitation is not None and invitation.status is InvitationStatus.declined:
        return Stage.declined
    return Stage.standby if standby else Stage.other


# --- entry point from the conversation ---------------------------------------------------------------------


def handle_order_reply(exchange: "Exchange", zone: str | None = None) -> str | None:
    """Apply an order answer; the outcome for the record, or None when it applies to nothing (the conversation
    then sends its not-understood help, at most once a day)."""
    session, volunteer, parsed = exchange.session, exchange.volunteer, exchange.parsed
    zone = zone or getattr(exchange.settings, "timezone", None) or DEFAULT_ZONE
    every = standings(session, volunteer.id)
    relevant = [s for s in every if s.stage in APPLIES_TO[parsed.intent]]
    if parsed.code is None:
        relevant = _without_unreceived(session, volunteer.id, relevant)
    if parsed.code is not None:
        also = BY_CODE_ONLY.get(parsed.intent, frozenset())
        named = [s for s in every if s.order.reply_code == parsed.code
                 and (s.stage in APPLIES_TO[parsed.intent] or s.stage in also)]
        if not named:
            over = answer_ended_order(exchange)
            if over is not None:
                return over
            return _ask_which(exchange, relevant) if relevant else None
        relevant = named
    if len(relevant) > 1:
        return _ask_which(exchange, relevant)
    if not relevant:
        return answer_ended_order(exchange)
    standing = relevant[0]
    outcome = _APPLY[(parsed.intent, standing.stage)](_Context(exchange, standing, zone))
    session.add(Response(order_id=standing.order.id, volunteer_id=volunteer.id,
                         inbound_message_id=exchange.inbound.id, intent=parsed.intent.value, outcome=outcome,
                         at=exchange.now))
    return outcome


# --- answers about an order that no longer recruits ------------------------------------------------------------

LATE_REPLY_HORIZON = timedelta(days=1)  # after the window's end, a reply is no longer taken as about the order
_OVER_INTENTS = frozenset({Intent.ACCEPT, Intent.DECLINE, Intent.DROP_OUT})


def answer_ended_order(exchange: "Exchange") -> str | None:
    """A reply that applies to nothing under way, from a volunteer invited to an order that stopped recruiting,
    finished or was cancelled (their invitation lapsed, or they were on standby): a cancelled order answers "this
    order was called off" (the cancel's own text, once per volunteer), any other a yes with "all places are
    filled, thank you" and a no with the usual acknowledgement. The order is the one the reply's code names, else
    the latest such order; none within a day of its window's end: None (the not-understood help)."""
    session, volunteer, parsed = exchange.session, exchange.volunteer, exchange.parsed
    if parsed.intent not in _OVER_INTENTS:
        return None
    statement = (select(Order).join(Invitation, Invitation.order_id == Order.id)
                 .where(Invitation.volunteer_id == volunteer.id,
                        Order.state.in_(list(ENDED_STATES | (UNDERWAY_STATES - RECRUITING_STATES))),
                        Order.ends_at > exchange.now - LATE_REPLY_HORIZON)
                 .order_by(Order.id.desc()).limit(1))
    if parsed.code is not None:
        statement = statement.where(Order.reply_code == parsed.code)
    order = session.scalar(statement)
    if order is None:
        return None
    outcome = _answer_over(exchange, order)
    session.add(Response(order_id=order.id, volunteer_id=volunteer.id, inbound_message_id=exchange.inbound.id,
                         intent=parsed.intent.value, outcome=outcome, at=exchange.now))
    return outcome


def _answer_over(exchange: "Exchange", order: Order) -> str:
    session, volunteer = exchange.session, exchange.volunteer
    if order.state is OrderState.cancelled:
        sent = send(session, volunteer, "order_cancelled", dedupe_key=called_off_key(order.id, volunteer.id),
                    code=order.reply_code, title=order.title)
        return "order_called_off" if sent is not None else "order_called_off_quiet"
    if exchange.parsed.intent is Intent.ACCEPT:
        sent = send(session, volunteer, "order_full", dedupe_key=full_key(order.id, volunteer.id),
                    code=order.reply_code)
        return "order_full" if sent is not None else "order_full_quiet"
    send(session, volunteer, "decline_ack", code=order.reply_code)
    return "declined_after_recruiting"


def _without_unreceived(session: Session, volunteer_id: int, relevant: list[Standing]) -> list[Standing]:
    """A bare answer ("Y", no code) is about what the volunteer has read: an invitation still waiting in the
    outbox (a big wave drains at the sender's cap) is not one of them, so it neither takes the answer nor makes
    it ambiguous. With the order's code the answer counts for it, received or not: they know of the order."""
    invited = [s for s in relevant if s.stage is Stage.invited]
    if not invited:
        return relevant
    waiting = set(session.scalars(select(OutboundMessage.dedupe_key).where(
        OutboundMessage.volunteer_id == volunteer_id, OutboundMessage.status == OutboundStatus.pending,
        OutboundMessage.dedupe_key.in_([invite_key(s.order.id, volunteer_id) for s in invited]))))
    return [s for s in relevant
            if s.stage is not Stage.invited or invite_key(s.order.id, volunteer_id) not in waiting]


def _ask_which(exchange: "Exchange", relevant: list[Standing]) -> str:
    codes = [f"#{s.order.reply_code}" for s in relevant]
    exchange.reply("which_order", codes=codes, code=relevant[0].order.reply_code)
    return "asked_which_order"


@dataclass
class _Context:
    exchange: "Exchange"
    standing: Standing
    zone: str

    @property
    def session(self) -> Session:
        return self.exchange.session

    @property
    def now(self) -> datetime:
        return self.exchange.now

    @property
    def order(self) -> Order:
        return self.standing.order

    @property
    def volunteer(self) -> Volunteer:
        return self.exchange.volunteer

    def audit(self, action: str, subject_type: str, subject_id: int, **details) -> None:
        audit.record(self.session, audit.Actor.sms(self.volunteer.phone), action, subject_type, subject_id,
                     self.now, order_id=self.order.id, **details)


# --- what each answer does in each stage ---------------------------------------------------------------------


def _accept_invitation(ctx: _Context) -> str:
    invitation = ctx.standing.invitation
    invitation.status, invitation.answered_at = InvitationStatus.accepted, ctx.now
    invitation.standby_notified_at = invitation.ready_at = None
    ctx.audit("invitation.accepted", "invitation", invitation.id)
    followups.request_match(ctx.session, ctx.order.id)  # the dispatch (or standby) SMS is the answer
    return "accepted"


def _already_standby(ctx: _Context) -> str:
    """A yes from standby answers the standby SMS's question, "can you go at short notice?": they are ready, and
    placed while that is fresh they are dispatched as confirmed (`dispatch.READY_FOR_S`), so a freed place does not
    wait for a second answer. Acknowledged once. Before the standby SMS (a second yes while still being placed)
    it is only a repeat."""
    invitation = ctx.standing.invitation
    if invitation.standby_notified_at is None:
        followups.request_match(ctx.session, ctx.order.id)
        return "already_accepted"
    invitation.ready_at = ctx.now
    send(ctx.session, ctx.volunteer, "standby_ready", dedupe_key=f"ready:invitation:{invitation.id}",
         code=ctx.order.reply_code)
    ctx.audit("invitation.ready", "invitation", invitation.id)
    followups.request_match(ctx.session, ctx.order.id)
    return "standby_ready"


def _confirm(ctx: _Context) -> str:
    assignment = ctx.standing.assignment
    if not move_assignment(ctx.session, assignment.id, (AssignmentStatus.proposed, AssignmentStatus.notified),
                           status=AssignmentStatus.confirmed, confirmed_at=ctx.now):
        return "confirm_too_late"  # timed out or released a moment ago
    values = dispatch_values(ctx.order, assignment.demand, ctx.volunteer.language, ctx.zone)
    send(ctx.session, ctx.volunteer, "dispatch_confirmed", dedupe_key=f"confirmed:assignment:{assignment.id}",
         **values)
    ctx.audit("assignment.confirmed", "assignment", assignment.id)
    return "confirmed"


def _already_confirmed(ctx: _Context) -> str:
    return "already_confirmed"


def _decline_invitation(ctx: _Context) -> str:
    invitation = ctx.standing.invitation
    was = invitation.status
    invitation.status, invitation.answered_at = InvitationStatus.declined, ctx.now
    send(ctx.session, ctx.volunteer, "decline_ack", code=ctx.order.reply_code)
    ctx.audit("invitation.declined", "invitation", invitation.id, was=was.value)
    return "declined" if was is InvitationStatus.invited else "left_standby"


def _drop_out(ctx: _Context) -> str:
    """A "no" with a live dispatch releases it: the place is freed and backfilled (standby first, then waves)."""
    order = lock_order(ctx.session, ctx.order.id)
    assignment = ctx.standing.assignment
    if not end_assignment(ctx.session, assignment, AssignmentStatus.released, "dropped_out", ctx.now):
        return "drop_out_too_late"
    if ctx.standing.invitation is not None:
        ctx.standing.invitation.status = InvitationStatus.declined
        ctx.standing.invitation.answered_at = ctx.now
    refresh_fill_state(ctx.session, order, ctx.now)
    send(ctx.session, ctx.volunteer, "dropout_ack", dedupe_key=f"dropout:assignment:{assignment.id}",
         code=order.reply_code)
    ctx.audit("assignment.dropped_out", "assignment", assignment.id, demand_id=assignment.demand_id)
    followups.request_match(ctx.session, order.id)
    return "dropped_out"


def _arrive(ctx: _Context) -> str:
    assignment = ctx.standing.assignment
    return "arrived" if mark_arrived(ctx.session, ctx.order, assignment, ctx.now,
                                     audit.Actor.sms(ctx.volunteer.phone)) else "arrival_too_late"


def _already_arrived(ctx: _Context) -> str:
    return "already_arrived"


def _done(ctx: _Context) -> str:
    assignment = ctx.standing.assignment
    if not move_assignment(ctx.session, assignment.id, (AssignmentStatus.arrived,),
                           status=AssignmentStatus.completed, completed_at=ctx.now):
        return "done_too_late"
    hours = service_hours(assignment.arrived_at, ctx.now, ctx.order.starts_at, ctx.order.ends_at)
    send(ctx.session, ctx.volunteer, "done_ack", dedupe_key=f"done:assignment:{assignment.id}",
         code=ctx.order.reply_code, hours=hours)
    ctx.audit("assignment.completed", "assignment", assignment.id, hours=hours)
    return "completed"


def _already_completed(ctx: _Context) -> str:
    return "already_completed"


def mark_arrived(session: Session, order: Order, assignment: Assignment, now: datetime, actor: audit.Actor) -> bool:
    """Arrival, by the volunteer's SMS or an officer: confirms the dispatch too; the volunteer is told how to
    sign out."""
    if not move_assignment(session, assignment.id, NOT_YET_ARRIVED, status=AssignmentStatus.arrived,
                           arrived_at=now, confirmed_at=assignment.confirmed_at or now):
        return False
    session.refresh(assignment)
    send(session, assignment.volunteer, "arrival_ack", dedupe_key=f"arrival:assignment:{assignment.id}",
         code=order.reply_code, site=assignment.demand.site.name)
    audit.record(session, actor, "assignment.arrived", "assignment", assignment.id, now, order_id=order.id)
    return True


_APPLY: dict[tuple[Intent, Stage], Callable[[_Context], str]] = {
    (Intent.ACCEPT, Stage.invited): _accept_invitation,
    (Intent.ACCEPT, Stage.declined): _accept_invitation,
    (Intent.ACCEPT, Stage.standby): _already_standby,
    (Intent.ACCEPT, Stage.dispatched): _confirm,
    (Intent.ACCEPT, Stage.confirmed): _already_confirmed,
    **{(intent, Stage.invited): _decline_invitation for intent in (Intent.DECLINE, Intent.DROP_OUT)},
    **{(intent, Stage.standby): _decline_invitation for intent in (Intent.DECLINE, Intent.DROP_OUT)},
    **{(intent, stage): _drop_out for intent in (Intent.DECLINE, Intent.DROP_OUT)
       for stage in (Stage.dispatched, Stage.confirmed)},
    (Intent.ARRIVED, Stage.dispatched): _arrive,
    (Intent.ARRIVED, Stage.confirmed): _arrive,
    (Intent.ARRIVED, Stage.arrived): _already_arrived,
    (Intent.DONE, Stage.arrived): _done,
    (Intent.DONE, Stage.completed): _already_completed,
}
