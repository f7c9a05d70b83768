"""The outbox: a message is a row written in the same transaction as the change that causes it; senders then
claim rows, hand them to the gateway and record what happened. No Flask, no Redis here.

States: pending -> sending (claimed) -> queued/sent/delivered/undelivered (from the gateway and its status
callbacks) or failed / cancelled. A `sending` row whose sender died is reconciled against the gateway's own
records, so that a message Twilio already accepted is never sent again.

The claim is a lease: `claimed_at` (microseconds) is both its token and its start. Whoever gives a claimed row
back (`release`, a retryable failure, the reconciler) names the claim it holds, and the UPDATE matches only while
that is still the row's claim (compare-and-set), so an old claim can never undo a newer one. The sender renews
the claims it holds every few seconds (`renew`: a new token); a row whose lease ran out (LEASE_S without a
renewal) belongs to the reconciler.
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
LEASE_S = 30.0  # a claim not renewed for this long is stale: its sender is dead
# A send that may have reached the gateway (a read timeout, a connection reset after the request was written)
# is retried only after asking the gateway whether it took the message; the row remembers it by this prefix.
UNCERTAIN = "uncertain send: "
UNCERTAIN_BACKOFF_S = 60.0  # long enough for a request still in the gateway's hands to land before the lookup
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
    if dedupe_key is not None and _already_queued(session, dedupe_key):
        return None
    message = OutboundMessage(volunteer_id=volunteer.id if volunteer else None, to_phone=to_phone, body=body,
                              kind=kind, priority=priority, segments=count_segments(body),
                              status=OutboundStatus.pending, dedupe_key=dedupe_key, attempts=0)
    session.add(message)
    session.flush()
    session.info.setdefault("queued_priorities", set()).add(priority)
    return message


@dataclass(frozen=True)
class ToQueue:
    """One message of `queue_many`, rendered already: to a volunteer (their phone), or to `to_phone`."""

    volunteer: Volunteer | None
    body: str
    kind: str
    priority: Priority
    dedupe_key: str | None = None
    to_phone: str | None = None


KEYS_PER_QUERY = 500  # dedupe keys per IN (...)


def queue_many(session: Session, messages: list[ToQueue]) -> list[OutboundMessage | None]:
    """`queue_message` for many messages at once (a wave's invitations): the same checks (opted out, a dedupe
    key queued already, in the store or earlier in `messages`), with the dedupe keys looked up in a few queries
    and the rows written by one flush (the ORM batches them into multi-row INSERTs, SQLAlchemy's
    insertmanyvalues) instead of a query and a flush per message, in the caller's transaction. The rows are
    added, so inserted, in the order of `messages`, and their ids follow it (senders claim rows by id: it is the
    send order). Returns each message's row, None where it is not queued."""
    taken = _queued_keys(session, [message.dedupe_key for message in messages if message.dedupe_key])
    rows: list[OutboundMessage | None] = []
    for message in messages:
        rows.append(_row_unless_taken(message, taken))
    queued = [row for row in rows if row is not None]
    if queued:
        session.add_all(queued)
        session.flush()
        session.info.setdefault("queued_priorities", set()).update(row.priority for row in queued)
    return rows


def _row_unless_taken(message: ToQueue, taken: set[str]) -> OutboundMessage | None:
    volunteer, to_phone = message.volunteer, message.to_phone
    if volunteer is not None:
        if volunteer.opted_out and message.kind != OPT_OUT_CONFIRMATION:
            return None
        to_phone = volunteer.phone
    if not to_phone:
        raise ValueError("a message needs a volunteer or a phone number")
    if message.dedupe_key is not None:
        if message.dedupe_key in taken:
            return None
        taken.add(message.dedupe_key)
    return OutboundMessage(volunteer_id=volunteer.id if volunteer else None, to_phone=to_phone, body=message.body,
                           kind=message.kind, priority=message.priority, segments=count_segments(message.body),
                           status=OutboundStatus.pending, dedupe_key=message.dedupe_key, attempts=0)


def _queued_keys(session: Session, keys: list[str]) -> set[str]:
    """Those of `keys` that a stored message has."""
    column, found = OutboundMessage.__table__.c.dedupe_key, set()
    unique = sorted(set(keys))
    for start in range(0, len(unique), KEYS_PER_QUERY):
        found.update(session.connection().execute(
            select(column).where(column.in_(unique[start:start + KEYS_PER_QUERY]))).scalars())
    return found


_BY_DEDUPE_KEY = select(OutboundMessage.__table__.c.id).where(
    OutboundMessage.__table__.c.dedupe_key == bindparam("key")).limit(1)


def _already_queued(session: Session, dedupe_key: str) -> bool:
    """A row with this key is stored (queue_message flushes each message, so none waits in the session). On
    the session's connection as a Core statement: through the ORM (a select with its autoflush) the check was a
    third of the CPU of writing a wave's messages, 1.14 s against 0.76 s for 3,000 on SQLite (in-process); the
    send benchmark (benchmarks/bench_sms.py) has these writes on its clock."""
    return session.connection().execute(_BY_DEDUPE_KEY, {"key": dedupe_key}).first() is not None


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
    claimed_at: datetime | None = None  # the claim's token, as claimed (the sender's lease renews it)
    uncertain: bool = False  # the previous attempt may have reached the gateway: look it up before sending
    created_at: datetime | None = None


_CLAIMED_COLUMNS = (OutboundMessage.id, OutboundMessage.to_phone, OutboundMessage.body, OutboundMessage.segments,
                    OutboundMessage.volunteer_id, OutboundMessage.attempts, OutboundMessage.claimed_at,
                    OutboundMessage.error_message, OutboundMessage.created_at)


def _claimed(row) -> Claimed:
    *head, claimed_at, error_message, created_at = row
    return Claimed(*head, claimed_at=claimed_at, created_at=created_at,
                   uncertain=bool(error_message and error_message.startswith(UNCERTAIN)))


def _claim_of(claim) -> tuple[int, datetime | None]:
    return (claim.id, claim.claimed_at) if isinstance(claim, Claimed) else (claim[0], claim[1])


def claim_batch(session: Session, priority: Priority, limit: int, now: datetime | None = None) -> list[Claimed]:
    """Claim up to `limit` sendable messages by id, which is their send rank: first written, first sent, and a
    batch written in a chosen order goes out in that order (a wave's invitations, nearest first). Concurrent
    senders never claim the same row (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: the write lock taken at
    BEGIN)."""
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
    rows = session.execute(select(*_CLAIMED_COLUMNS).where(OutboundMessage.id.in_(ids)).order_by(OutboundMessage.id))
    return [_claimed(row) for row in rows]


_OUTBOUND = OutboundMessage.__table__
_RENEW = (update(_OUTBOUND)
          .where(_OUTBOUND.c.id == bindparam("message_id"), _OUTBOUND.c.status == OutboundStatus.sending,
                 _OUTBOUND.c.claimed_at == bindparam("token"))
          .values(claimed_at=bindparam("renewed")))


def renew(session: Session, claims: dict[int, datetime], now: datetime | None = None) -> dict[int, datetime]:
    """The sender's heartbeat: each claim still held (same token, still `sending`) gets a new token, `now`.
    Returns {id: new token} of the claims still held; the others were lost (taken over by the reconciler)."""
    if not claims:
        return {}
    now = now or utcnow()
    if any(token == now for token in claims.values()):
        now = now + timedelta(microseconds=1)  # a new token, always
    session.execute(_RENEW, [{"message_id": message_id, "token": token, "renewed": now}
                             for message_id, token in claims.items()])
    held = session.scalars(select(OutboundMessage.id).where(OutboundMessage.id.in_(list(claims)),
                                                            OutboundMessage.status == OutboundStatus.sending,
                                                            OutboundMessage.claimed_at == now))
    return {message_id: now for message_id in held}


def sid_recorded(session: Session, sid: str, other_than: int | None = None) -> bool:
    """Whether another message of ours already has this Twilio SID (a lookup's match is then not this one)."""
    statement = select(OutboundMessage.id).where(OutboundMessage.twilio_sid == sid)
    if other_than is not None:
        statement = statement.where(OutboundMessage.id != other_than)
    return session.scalar(statement.limit(1)) is not None


def still_sending(session: Session, message_ids) -> list[int]:
    return list(session.scalars(select(OutboundMessage.id).where(OutboundMessage.id.in_(list(message_ids)),
                                                                 OutboundMessage.status == OutboundStatus.sending)))


def record_accepted(session: Session, message_id: int, sid: str, twilio_status: str,
                    now: datetime | None = None) -> None:
    record_accepted_many(session, [(message_id, sid, twilio_status)], now)


# The SIDs of a flushed batch as ONE executemany of a Core UPDATE: through the ORM (an ORM-enabled UPDATE per
# row, each compiled, evaluated against the identity map and executed alone) recording them was a fifth of
# the sender's CPU in the send benchmark. Only a row still `sending` takes its SID here: a status callback
# that overtook the sender has already recorded it (apply_status_callback).
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


_RELEASE = (update(_OUTBOUND)
            .where(_OUTBOUND.c.id == bindparam("message_id"), _OUTBOUND.c.status == OutboundStatus.sending,
                   _OUTBOUND.c.claimed_at == bindparam("token"))
            .values(status=OutboundStatus.pending, claimed_at=None, not_before=bindparam("not_before"),
                    attempts=_OUTBOUND.c.attempts - 1))


def release(session: Session, claims: list, not_before: datetime | None = None) -> int:
    """Give claimed but unsent messages back (their attempt did not happen). `claims`: the Claimed rows, or
    (id, claimed_at) pairs, as their holder knows them: a row whose claim has changed since (renewed by its
    sender, re-claimed after a release) is left alone. Returns how many were released."""
    claims = [_claim_of(claim) for claim in claims]
    if not claims:
        return 0
    params = [{"message_id": message_id, "token": token, "not_before": not_before} for message_id, token in claims]
    if len(params) == 1:
        return session.execute(_RELEASE, params[0]).rowcount
    result = session.execute(_RELEASE, params)
    return result.rowcount if result.rowcount is not None and result.rowcount >= 0 else len(claims)


def record_found(session: Session, claim, sid: str, twilio_status: str, now: datetime | None = None) -> bool:
    """The reconciler found the claimed message at the gateway: its SID is recorded if the claim is still the
    one it read. True if recorded."""
    message_id, token = _claim_of(claim)
    now = now or utcnow()
    result = session.execute(update(OutboundMessage)
                             .where(OutboundMessage.id == message_id, OutboundMessage.status == OutboundStatus.sending,
                                    OutboundMessage.claimed_at == token)
                             .values(twilio_sid=sid, status=TWILIO_STATUSES.get(twilio_status, OutboundStatus.queued),
                                     sent_at=now, status_at=now))
    return result.rowcount == 1


def record_retryable_failure(session: Session, message: Claimed, code: int | None, text: str,
                             now: datetime | None = None, *, token: datetime | None = None,
                             min_backoff_s: float = 0.0) -> bool:
    """Back to pending with exponential backoff; failed for good after MAX_ATTEMPTS. True if it will retry.
    Only while the claim is still `token` (the holder's current claim; default: as claimed)."""
    now = now or utcnow()
    token = token or message.claimed_at
    if message.attempts >= MAX_ATTEMPTS:
        _fail(session, message.id, code, f"gave up after {message.attempts} attempts: {text}", now)
        return False
    backoff = timedelta(seconds=max(min_backoff_s, min(300, 2 ** message.attempts)))
    statement = update(OutboundMessage).where(OutboundMessage.id == message.id,
                                              OutboundMessage.status == OutboundStatus.sending)
    if token is not None:
        statement = statement.where(OutboundMessage.claimed_at == token)
    session.execute(statement.values(status=OutboundStatus.pending, claimed_at=None, not_before=now + backoff,
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


def stale_sending(session: Session, older_than: timedelta = timedelta(seconds=LEASE_S),
                  now: datetime | None = None, limit: int = 500) -> list[Claimed]:
    """`sending` rows whose lease ran out (claimed or last renewed before now - older_than), each with the
    claim it was read with (`claimed_at`): the reconciler records or releases a row only under that claim."""
    cutoff = (now or utcnow()) - older_than
    rows = session.execute(select(*_CLAIMED_COLUMNS)
                           .where(OutboundMessage.status == OutboundStatus.sending,
                                  OutboundMessage.claimed_at < cutoff).order_by(OutboundMessage.id).limit(limit))
    return [_claimed(row) for row in rows]
