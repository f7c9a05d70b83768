"""The invariants, read from the database and the simulator's message log (the gateway's view)."""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from mobilize.drill.live_report import epoch_s

LOST_GRACE_S = 45.0  # an inbound message younger than this may still be on its way through the sweeps


@dataclass
class Ledger:
    """What earlier checks already counted, so that each trial reports only what is new."""

    duplicate_sms: int = 0
    duplicate_sid: int = 0
    dead: set = field(default_factory=set)
    lost: set = field(default_factory=set)


def outbound(messages: list[dict]) -> list[dict]:
    return [m for m in messages if m["direction"] == "outbound-api"]


def duplicates(runtime: Any, messages: list[dict], grace_s: float = 10.0) -> tuple[int, int]:
    """(copies at the gateway of a (phone, text) beyond the outbox rows that may have sent it, gateway messages
    whose SID no outbox row holds or that the log holds twice); messages younger than `grace_s` are left for the
    next check (their SID may not be recorded yet)."""
    from mobilize.models import OutboundMessage, OutboundStatus

    now = time.time()
    sent = [m for m in outbound(messages) if now - float(m["timestamp"]) >= grace_s]
    with runtime.transaction() as session:
        rows = session.execute(select(OutboundMessage.to_phone, OutboundMessage.body, OutboundMessage.twilio_sid)
                               .where(OutboundMessage.status.not_in([OutboundStatus.pending,
                                                                     OutboundStatus.cancelled]))).all()
        recorded = set(session.scalars(select(OutboundMessage.twilio_sid)
                                       .where(OutboundMessage.twilio_sid.is_not(None))))
    may_send = Counter((phone, body) for phone, body, _sid in rows)
    copies = Counter((m["to"], m["body"]) for m in sent)
    by_text = sum(max(0, n - may_send[key]) for key, n in copies.items())
    sids = Counter(m["sid"] for m in sent)
    by_sid = sum(n - 1 for n in sids.values()) + sum(1 for sid in sids if sid not in recorded)
    return by_text, by_sid


def replies(runtime: Any, messages: list[dict]) -> tuple[set, set]:
    """(lost, dead): texts from phones older than LOST_GRACE_S never stored by the webhook or stored and never
    processed and not dead; and the dead letters."""
    from mobilize.models import InboundMessage
    from mobilize.models._types import utcnow

    cutoff = utcnow() - timedelta(seconds=LOST_GRACE_S)
    with runtime.transaction() as session:
        stored = set(session.scalars(select(InboundMessage.message_sid)))
        unprocessed = set(session.scalars(select(InboundMessage.message_sid).where(
            InboundMessage.processed_at.is_(None), InboundMessage.dead_at.is_(None),
            InboundMessage.received_at < cutoff)))
        dead = set(session.scalars(select(InboundMessage.message_sid).where(InboundMessage.dead_at.is_not(None))))
    old = time.time() - LOST_GRACE_S
    never_stored = {m["sid"] for m in messages if m["direction"] == "inbound" and m.get("origin") == "phone"
                    and float(m["timestamp"]) < old and m["sid"] not in stored}
    return unprocessed | never_stored, dead


def wrongful_timeouts(runtime: Any, order_id: int) -> list[int]:
    """Assignments timed out although the volunteer's accepting answer to this order (no reply code, or this
    order's) was stored before confirm_by (after the dispatch was written). A yes carrying another order's code
    answers that order, not this dispatch."""
    from sqlalchemy import or_

    from mobilize.models import Assignment, InboundMessage, Order
    from mobilize.wartime.timers import TIMEOUT_REASON

    with runtime.transaction() as session:
        code = session.scalar(select(Order.reply_code).where(Order.id == order_id))
        timed_out = session.execute(select(Assignment.id, Assignment.volunteer_id, Assignment.created_at,
                                           Assignment.confirm_by).where(
            Assignment.order_id == order_id, Assignment.end_reason == TIMEOUT_REASON)).all()
        wrong = []
        for aid, volunteer, created, confirm_by in timed_out:
            if confirm_by is None:
                continue
            answered = session.scalar(select(func.count()).select_from(InboundMessage).where(
                InboundMessage.volunteer_id == volunteer, InboundMessage.intent == "accept",
                or_(InboundMessage.reply_code.is_(None), InboundMessage.reply_code == code),
                InboundMessage.received_at >= created, InboundMessage.received_at < confirm_by))
            if answered:
                wrong.append(aid)
    return wrong


def overfills(runtime: Any, order_id: int) -> list[str]:
    """Demands filled beyond capacity, or whose `filled` differs from their active assignments."""
    from mobilize.models import Assignment, Demand
    from mobilize.wartime.places import ACTIVE

    with runtime.transaction() as session:
        demands = session.execute(select(Demand.id, Demand.capacity, Demand.filled)
                                  .where(Demand.order_id == order_id)).all()
        active = Counter(session.scalars(select(Assignment.demand_id).where(
            Assignment.order_id == order_id, Assignment.status.in_(list(ACTIVE)))))
    return [f"demand {did}: filled {filled}, capacity {capacity}, active {active[did]}"
            for did, capacity, filled in demands if filled > capacity or filled != active[did]]


@dataclass
class Snapshot:
    """The order at one moment: open places, placeable standby, placements so far, work waiting."""

    places: int
    placed: int
    open: int
    standby: int
    assignments: int
    last_assignment_s: float | None  # epoch s of the newest assignment
    pending_outbox: int
    unprocessed: int
    overdue: int = 0  # dispatches unconfirmed 20 s past confirm_by: the timeout sweep has not released them

    @property
    def stalled(self) -> bool:
        return self.open > 0 and self.standby > 0

    @property
    def work_waiting(self) -> bool:
        return self.stalled or self.pending_outbox > 0 or self.unprocessed > 0


def snapshot(runtime: Any, order_id: int) -> Snapshot:
    from mobilize.models import (
        Assignment,
        AssignmentStatus,
        Demand,
        InboundMessage,
        Invitation,
        InvitationStatus,
        OutboundMessage,
        OutboundStatus,
    )
    from mobilize.models._types import utcnow
    from mobilize.wartime.places import ACTIVE

    late = utcnow() - timedelta(seconds=20)
    with runtime.transaction() as session:
        overdue = session.scalar(select(func.count()).select_from(Assignment).where(
            Assignment.order_id == order_id, Assignment.confirm_by < late,
            Assignment.status.in_([AssignmentStatus.proposed, AssignmentStatus.notified])))
        capacity, filled = session.execute(select(func.coalesce(func.sum(Demand.capacity), 0),
                                                  func.coalesce(func.sum(Demand.filled), 0))
                                           .where(Demand.order_id == order_id)).one()
        placed_volunteers = select(Assignment.volunteer_id).where(Assignment.order_id == order_id,
                                                                  Assignment.status.in_(list(ACTIVE)))
        standby = session.scalar(select(func.count()).select_from(Invitation).where(
            Invitation.order_id == order_id, Invitation.status == InvitationStatus.accepted,
            Invitation.volunteer_id.not_in(placed_volunteers)))
        count, newest = session.execute(select(func.count(), func.max(Assignment.created_at))
                                        .where(Assignment.order_id == order_id)).one()
        pending = session.scalar(select(func.count()).select_from(OutboundMessage).where(
            OutboundMessage.status.in_([OutboundStatus.pending, OutboundStatus.sending])))
        unprocessed = session.scalar(select(func.count()).select_from(InboundMessage).where(
            InboundMessage.processed_at.is_(None), InboundMessage.dead_at.is_(None)))
    return Snapshot(int(capacity), int(filled), int(capacity) - int(filled), int(standby), int(count),
                    epoch_s(newest) if newest else None, int(pending), int(unprocessed), int(overdue))
