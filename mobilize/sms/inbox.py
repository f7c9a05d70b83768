"""Stored inbound messages: the one claim that makes each of them processed exactly once.

The webhook stores a message first (a row), then queues the inbound job. Whoever processes it (the inbound
job, or the timeout sweep answering a reply stored before a deadline) claims it with `claim`, in the
transaction that applies its effects: a conditional UPDATE of `processed_at` (still NULL), so of two claimants
exactly one gets rowcount 1, and the claim commits or rolls back together with the effects. No Flask, no Redis
here.

Dead letters: a processing attempt that raises rolls back (claim and effects together); `record_failure` then
counts the attempt in a short transaction of its own, with the error, and after MAX_ATTEMPTS sets the message
aside (`dead_at`). Dead messages are never claimed, requeued or answered by the timeout sweep; `revive` (an
admin's retry) clears the dead state for one more attempt.
"""
from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache

from sqlalchemy import Select, bindparam, func, select, update
from sqlalchemy.orm import Session

from mobilize.models import InboundMessage

PHONES_PER_QUERY = 500  # phone numbers per IN (...) (SQLite allows 32766 parameters)
MAX_ATTEMPTS = 5  # failed processing attempts before a message is dead (the requeue sweep runs every 10 s)
ERROR_KEPT = 500  # characters of the last error kept (the column's length)


class Claim(str, enum.Enum):
    claimed = "claimed"  # ours: process it in this transaction
    done = "done"  # processed and committed by someone else: its effects are visible
    busy = "busy"  # another transaction is processing it right now (PostgreSQL)


def claim(session: Session, inbound_id: int, now: datetime) -> bool:
    """Mark the message processed in the caller's transaction; False if it already was (or is being: on
    PostgreSQL this waits for that transaction, then sees its `processed_at`), or if it is dead."""
    return session.execute(_claim_statement(), {"inbound_id": inbound_id, "claimed_at": now}).rowcount == 1


@lru_cache(maxsize=1)
def _claim_statement():
    """`claim`'s UPDATE, built once (every inbound message runs it; building it cost as much as running it)."""
    return (update(InboundMessage)
            .where(InboundMessage.id == bindparam("inbound_id"), InboundMessage.processed_at.is_(None),
                   InboundMessage.dead_at.is_(None))
            .values(processed_at=bindparam("claimed_at")).execution_options(synchronize_session=False))


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
            InboundMessage.processed_at.is_(None), InboundMessage.dead_at.is_(None),
            InboundMessage.received_at < received_before,
            InboundMessage.from_phone.in_(phones[start:start + PHONES_PER_QUERY]))).all()
    return sorted(found, key=lambda message: message.id)


def unprocessed_after(session: Session, after_id: int, limit: int) -> list[int]:
    """Ids above `after_id` of the messages neither processed nor dead, in id order (the inbox drain)."""
    return list(session.scalars(select(InboundMessage.id)
                                .where(InboundMessage.id > after_id, InboundMessage.processed_at.is_(None),
                                       InboundMessage.dead_at.is_(None))
                                .order_by(InboundMessage.id).limit(limit)))


class NotDead(ValueError):
    """A retry of a message that is not dead (processed, or still being retried)."""


def record_failure(session: Session, inbound_id: int, error: str, now: datetime,
                   max_attempts: int = MAX_ATTEMPTS) -> bool:
    """Count a failed processing attempt (in a transaction of its own, after the attempt's rolled back) and
    keep its error; after `max_attempts` the message is dead. True if it is dead now. A message processed or
    set aside meanwhile is left alone."""
    counted = session.execute(update(InboundMessage)
                              .where(InboundMessage.id == inbound_id, InboundMessage.processed_at.is_(None),
                                     InboundMessage.dead_at.is_(None))
                              .values(attempts=func.coalesce(InboundMessage.attempts, 0) + 1,
                                      last_error=error[:ERROR_KEPT])
                              .execution_options(synchronize_session=False))
    if counted.rowcount != 1:
        return False
    session.execute(update(InboundMessage)
                    .where(InboundMessage.id == inbound_id, InboundMessage.attempts >= max_attempts)
                    .values(dead_at=now).execution_options(synchronize_session=False))
    return session.scalar(select(InboundMessage.dead_at).where(InboundMessage.id == inbound_id)
                          .execution_options(populate_existing=True)) is not None


def is_dead(session: Session, inbound_id: int) -> bool:
    return session.scalar(select(InboundMessage.dead_at).where(InboundMessage.id == inbound_id)
                          .execution_options(populate_existing=True)) is not None


def requeueable(session: Session, received_before: datetime, limit: int = 1000) -> list[int]:
    """Ids of the messages stored before `received_before`, neither processed nor dead, oldest first."""
    return list(session.scalars(select(InboundMessage.id)
                                .where(InboundMessage.processed_at.is_(None), InboundMessage.dead_at.is_(None),
                                       InboundMessage.received_at < received_before)
                                .order_by(InboundMessage.id).limit(limit)))


def dead_messages() -> Select:
    """The statement listing dead messages, most recently set aside first."""
    return (select(InboundMessage)
            .where(InboundMessage.dead_at.is_not(None), InboundMessage.processed_at.is_(None))
            .order_by(InboundMessage.dead_at.desc(), InboundMessage.id.desc()))


def revive(session: Session, inbound_id: int) -> InboundMessage | None:
    """Clear a dead message's dead state (an admin's retry), in the caller's transaction; its attempts stay
    counted, so one more failure sets it aside again. None if there is no such message; NotDead if it is not
    dead."""
    message = session.get(InboundMessage, inbound_id, with_for_update=True, populate_existing=True)
    if message is None:
        return None
    if message.dead_at is None or message.processed_at is not None:
        raise NotDead("processed" if message.processed_at is not None else "not dead")
    message.dead_at = None
    session.flush()
    return message
