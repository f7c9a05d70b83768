"""How far behind the SMS side is, from the database: the outbox's backlog and send rate, the inbox's oldest
unprocessed message and its dead letters. Read by /metrics (Prometheus) and /admin/system (the admin's page),
so both show the same figures. SQLAlchemy only (the queues' figures, from Redis, are `mobilize.jobs`').
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mobilize.models import InboundMessage, OutboundMessage, OutboundStatus

RATE_WINDOW = timedelta(minutes=1)
NOT_HANDED = (OutboundStatus.pending, OutboundStatus.sending)  # not yet handed to the gateway


@dataclass(frozen=True)
class OutboxBacklog:
    waiting: dict[str, int]  # priority -> messages not yet handed to the gateway (pending or sending)
    sending: int  # of those, claimed by a sender right now
    oldest_age_s: float  # the oldest of them, 0 when none
    sent_last_minute: int  # messages handed to the gateway in the last RATE_WINDOW
    segments_last_minute: int

    @property
    def total(self) -> int:
        return sum(self.waiting.values())


@dataclass(frozen=True)
class InboxBacklog:
    oldest_unprocessed_age_s: float  # neither processed nor set aside; 0 when none
    unprocessed: int
    dead: int  # set aside after too many failed attempts, waiting for an admin's retry


def outbox_backlog(session: Session, now: datetime) -> OutboxBacklog:
    waiting = {priority.value: count for priority, count in session.execute(
        select(OutboundMessage.priority, func.count()).where(OutboundMessage.status.in_(NOT_HANDED))
        .group_by(OutboundMessage.priority))}
    sending = session.scalar(select(func.count()).select_from(OutboundMessage)
                             .where(OutboundMessage.status == OutboundStatus.sending))
    oldest = session.scalar(select(func.min(OutboundMessage.created_at))
                            .where(OutboundMessage.status.in_(NOT_HANDED)))
    # ix_outbound_messages_sent_at: a range on the index, not a read of the whole outbox
    sent, segments = session.execute(select(func.count(), func.coalesce(func.sum(OutboundMessage.segments), 0))
                                     .where(OutboundMessage.sent_at >= now - RATE_WINDOW)).one()
    return OutboxBacklog(waiting, sending, age_s(oldest, now), sent, segments)


def inbox_backlog(session: Session, now: datetime) -> InboxBacklog:
    unprocessed = (InboundMessage.processed_at.is_(None), InboundMessage.dead_at.is_(None))
    oldest, count = session.execute(select(func.min(InboundMessage.received_at), func.count())
                                    .where(*unprocessed)).one()
    dead = session.scalar(select(func.count()).select_from(InboundMessage)
                          .where(InboundMessage.dead_at.is_not(None), InboundMessage.processed_at.is_(None)))
    return InboxBacklog(age_s(oldest, now), count, dead)


def age_s(moment: datetime | None, now: datetime) -> float:
    """Seconds from `moment` to `now` (0 for none, or for a moment in the future)."""
    if moment is None:
        return 0.0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return max(0.0, (now - moment).total_seconds())
