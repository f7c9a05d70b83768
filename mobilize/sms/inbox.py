"""Stored inbound messages: the one claim that makes each of them processed exactly once.

The webhook stores a message first (a row), then queues the inbound job. Whoever processes it (the inbound
job, or the timeout sweep answering a reply stored before a deadline) claims it with `claim`, in the
transaction that applies its effects: a conditional UPDATE of `processed_at` (still NULL), so of two claimants
exactly one gets rowcount 1, and the claim commits or rolls back together with the effects. No Flask, no Redis
here.
"""
from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mobilize.models import InboundMessage

PHONES_PER_QUERY = 500  # phone numbers per IN (...) (SQLite allows 32766 parameters)


class Claim(str, enum.Enum):
    claimed = "claimed"  # ours: process it in this transaction
    done = "done"  # processed and committed by someone else: its effects are visible
    busy = "busy"  # another transaction is processing it right now (PostgreSQL)


def claim(session: Session, inbound_id: int, now: datetime) -> bool:
    """Mark the message processed in the caller's transaction; False if it already was (or is being: on
    PostgreSQL this waits for that transaction, then sees its `processed_at`)."""
    result = session.execute(update(InboundMessage)
                             .where(InboundMessage.id == inbound_id, InboundMessage.processed_at.is_(None))
                             .values(processed_at=now).execution_options(synchronize_session=False))
    return result.rowcount == 1


def claim_without_waiting(session: Session, inbound_id: int, now: datetime) -> Claim:
    """`claim`, for a caller that must not wait for another processor: the timeout sweep holds an order lock
    that the processor may be waiting for (a drop-out locks its order), so waiting could deadlock. On
    PostgreSQL the row is first locked with SKIP LOCKED (an inbound job's uncommitted claim holds it); on
    SQLite BEGIN IMMEDIATE already serialised every writer, so nobody else can be half-way."""
    locked = session.scalar(select(InboundMessage.id)
                            .where(InboundMessage.id == inbound_id, InboundMessage.processed_at.is_(None))
                            .with_for_update(skip_locked=True))
    if locked is not None:
        return Claim.claimed if claim(session, inbound_id, now) else Claim.done
    processed_at = session.scalar(select(InboundMessage.processed_at).where(InboundMessage.id == inbound_id)
                                  .execution_options(populate_existing=True))
    return Claim.busy if processed_at is None else Claim.done


def unprocessed_from(session: Session, phones: Iterable[str], received_before: datetime
                     ) -> list[InboundMessage]:
    """Messages from these phones, stored before `received_before` and not processed yet, oldest first."""
    phones = sorted(set(phones))
    found: list[InboundMessage] = []
    for start in range(0, len(phones), PHONES_PER_QUERY):
        found += session.scalars(select(InboundMessage).where(
            InboundMessage.processed_at.is_(None), InboundMessage.received_at < received_before,
            InboundMessage.from_phone.in_(phones[start:start + PHONES_PER_QUERY]))).all()
    return sorted(found, key=lambda message: message.id)
