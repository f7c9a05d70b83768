"""SMS jobs: send the outbox in batches (one job, many messages), and process inbound messages.

One RQ job per message cannot keep up with a short code, so a sender job claims batches and loops until the
outbox is empty or its time budget is spent, then hands over to a fresh job. Bulk senders step aside as soon as
replies or dispatch messages wait, so those overtake any backlog of invitations.
"""
from __future__ import annotations

import contextlib
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import lru_cache

import structlog
# The twilio client imports its REST modules on first use (client.api, .v2010, .account, .messages: every
# resource of the account, ~0.3 s of CPU, more on a busy machine); the worker imports this module when it
# starts (workers.runner), so that is paid then, not by the first sender job with a wave's invitations waiting.
import twilio.rest.api.v2010.account.message  # noqa: F401
from redis import Redis
from redis.exceptions import LockError, RedisError

from mobilize import jobs, live
from mobilize.jobs import KICK_KEY, SEND_BUDGET_S, SEND_RETRY, kick_senders  # noqa: F401  (re-exported)
from mobilize.models import Priority
from mobilize.models._types import utcnow
from mobilize.sms import inbox, outbox
from mobilize.sms.gateway import Accepted, SendError, TwilioGateway, make_gateway
from mobilize.sms.ratelimit import BlockLimiter, SegmentRateLimiter, block_size
from mobilize.wartime import optouts
from workers.context import get_runtime

log = structlog.get_logger(__name__)

FLUSH_EVERY = 25  # results recorded in one transaction
SEND_THREADS = 32  # at most this many gateway requests in flight in one sender job (see _send_batch)
REFILL_BELOW = 64  # a sender claims the next batch when fewer than this many claimed messages wait (or a batch)
CHECK_EVERY_S = 0.05  # how often a running sender refreshes HIGH_ACTIVE_KEY (high) or checks for it (bulk)
HIGH_ACTIVE_KEY = "mobilize:sms:high-active"
RENEW_EVERY_S = 10.0  # the sender's heartbeat: its claims (leases of outbox.LEASE_S) are renewed this often
RECONCILE_LOCK_S = 45.0  # one reconciler at a time; a dead one's lock expires after this
RECONCILE_BUDGET_S = 8.0  # a reconciler run stops looking rows up after this (it runs every 10 s)


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


class _Lease:
    """The claims one sender job holds ({message id: claim token}) and its heartbeat: every RENEW_EVERY_S the
    claims get a new token (outbox.renew), so the reconciler leaves them alone while this job lives, and takes
    them over within outbox.LEASE_S once it is dead. Writes that give a row back use the current token under
    the lock, so a renewal never slips between reading a token and using it."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.tokens: dict = {}
        self.renewed = time.monotonic()

    def hold(self, messages) -> None:
        with self.lock:
            self.tokens.update((message.id, message.claimed_at) for message in messages)

    def token(self, message_id: int):
        return self.tokens.get(message_id)

    def drop(self, message_ids) -> None:
        with self.lock:
            for message_id in message_ids:
                self.tokens.pop(message_id, None)

    def renew_if_due(self) -> None:
        if time.monotonic() - self.renewed < RENEW_EVERY_S:
            return
        try:
            self.renew()
        except Exception as error:  # noqa: BLE001 - the database hiccupped: sending goes on, renewed next time
            log.warning("sms.lease_not_renewed", error=str(error))

    def renew(self, now=None) -> None:
        with self.lock:
            self.renewed = time.monotonic()
            if not self.tokens:
                return
            with get_runtime().transaction() as session:
                held = outbox.renew(session, dict(self.tokens), now)
                ended = set(self.tokens) - set(held)  # mostly recorded a moment ago, or a status callback's
                lost = outbox.still_sending(session, ended) if ended else []
            self.tokens = held
        if lost:  # taken over by the reconciler: this job was too slow to renew its lease
            log.warning("sms.claims_lost", count=len(lost), ids=lost[:20])


@dataclass
class _Results:
    accepted: list = field(default_factory=list)
    retry: list = field(default_factory=list)
    permanent: list = field(default_factory=list)
    lease: _Lease | None = None

    def __len__(self) -> int:
        return len(self.accepted) + len(self.retry) + len(self.permanent)

    def flush(self) -> None:
        if not len(self):
            return
        ids = [message.id for message, _ in self.accepted + self.retry + self.permanent]
        lease = self.lease or _Lease()
        with lease.lock if self.retry else _NO_LOCK, get_runtime().transaction() as session:
            _release_opted_out(session, self.permanent)  # first: it takes order locks
            outbox.record_accepted_many(session, [(message.id, accepted.sid, accepted.status)
                                                  for message, accepted in self.accepted])
            for message, error in self.retry:
                # a send that may have gone out is retried only after a lookup, and not before the gateway had
                # time to finish with the first request
                outbox.record_retryable_failure(
                    session, message, error.code, (outbox.UNCERTAIN if error.uncertain else "") + str(error),
                    token=lease.token(message.id) or message.claimed_at,
                    min_backoff_s=outbox.UNCERTAIN_BACKOFF_S if error.uncertain else 0.0)
            for message, error in self.permanent:
                outbox.record_permanent_failure(session, message, error.code, str(error),
                                                opted_out=error.opted_out, invalid_number=error.invalid_number)
        lease.drop(ids)
        self.accepted, self.retry, self.permanent = [], [], []
        _notify_message_log({"direction": "out", "ids": ids})  # one live event per flushed batch


_NO_LOCK = contextlib.nullcontext()


def _release_opted_out(session, permanent: list) -> None:
    """Twilio refused a message because the recipient opted out (21610): their places in running orders are
    freed at once, as for an SMS opt-out (this also marks them opted out). Done before anything else in the
    transaction: it takes order locks, and order locks come first (`mobilize.wartime.places`)."""
    volunteer_ids = sorted({message.volunteer_id for message, error in permanent
                            if error.opted_out and message.volunteer_id is not None})
    for volunteer_id in volunteer_ids:
        optouts.release_opted_out(session, volunteer_id, utcnow())


def send_pending(priority: str = "high", budget_s: float = SEND_BUDGET_S) -> dict:
    """Send pending messages of one priority until none are left or the budget is spent."""
    limiter = rate_limiter()
    block = block_size(limiter)
    if block == 1:
        return _send_pending(Priority(priority), budget_s, limiter)
    limiter = BlockLimiter(limiter, block)  # this job's threads share reservations of `block` segments
    try:
        return _send_pending(Priority(priority), budget_s, limiter)
    finally:
        limiter.close()


def _send_pending(priority: Priority, budget_s: float, limiter: SegmentRateLimiter | BlockLimiter) -> dict:
    runtime = get_runtime()
    redis = runtime.redis
    redis.delete(KICK_KEY.format(priority=priority.value))  # later commits kick a new sender
    batch_size = max(1, min(100, int(runtime.settings.sms_segments_per_second * 2)))
    deadline = time.monotonic() + budget_s
    results = _SharedResults()

    def claim() -> list:
        with runtime.transaction() as session:
            claimed = outbox.claim_batch(session, priority, batch_size)
        results.lease.hold(claimed)
        return claimed

    with ThreadPoolExecutor(SEND_THREADS, thread_name_prefix="sms-send") as pool:
        while time.monotonic() < deadline:
            if _must_yield(redis, priority):
                return _handover(redis, priority, results.sent, "yielded")
            batch = _Batch(claim())
            if not batch.waiting:
                break
            stop = _send_batch(pool, batch, results, limiter, redis, priority, deadline, refill=claim,
                               refill_below=min(REFILL_BELOW, batch_size))
            if stop is not None:
                _release(results, list(batch.waiting))
                if isinstance(stop, SendError):
                    raise GatewayUnavailable(str(stop)) from stop
                return _handover(redis, priority, results.sent, "yielded")
            results.flush()
    if priority is Priority.high:
        redis.delete(HIGH_ACTIVE_KEY)
    with runtime.transaction() as session:
        more = outbox.pending_count(session, priority)
    if more:
        return _handover(redis, priority, results.sent, "budget spent")
    log.info("sms.sender_done", priority=priority.value, sent=results.sent)
    return {"sent": results.sent, "handover": None}


# -- sending one claimed batch with several requests in flight ---------------------------------------------------
#
# The sender waits on the network, not on the CPU: each message is one round trip to Twilio (a few ms to the
# simulator, 100-300 ms to the real Twilio), and one request at a time left a sender job, and the worker it
# occupies, idle for most of that wait: measured against the simulator on 2 cores (benchmarks/bench_sms.py),
# ~110 msg/s with one request in flight, ~210 with 2, ~350 with 8 to 16, for ~500 from a bare loop of client
# calls; against the real Twilio one at a time is 3-10 msg/s, far from a short code's 100. So a batch is sent
# by up to SEND_THREADS threads of one job, as many as the cap needs (threads_wanted). 32, not 16: a short
# code's 100/s at Twilio's 300 ms needs 30 in flight (threads_wanted asks for 45), and against the simulator,
# with the status callbacks competing for the same 2 cores, 32 sent 5-15% more than 16 (4 runs each, load
# average ~11 from other work on the machine). Nothing else changes:
# every message still takes its segments from the shared rate limiter right before its own request (under a
# cap far above one job's pace, from a block the job reserved for several messages at once: BlockLimiter in
# mobilize/sms/ratelimit.py), results are recorded every FLUSH_EVERY, what was claimed but not sent goes
# back to pending. One sender job per priority keeps the other workers free for inbound replies and the
# other queues.


class _Batch:
    def __init__(self, messages: list) -> None:
        self.lock = threading.Lock()
        self.waiting = deque(messages)  # claimed, not handed to the gateway yet
        self.stop: str | SendError | None = None  # "yielded", "error", or the retryable error that ends the job

    def next(self):
        with self.lock:
            return self.waiting.popleft() if self.stop is None and self.waiting else None

    def extend(self, messages: list) -> None:
        with self.lock:
            self.waiting.extend(messages)

    def halt(self, reason, message=None) -> bool:
        """Stop handing out messages (`message`, taken but not sent, goes back first). True if `reason` is
        the first error (not "yielded") to stop this batch."""
        with self.lock:
            if message is not None:
                self.waiting.appendleft(message)
            if self.stop is None or (self.stop == "yielded" and reason != "yielded"):
                self.stop = reason
                return reason != "yielded"
            return False


class _SharedResults(_Results):
    """_Results filled by several sending threads; whichever fills it to FLUSH_EVERY records them."""

    def __init__(self) -> None:
        super().__init__(lease=_Lease())
        self.lock = threading.Lock()
        self.sent = 0
        self.latency_s = 0.001  # the gateway's round trip, a moving average (optimistic until measured)

    def measured(self, seconds: float) -> None:
        self.latency_s = 0.8 * self.latency_s + 0.2 * seconds

    def threads_wanted(self, segments_per_second: float) -> int:
        """As many requests in flight as keep up with the cap (and half again), not more: under a cap, extra
        threads would only poll the limiter."""
        return max(1, min(SEND_THREADS, math.ceil(segments_per_second * self.latency_s * 1.5)))

    def add(self, kind: str, item) -> None:
        with self.lock:
            getattr(self, kind).append(item)
            if kind == "accepted":
                self.sent += 1
            if len(self) < FLUSH_EVERY:
                return
            taken = _Results(self.accepted, self.retry, self.permanent, self.lease)
            self.accepted, self.retry, self.permanent = [], [], []
        taken.flush()

    def flush(self) -> None:
        with self.lock:
            taken = _Results(self.accepted, self.retry, self.permanent, self.lease)
            self.accepted, self.retry, self.permanent = [], [], []
        taken.flush()


def _send_batch(pool: ThreadPoolExecutor, batch: _Batch, results: _SharedResults, limiter, redis: Redis,
                priority: Priority, deadline: float, refill: Callable[[], list] | None = None,
                refill_below: int = 0):
    """Send the batch; returns None when all of it went to the gateway, else why it stopped (the messages not
    sent are still in batch.waiting). While it runs, a high sender says so and a bulk sender checks every
    CHECK_EVERY_S whether it must step aside (not before every message: two Redis round trips each).

    When fewer than `refill_below` wait, `refill` claims the next batch into this one (until the outbox has
    none or the budget is spent): waiting for a batch's last requests before claiming the next left most
    sending threads idle for a round trip per batch, with 32 in flight a tenth of the time or more.
    `refill_below` is at most a batch, so a sender under a small cap claims little ahead of its pace."""
    futures = []
    while True:
        if refill is not None and batch.stop is None and len(batch.waiting) < refill_below:
            refill = _refill(batch, refill, futures, results, deadline)
        wanted = min(results.threads_wanted(get_runtime().settings.sms_segments_per_second), len(batch.waiting))
        futures += [pool.submit(_send_from, batch, results, limiter, deadline)
                    for _ in range(wanted - sum(1 for future in futures if not future.done()))]
        if priority is Priority.high:
            redis.set(HIGH_ACTIVE_KEY, 1, ex=5)
        elif _must_yield(redis, priority):
            batch.halt("yielded")
        _done, running = wait(futures, timeout=CHECK_EVERY_S)
        if results.lease is not None:
            results.lease.renew_if_due()  # the heartbeat: the claims held stay this job's
        if not running and (batch.stop is not None or not batch.waiting):
            break
    for future in futures:
        if future.exception() is not None:  # e.g. Redis or the database went away: keep what was sent
            _release(results, list(batch.waiting))
            raise future.exception()
    return batch.stop


def _refill(batch: _Batch, refill: Callable[[], list], futures: list, results: _SharedResults,
            deadline: float) -> Callable[[], list] | None:
    """Claim more into the batch; returns the refill to use next time (None: the outbox is empty for now or
    the budget is spent). A failed claim stops the batch: what was claimed and not sent goes back."""
    if time.monotonic() >= deadline:
        return None
    try:
        more = refill()
    except BaseException:
        batch.halt("error")
        wait(futures)
        _release(results, list(batch.waiting))
        raise
    batch.extend(more)
    return refill if more else None


def _send_from(batch: _Batch, results: _SharedResults, limiter, deadline: float) -> None:
    """One sending thread: take the next message, wait for the rate limit, send, record."""
    try:
        sms = _thread_gateway()
        while (message := batch.next()) is not None:
            reservation = limiter.acquire(message.segments, deadline)
            if reservation is None:
                batch.halt("yielded", message)  # the budget ran out waiting for the rate limit
                return
            started = time.monotonic()
            try:
                accepted = _attempt(sms, message)
            except SendError as error:
                # its segments count as sent (from now) unless the gateway answered that it refused them
                limiter.done(reservation, sent=not (error.http_status and 400 <= error.http_status < 500))
                if error.retryable:
                    # As with one request at a time: the first refusal is recorded (with its backoff) and
                    # ends the job for RQ to retry; others in flight at the same moment go back unsent.
                    if batch.halt(error):
                        results.add("retry", (message, error))
                        log.warning("sms.gateway_unavailable", code=error.code, status=error.http_status,
                                    error=str(error))
                    else:
                        batch.halt(error, message)
                    return
                results.add("permanent", (message, error))
                log.info("sms.refused", message_id=message.id, code=error.code, error=str(error))
                continue
            except BaseException:
                limiter.done(reservation)  # it may have gone out
                raise
            results.measured(time.monotonic() - started)
            results.add("accepted", (message, accepted))
            if not batch.waiting:  # the batch's tail: record now, not after the slowest thread's request
                results.flush()
            limiter.done(reservation)  # the request was answered: its segments count until a second from now
    except BaseException:
        batch.halt("error")
        raise


def _attempt(sms: TwilioGateway, message) -> Accepted:
    """Hand one message to the gateway, at most once: a message whose previous attempt may have reached the
    gateway is first looked up there, and so is one whose request gets no certain answer now (a read timeout,
    a connection reset after the request was written). Raises SendError (uncertain when still in doubt)."""
    if message.uncertain:
        try:
            found = sms.find_accepted(message.to_phone, message.body, message.created_at or message.claimed_at,
                                      taken=_recorded_elsewhere(message.id))
        except SendError as error:  # still in doubt: the row stays marked, its next attempt looks again
            raise SendError(str(error), code=error.code, http_status=error.http_status, retryable=True,
                            uncertain=True) from error
        if found is not None:
            log.info("sms.uncertain_found", message_id=message.id, sid=found.sid)
            return found
    started = utcnow()
    try:
        return sms.send(message.to_phone, message.body, status_callback_url(message.id))
    except SendError as error:
        if not error.uncertain:
            raise
        try:
            found = sms.find_accepted(message.to_phone, message.body, started,
                                      taken=_recorded_elsewhere(message.id))
        except SendError:
            raise error from None
        if found is None:
            raise
        log.info("sms.uncertain_found", message_id=message.id, sid=found.sid)
        return found


def _recorded_elsewhere(message_id: int) -> Callable[[str], bool]:
    """For a lookup: a SID another of our rows already has is that row's message (the same text twice)."""

    def taken(sid: str) -> bool:
        with get_runtime().transaction() as session:
            return outbox.sid_recorded(session, sid, other_than=message_id)
    return taken


_thread_local = threading.local()


def _thread_gateway() -> TwilioGateway:
    """A gateway (a twilio client and its HTTP session) for the calling thread alone: twilio's TwilioHttpClient
    keeps each response on the client object and returns it from there, so threads sharing one client could
    get each other's answers, and record another message's SID."""
    settings = get_runtime().settings
    key = (settings.sms_backend, settings.simulator_url, settings.twilio_account_sid, settings.twilio_from,
           settings.twilio_messaging_service_sid)
    cached = getattr(_thread_local, "gateway", None)
    if cached is None or cached[0] != key:
        cached = _thread_local.gateway = (key, make_gateway(settings))
    return cached[1]


def _must_yield(redis: Redis, priority: Priority) -> bool:
    """Bulk steps aside while replies and dispatch messages wait or are being sent."""
    if priority is not Priority.bulk:
        return False
    return bool(redis.exists(HIGH_ACTIVE_KEY)) or jobs.queue(jobs.HIGH, redis).count > 0


def _release(results: _Results, messages) -> None:
    """Give back what this job claimed and did not send, under the claims it holds now."""
    results.flush()
    messages = list(messages)
    lease = results.lease
    with lease.lock if lease is not None else _NO_LOCK, get_runtime().transaction() as session:
        outbox.release(session, [(message.id, (lease.token(message.id) if lease is not None else None)
                                  or message.claimed_at) for message in messages])
    if lease is not None:
        lease.drop(message.id for message in messages)


def _handover(redis: Redis, priority: Priority, sent: int, reason: str) -> dict:
    redis.delete(KICK_KEY.format(priority=priority.value))
    kick_senders(redis, [priority])
    log.info("sms.sender_handover", priority=priority.value, sent=sent, reason=reason)
    return {"sent": sent, "handover": reason}


def reconcile_outbox(stale_after_s: float = outbox.LEASE_S, now=None) -> dict:
    """Periodic: kick senders for pending messages (a kick lost with Redis), and settle `sending` rows whose
    sender died (their lease ran out): if the gateway already has the message, record it; otherwise send it
    again. One run at a time (a Redis lock with a lease): a run that overlaps another skips."""
    from workers.periodic import single_run

    runtime = get_runtime()
    with single_run(runtime.redis, "sms.reconcile_outbox", RECONCILE_LOCK_S) as mine:
        if not mine:
            log.info("sms.reconcile_skipped", reason="another run holds the lock")
            return {"recovered": 0, "released": 0, "kicked": [], "skipped": True}
        return _reconcile(runtime, stale_after_s, now)


def _reconcile(runtime, stale_after_s: float, now) -> dict:
    from datetime import timedelta

    recovered = released = 0
    deadline = time.monotonic() + RECONCILE_BUDGET_S
    with runtime.transaction() as session:
        stale = outbox.stale_sending(session, timedelta(seconds=stale_after_s), now)
    for message in stale:
        if time.monotonic() >= deadline:
            break  # the next run goes on from here
        try:
            # created_at, not the claim: a renewed claim is younger than the attempt it covers
            accepted = gateway().find_accepted(message.to_phone, message.body,
                                               message.created_at or message.claimed_at,
                                               taken=_recorded_elsewhere(message.id))
        except SendError as error:
            log.warning("sms.reconcile_unavailable", error=str(error))
            break
        with runtime.transaction() as session:  # only under the claim read: a newer claim is left alone
            if accepted is not None:
                recovered += outbox.record_found(session, message, accepted.sid, accepted.status)
            else:
                released += outbox.release(session, [message])
    with runtime.transaction() as session:
        waiting = [p for p in Priority if outbox.pending_count(session, p)]
    try:
        kick_senders(runtime.redis, waiting, replace_lost=True)
    except RedisError as error:
        log.warning("sms.kick_failed", error=str(error))
    if recovered or released:
        log.info("sms.reconciled", recovered=recovered, released=released)
    return {"recovered": recovered, "released": released, "kicked": [p.value for p in waiting]}


def process_inbound(inbound_id: int) -> str:
    """Handle one stored inbound message exactly once: the claim, the effects and the answers commit together;
    a crash rolls all of it back and the reconciler queues the message again. An attempt that raises is
    counted with its error; after inbox.MAX_ATTEMPTS the message is dead (set aside, never queued again)."""
    outcome, processed = _process_inbound(get_runtime(), inbound_id)
    if processed:
        _notify_message_log({"direction": "in", "id": inbound_id})  # its intent, and any reply it queued
    return outcome


def _process_inbound(runtime, inbound_id: int) -> tuple[str, bool]:
    """(outcome, whether this call processed it); raises what the processing raised, after counting it."""
    from sqlalchemy.exc import OperationalError

    from mobilize.conversation import handle_inbound
    from mobilize.models import InboundMessage

    try:
        with runtime.transaction() as session:
            # the claim the timeout sweep uses too, to answer a reply stored before a deadline (sms.inbox)
            if not inbox.claim(session, inbound_id, utcnow()):
                return ("dead" if inbox.is_dead(session, inbound_id) else "already_processed"), False
            inbound = session.get(InboundMessage, inbound_id)
            outcome = handle_inbound(session, runtime.settings, inbound)
    except OperationalError:
        raise  # the database's trouble (a lost connection, a lock timeout), not the message's: not counted
    except Exception as error:
        _record_inbound_failure(inbound_id, error)  # rolled back; counted in a transaction of its own
        raise  # the job failed: RQ keeps it with its traceback
    log.info("sms.inbound_processed", inbound_id=inbound_id, intent=inbound.intent, outcome=outcome)
    return outcome, True


def drain_inbox(budget_s: float = jobs.INBOX_DRAIN_BUDGET_S, batch: int = 200) -> dict:
    """Process every stored, unprocessed message in id order (the webhook's kick, jobs.kick_inbox_drain), each
    exactly as process_inbound does (its own claim and transaction): one job for a burst instead of one each.
    One drain at a time (INBOX_DRAIN_LOCK); a message that fails is counted and passed over (the next drain or
    the sweep tries it again, until it is dead); a drain that dies leaves the rest to the next drain or the sweep,
    and what it had claimed and committed stays processed once.

    A drain that finds another at work does not wait for it: a waiting drain held a worker, and with two workers
    a drain at work and one waiting left no worker for the matching (chaos: 26 s with open places after a
    killed drain). It comes back INBOX_DRAIN_RETRY_S later instead, and the drain at work looks once more for
    messages stored after its last look when it lets go of the lock."""
    runtime = get_runtime()
    redis = runtime.redis
    redis.delete(jobs.INBOX_KICK_KEY)  # from here on, a message stored kicks the next drain
    lock = redis.lock(jobs.INBOX_DRAIN_LOCK, timeout=jobs.INBOX_DRAIN_LOCK_S)
    if not lock.acquire(blocking=False):
        # the drain at work takes what this one was kicked for, or it died holding the lock (which lapses
        # within INBOX_DRAIN_LOCK_S): either way, a look again shortly
        jobs.retry_inbox_drain(redis)
        return {"processed": 0, "failed": 0, "deferred": True}
    try:
        done = _drain(runtime, lock, time.monotonic() + budget_s, batch)
    finally:
        with contextlib.suppress(LockError):
            lock.release()
    handed_over, last_seen = done.pop("handed_over"), done.pop("last_seen")
    if handed_over or _stored_after(runtime, last_seen):
        jobs.kick_inbox_drain(redis)  # the rest, or what came while a deferred drain found this one at work
    if done["processed"] or done["failed"]:
        log.info("sms.inbox_drained", **done)
    return done


def _stored_after(runtime, last_seen: int) -> bool:
    with runtime.transaction() as session:
        return bool(inbox.unprocessed_after(session, last_seen, 1))


def _drain(runtime, lock, deadline: float, batch: int) -> dict:
    from sqlalchemy.exc import OperationalError

    processed = failed = 0
    after = 0

    def result(handed_over: bool) -> dict:
        return {"processed": processed, "failed": failed, "handed_over": handed_over, "last_seen": after}

    while True:
        with runtime.transaction() as session:
            ids = inbox.unprocessed_after(session, after, batch)
        if not ids:
            return result(False)
        for inbound_id in ids:
            if time.monotonic() > deadline:
                return result(True)
            try:
                processed += _process_inbound(runtime, inbound_id)[1]
            except OperationalError:
                raise  # the database's trouble: the job fails, the sweep queues the rest again
            except Exception:  # noqa: BLE001 - counted with its error (dead after MAX_ATTEMPTS); the rest go on
                failed += 1
            after = inbound_id
            if not _keep(lock):  # another drain took over (this one stalled past the lock): it does the rest
                return result(False)
        _notify_message_log({"direction": "in", "id": after})  # one live update per batch, not per message


def _keep(lock) -> bool:
    """Renew the drain's lock for another INBOX_DRAIN_LOCK_S; if it ran out meanwhile, take it again unless
    another drain holds it now (False). Only an efficiency guard: each message's claim keeps it processed once."""
    from redis.exceptions import LockNotOwnedError

    try:
        lock.reacquire()
        return True
    except LockNotOwnedError:
        log.warning("sms.inbox_drain_lock_lost")
        return bool(lock.acquire(blocking=False))


def _record_inbound_failure(inbound_id: int, error: Exception) -> None:
    """Count a failed attempt at an inbound message, after its transaction rolled back; never raises (the
    attempt's own error is what the job reports)."""
    text = f"{type(error).__name__}: {error}"
    try:
        with get_runtime().transaction() as session:
            dead = inbox.record_failure(session, inbound_id, text, utcnow())
    except Exception:  # noqa: BLE001 - not counted this time; the sweep queues it again
        log.exception("sms.inbound_failure_not_recorded", inbound_id=inbound_id)
        return
    if dead:
        log.error("sms.inbound_dead", inbound_id=inbound_id, error=text[:inbox.ERROR_KEPT])
        _notify_message_log({"direction": "in", "id": inbound_id})
    else:
        log.warning("sms.inbound_failed", inbound_id=inbound_id, error=text[:inbox.ERROR_KEPT])


def _notify_message_log(data: dict) -> None:
    """Tell the command center's message log that rows changed (after the commit; best effort, never raises:
    the rows are the record, the live update only saves a reload)."""
    live.notify(get_runtime(), live.COMMAND, "message", data)


def requeue_unprocessed(older_than_s: float = 10.0) -> int:
    """Periodic: inbound messages stored but never processed (Redis was down, a worker died, an attempt failed)
    are queued again. Processing is idempotent, so a message queued twice is still handled once. Dead messages
    (sms.inbox: MAX_ATTEMPTS failed attempts) are skipped: they wait for an admin's retry."""
    from datetime import timedelta

    from mobilize.models._types import utcnow

    runtime = get_runtime()
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    with runtime.transaction() as session:
        ids = inbox.requeueable(session, cutoff)
        waiting = bool(inbox.unprocessed_after(session, 0, 1))
    if waiting:  # younger messages too: a drain for them now, not after the guard of a lost drain expires
        jobs.kick_inbox_drain(runtime.redis, replace_lost=True)
    for inbound_id in ids:
        jobs.queue_inbound(runtime.redis, inbound_id)
    if ids:
        log.info("sms.inbound_requeued", count=len(ids))
    return len(ids)
