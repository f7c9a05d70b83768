"""The outbox: a message is a row written in the same transaction as the change that causes it; senders then
claim rows, hand them to the gateway and record what happened. No Flask, no Redis here.

States: pending -> sending (claimed) -> queued/sent/delivered/undelivered (from the gateway and its status
callbacks) or failed / cancelled. A `sending` row whose sender died is reconciled against the gateway's own
records, so that a message Twilio already accepted is never sent again.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from mobilize.domain.segments import segments as count_segments
from mobilize.models import OutboundMessage, OutboundStatus, Priority, Volunteer
from mobilize.models._types import utcnow

MAX_ATTEMPTS = 8
# The only message an opted-out volunteer may still get is the confirmation of the opt-out itself.
OPT_OUT_CONFIRMATION = "opt_out_confirm"  # the template and the kind of that message

# Delivery statuses only move forward: a late "sent" never overwrites "delivered".
STATUS_RANK = {
    OutboundStatus.pending: 0, OutboundStatus.sending: 1, OutboundStatus.queued: 2, OutboundStatus.sent: 3,
    OutboundStatus.delivered: 4, OutboundStatus.undelivered: 4, OutboundStatus.failed: 4,
    OutboundStatus.cancelled: 4,
}
TWILIO_STATUSES = {
    "accepted": OutboundStatus.queued, "scheduled": OutboundStatus.queued, "queued": OutboundStatus.queued,
    "sending": OutboundStatus.queued, "sent": OutboundStatus.sent, "delivered": OutboundStatus.delivered,
    "read": OutboundStatus.delivered, "undelivered": OutboundStatus.undelivered, "failed": OutboundStatus.failed,
    "canceled": OutboundStatus.cancelled, "receiving": OutboundStatus.queued, "received": OutboundStatus.delivered,
    "partially_delivered": OutboundStatus.undelivered,
}


def queue_message(session: Session, *, body: str, kind: str, priority: Priority, volunteer: Volunteer | None = None,
                  to_phone: str | None = None, dedupe_key: str | None = None) -> OutboundMessage | None:
    """Write a message to send (in the caller's transaction). None when it must not be sent: the volunteer
    opted out (except for the opt-out confirmation) or the same `dedupe_key` was already queued."""
    if volunteer is not None:
        if volunteer.opted_out and kind != OPT_OUT_CONFIRMATION:
            return None
        to_phone = volunteer.phone
    if not to_phone:
        raise ValueError("a message needs a volunteer or a phone number")
    if dedupe_key is not None:
        if session.scalar(select(OutboundMessage.id).where(OutboundMessage.dedupe_key == dedupe_key)):
            return None
    message = OutboundMessage(volunteer_id=volunteer.id if volunteer else None, to_phone=to_phone, body=body,
                              kind=kind, priority=priority, segments=count_segments(body),
                              status=OutboundStatus.pending, dedupe_key=dedupe_key, attempts=0)
    session.add(message)
    session.flush()
    session.info.setdefault("queued_priorities", set()).add(priority)
    return message


def pending_count(session: Session, priority: Priority | None = None, now: datetime | None = None) -> int:
    statement = select(func.count()).select_from(OutboundMessage).where(_sendable(now or utcnow()))
    if priority is not None:
        statement = statement.where(OutboundMessage.priority == priority)
    return session.scalar(statement)


def _sendable(now: datetime):
    return and_(OutboundMessage.status == OutboundStatus.pending,
                or_(OutboundMessage.not_before.is_(None), OutboundMessage.not_before <= now))


@dataclass(frozen=True)
class Claimed:
    """A claimed message, detached from the session (senders work outside any transaction)."""

    id: int
    to_phone: str
    body: str
    segments: int
    volunteer_id: int | None
    attempts: int


def claim_batch(session: Session, priority: Priority, limit: int, now: datetime | None = None) -> list[Claimed]:
    """Claim up to `limit` sendable messages, oldest first. Concurrent senders never claim the same row
    (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: the write lock taken at BEGIN)."""
    now = now or utcnow()
    statement = (select(OutboundMessage.id).where(_sendable(now), OutboundMessage.priority == priority)
                 .order_by(OutboundMessage.id).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    ids = list(session.scalars(statement))
    if not ids:
        return []
    session.execute(update(OutboundMessage).where(OutboundMessage.id.in_(ids))
                    .values(status=OutboundStatus.sending, claimed_at=now,
                            attempts=OutboundMessage.attempts + 1))
    rows = session.execute(select(OutboundMessage.id, OutboundMessage.to_phone, OutboundMessage.body,
                                  OutboundMessage.segments, OutboundMessage.volunteer_id, OutboundMessage.attempts)
                           .where(OutboundMessage.id.in_(ids)).order_by(OutboundMessage.id))
    return [Claimed(*row) for row in rows]


def record_accepted(session: Session, message_id: int, sid: str, twilio_status: str,
                    now: datetime | None = None) -> None:
    record_accepted_many(session, [(message_id, sid, twilio_status)], now)


# The SIDs of a flushed batch as ONE executemany of a Core UPDATE: through the ORM (an ORM-enabled UPDATE per
# row, each compiled, evaluated against the identity map and executed alone) recording them was a fifth of
# the sender's CPU in the send benchmark. Only a row still `sending` takes its SID here: a status callback
# that overtook the sender has already recorded it (apply_status_callback).
_OUTBOUND = OutboundMessage.__table__
_RECORD_ACCEPTED = (update(_OUTBOUND)
                    .where(_OUTBOUND.c.id == bindparam("message_id"),
                           _OUTBOUND.c.status == OutboundStatus.sending)
                    .values(twilio_sid=bindparam("sid"), status=bindparam("new_status"),
                            sent_at=bindparam("now"), status_at=bindparam("now")))


def record_accepted_many(session: Session, accepted: list[tuple[int, str, str]],
                         now: datetime | None = None) -> None:
    """(message id, Twilio SID, Twilio's status) of messages the gateway accepted, in one statement."""
    if not accepted:
        return
    now = now or utcnow()
    session.execute(_RECORD_ACCEPTED, [
        {"message_id": message_id, "sid": sid, "now": now,
         "new_status": TWILIO_STATUSES.get(twilio_status, OutboundStatus.queued)}
        for message_id, sid, twilio_status in accepted])


def release(session: Session, message_ids: list[int], not_before: datetime | None = None) -> None:
    """Give claimed but unsent messages back (their attempt did not happen)."""
    if message_ids:
        session.execute(update(OutboundMessage).where(OutboundMessage.id.in_(message_ids),
                                                      OutboundMessage.status == OutboundStatus.sending)
                        .values(status=OutboundStatus.pending, claimed_at=None, not_before=not_before,
                                attempts=OutboundMessage.attempts - 1))


def record_retryable_failure(session: Session, message: Claimed, code: int | None, text: str,
                             now: datetime | None = None) -> bool:
    """Back to pending with exponential backoff; failed for good after MAX_ATTEMPTS. True if it will retry."""
    now = now or utcnow()
    if message.attempts >= MAX_ATTEMPTS:
        _fail(session, message.id, code, f"gave up after {message.attempts} attempts: {text}", now)
        return False
    backoff = timedelta(seconds=min(300, 2 ** message.attempts))
    session.execute(update(OutboundMessage).where(OutboundMessage.id == message.id)
                    .values(status=OutboundStatus.pending, claimed_at=None, not_before=now + backoff,
                            error_code=code, error_message=text[:300]))
    return True


def record_permanent_failure(session: Session, message: Claimed, code: int | None, text: str, *,
                             opted_out: bool = False, invalid_number: bool = False,
                             now: datetime | None = None) -> None:
    now = now or utcnow()
    _fail(session, message.id, code, text, now)
    if message.volunteer_id is None:
        return
    if opted_out:
        mark_opted_out(session, message.volunteer_id, now)
    if invalid_number:
        session.execute(update(Volunteer).where(Volunteer.id == message.volunteer_id).values(phone_invalid=True))


def _fail(session: Session, message_id: int, code: int | None, text: str, now: datetime) -> None:
    session.execute(update(OutboundMessage).where(OutboundMessage.id == message_id)
                    .values(status=OutboundStatus.failed, error_code=code, error_message=text[:300],
                            status_at=now))


def mark_opted_out(session: Session, volunteer_id: int, now: datetime | None = None) -> None:
    """The volunteer opted out: remember it and cancel everything still waiting to be sent to them."""
    now = now or utcnow()
    session.execute(update(Volunteer).where(Volunteer.id == volunteer_id, Volunteer.opted_out_at.is_(None))
                    .values(opted_out_at=now))
    session.execute(update(OutboundMessage)
                    .where(OutboundMessage.volunteer_id == volunteer_id,
                           OutboundMessage.status == OutboundStatus.pending,
                           OutboundMessage.kind != OPT_OUT_CONFIRMATION)
                    .values(status=OutboundStatus.cancelled, error_message="recipient opted out", status_at=now))


def apply_status_callback(session: Session, message_id: int | None, sid: str, twilio_status: str,
                          error_code: int | None, now: datetime | None = None) -> bool:
    """A delivery-status callback. Idempotent and safe out of order; True if it changed anything."""
    now = now or utcnow()
    new_status = TWILIO_STATUSES.get(twilio_status)
    if new_status is None:
        return False
    message = session.scalar(select(OutboundMessage).where(OutboundMessage.twilio_sid == sid))
    if message is None and message_id is not None:
        # The callback can overtake the sender's own record of the SID.
        candidate = session.get(OutboundMessage, message_id)
        if candidate is not None and candidate.twilio_sid in (None, sid):
            message = candidate
            message.twilio_sid = sid
    if message is None or STATUS_RANK[new_status] <= STATUS_RANK[message.status]:
        return False
    message.status = new_status
    message.status_at = now
    if error_code:
        message.error_code = error_code
        if error_code in (30005, 30006) and message.volunteer_id:  # unknown or landline destination
            session.execute(update(Volunteer).where(Volunteer.id == message.volunteer_id)
                            .values(phone_invalid=True))
    return True


def stale_sending(session: Session, older_than: timedelta, now: datetime | None = None) -> list[Claimed]:
    cutoff = (now or utcnow()) - older_than
    rows = session.execute(select(OutboundMessage.id, OutboundMessage.to_phone, OutboundMessage.body,
                                  OutboundMessage.segments, OutboundMessage.volunteer_id, OutboundMessage.attempts,
                                  OutboundMessage.claimed_at)
                           .where(OutboundMessage.status == OutboundStatus.sending,
                                  OutboundMessage.claimed_at < cutoff).order_by(OutboundMessage.id).limit(500))
    return [(Claimed(*row[:6]), row[6]) for row in rows]
