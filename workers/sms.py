"""SMS jobs: send the outbox in batches (one job, many messages), and process inbound messages.

One RQ job per message cannot keep up with a short code, so a sender job claims batches and loops until the
outbox is empty or its time budget is spent, then hands over to a fresh job. Bulk senders step aside as soon as
replies or dispatch messages wait, so those overtake any backlog of invitations.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import lru_cache

import structlog
from redis import Redis
from redis.exceptions import RedisError
from rq import Retry

from mobilize.models import Priority
from mobilize.sms import outbox
from mobilize.sms.gateway import SendError, TwilioGateway, make_gateway
from mobilize.sms.ratelimit import SegmentRateLimiter
from workers.context import get_runtime
from workers.queues import queue

log = structlog.get_logger(__name__)

SEND_BUDGET_S = 20.0  # a sender job hands over to a fresh one after this long
FLUSH_EVERY = 25  # results recorded in one transaction
HIGH_ACTIVE_KEY = "mobilize:sms:high-active"
KICK_KEY = "mobilize:sms:kick:{priority}"
SEND_RETRY = Retry(max=6, interval=[1, 2, 5, 15, 30, 60])  # RQ's own retry for gateway outages


class GatewayUnavailable(RuntimeError):
    """The gateway answered 429 / 5xx or could not be reached; RQ retries the job later."""


@lru_cache(maxsize=1)
def _gateway_for(settings_key: tuple) -> TwilioGateway:
    return make_gateway(get_runtime().settings)


def gateway() -> TwilioGateway:
    settings = get_runtime().settings
    return _gateway_for((settings.sms_backend, settings.simulator_url, settings.twilio_account_sid,
                         settings.twilio_from, settings.twilio_messaging_service_sid))


def rate_limiter() -> SegmentRateLimiter:
    runtime = get_runtime()
    return _limiter_for(runtime.redis_url, runtime.settings.sms_segments_per_second, gateway().sender_key)


@lru_cache(maxsize=4)
def _limiter_for(redis_url: str, segments_per_second: float, sender_key: str) -> SegmentRateLimiter:
    # one limiter (and its Redis connection pool) per worker process, not one per job
    return SegmentRateLimiter(redis_url, segments_per_second, sender_key)


def status_callback_url(message_id: int) -> str:
    return f"{get_runtime().settings.public_base_url}/twilio/status?mid={message_id}"


def kick_senders(redis: Redis, priorities) -> None:
    """Make sure a sender job is on its way for each priority (at most one waiting per priority)."""
    for priority in priorities:
        priority = Priority(priority)
        if redis.set(KICK_KEY.format(priority=priority.value), 1, nx=True, ex=30):
            queue(priority.value, redis).enqueue(send_pending, priority.value, job_timeout=SEND_BUDGET_S * 4,
                                                 retry=SEND_RETRY, failure_ttl=86400)


@dataclass
class _Results:
    accepted: list = field(default_factory=list)
    retry: list = field(default_factory=list)
    permanent: list = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.accepted) + len(self.retry) + len(self.permanent)

    def flush(self) -> None:
        if not len(self):
            return
        with get_runtime().transaction() as session:
            for message, accepted in self.accepted:
                outbox.record_accepted(session, message.id, accepted.sid, accepted.status)
            for message, error in self.retry:
                outbox.record_retryable_failure(session, message, error.code, str(error))
            for message, error in self.permanent:
                outbox.record_permanent_failure(session, message, error.code, str(error),
                                                opted_out=error.opted_out, invalid_number=error.invalid_number)
        self.accepted, self.retry, self.permanent = [], [], []


def send_pending(priority: str = "high", budget_s: float = SEND_BUDGET_S) -> dict:
    """Send pending messages of one priority until none are left or the budget is spent."""
    runtime = get_runtime()
    redis = runtime.redis
    priority = Priority(priority)
    redis.delete(KICK_KEY.format(priority=priority.value))  # later commits kick a new sender
    limiter, sms = rate_limiter(), gateway()
    batch_size = max(1, min(100, int(runtime.settings.sms_segments_per_second * 2)))
    deadline = time.monotonic() + budget_s
    sent = 0
    results = _Results()
    while time.monotonic() < deadline:
        with runtime.transaction() as session:
            batch = outbox.claim_batch(session, priority, batch_size)
        if not batch:
            break
        for index, message in enumerate(batch):
            if _must_yield(redis, priority) or not limiter.acquire(message.segments, deadline):
                _release(results, batch[index:])
                return _handover(redis, priority, sent, "yielded")
            if priority is Priority.high:
                redis.set(HIGH_ACTIVE_KEY, 1, ex=5)
            try:
                accepted = sms.send(message.to_phone, message.body, status_callback_url(message.id))
            except SendError as error:
                if error.retryable:
                    results.retry.append((message, error))
                    _release(results, batch[index + 1:])
                    log.warning("sms.gateway_unavailable", code=error.code, status=error.http_status,
                                error=str(error))
                    raise GatewayUnavailable(str(error)) from error
                results.permanent.append((message, error))
                log.info("sms.refused", message_id=message.id, code=error.code, error=str(error))
                continue
            results.accepted.append((message, accepted))
            sent += 1
            if len(results) >= FLUSH_EVERY:
                results.flush()
        results.flush()
    if priority is Priority.high:
        redis.delete(HIGH_ACTIVE_KEY)
    with runtime.transaction() as session:
        more = outbox.pending_count(session, priority)
    if more:
        return _handover(redis, priority, sent, "budget spent")
    log.info("sms.sender_done", priority=priority.value, sent=sent)
    return {"sent": sent, "handover": None}


def _must_yield(redis: Redis, priority: Priority) -> bool:
    """Bulk steps aside while replies and dispatch messages wait or are being sent."""
    if priority is not Priority.bulk:
        return False
    return bool(redis.exists(HIGH_ACTIVE_KEY)) or queue("high", redis).count > 0


def _release(results: _Results, messages) -> None:
    results.flush()
    with get_runtime().transaction() as session:
        outbox.release(session, [message.id for message in messages])


def _handover(redis: Redis, priority: Priority, sent: int, reason: str) -> dict:
    redis.delete(KICK_KEY.format(priority=priority.value))
    kick_senders(redis, [priority])
    log.info("sms.sender_handover", priority=priority.value, sent=sent, reason=reason)
    return {"sent": sent, "handover": reason}


def reconcile_outbox(stale_after_s: float = 300.0) -> dict:
    """Periodic: kick senders for pending messages (a kick lost with Redis), and settle `sending` rows whose
    sender died: if the gateway already has the message, record it; otherwise send it again."""
    from datetime import timedelta

    runtime = get_runtime()
    recovered = released = 0
    with runtime.transaction() as session:
        stale = outbox.stale_sending(session, timedelta(seconds=stale_after_s))
    for message, claimed_at in stale:
        try:
            accepted = gateway().find_accepted(message.to_phone, message.body, claimed_at)
        except SendError as error:
            log.warning("sms.reconcile_unavailable", error=str(error))
            break
        with runtime.transaction() as session:
            if accepted is not None:
                outbox.record_accepted(session, message.id, accepted.sid, accepted.status)
                recovered += 1
            else:
                outbox.release(session, [message.id])
                released += 1
    with runtime.transaction() as session:
        waiting = [p for p in Priority if outbox.pending_count(session, p)]
    try:
        kick_senders(runtime.redis, waiting)
    except RedisError as error:
        log.warning("sms.kick_failed", error=str(error))
    if recovered or released:
        log.info("sms.reconciled", recovered=recovered, released=released)
    return {"recovered": recovered, "released": released, "kicked": [p.value for p in waiting]}


def process_inbound(inbound_id: int) -> str:
    """Handle one stored inbound message exactly once: the claim, the effects and the answers commit together;
    a crash rolls all of it back and the reconciler queues the message again."""
    from sqlalchemy import update

    from mobilize.conversation import handle_inbound
    from mobilize.models import InboundMessage
    from mobilize.models._types import utcnow

    runtime = get_runtime()
    with runtime.transaction() as session:
        claimed = session.execute(update(InboundMessage).where(InboundMessage.id == inbound_id,
                                                               InboundMessage.processed_at.is_(None))
                                  .values(processed_at=utcnow())).rowcount
        if not claimed:
            return "already_processed"
        inbound = session.get(InboundMessage, inbound_id)
        outcome = handle_inbound(session, runtime.settings, inbound)
    log.info("sms.inbound_processed", inbound_id=inbound_id, intent=inbound.intent, outcome=outcome)
    return outcome


def requeue_unprocessed(older_than_s: float = 10.0) -> int:
    """Periodic: inbound messages stored but never processed (Redis was down, a worker died) are queued again.
    Processing is idempotent, so a message queued twice is still handled once."""
    from datetime import timedelta

    from sqlalchemy import select

    from mobilize.models import InboundMessage
    from mobilize.models._types import utcnow

    runtime = get_runtime()
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    with runtime.transaction() as session:
        ids = list(session.scalars(select(InboundMessage.id).where(InboundMessage.processed_at.is_(None),
                                                                   InboundMessage.received_at < cutoff)
                                   .order_by(InboundMessage.id).limit(1000)))
    high = queue("high", runtime.redis)
    for inbound_id in ids:
        high.enqueue(process_inbound, inbound_id, job_id=f"inbound-{inbound_id}", job_timeout=60)
    if ids:
        log.info("sms.inbound_requeued", count=len(ids))
    return len(ids)
