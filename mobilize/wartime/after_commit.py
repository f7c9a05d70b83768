"""What a committed wartime transaction sets in motion: the follow-ups it asked for (`wartime.followups`: a
wave, a match) become jobs through the door (`mobilize.jobs`), and the live boards hear which orders changed.

`install(runtime)` hooks the runtime's session factory; the app factory, the CLI and the workers call it when they
build their runtime. A match request is debounced (one job per order a couple of seconds later, guarded by SET NX)
so that answers trickling in are placed in micro-batches; the job the guard names (`workers.orders.match_order`)
clears it first, so an answer arriving during a batch gets the next one (a recheck's job leaves it alone). If
Redis is unreachable the periodic sweep requests the jobs again from the database.
"""
from __future__ import annotations

import uuid

import structlog
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from mobilize import jobs, live
from mobilize.models import Assignment, AuditEvent, Demand, Invitation, Order, Site, Street
from mobilize.runtime import RedisUnavailable, Runtime
from mobilize.wartime import followups

log = structlog.get_logger(__name__)

# How long a match request waits for the answers right behind it (one micro-batch for them); settings.extra
# ["match_debounce_s"] (MATCH_DEBOUNCE_S) overrides either (0: at once). Placing at once (MATCH_HOLD_MAX_S=0), speed
# is the point: 0.5 s, not 2 s, took 2,000 yeses in a minute from a reply -> dispatch p95 of 4.0 s to 1.3 s (issue
# 15, live stack; smaller batches also leave the 100 segments/s sender sooner). With the hold-back the batches
# stay 2 s: at 0.5 s the district drill (100k volunteers, 5,000 places) walked people much farther (mean 341 ->
# 570 m, p95 1.2 -> 3.9 km; twice the match and wave evaluations: docs/benchmarks.md, bench:drill-scale), although
# its live p95 fell 25 -> 10 s: a shorter wait is not worth a walk three times as long.
MATCH_DEBOUNCE_S = 2.0
AT_ONCE_DEBOUNCE_S = 0.5
MATCH_KEY = "mobilize:orders:match:{order_id}"
MATCH_GUARD_S = 60  # beyond the debounce: how long a match request's guard outlives a job that never ran
RECHECK_KEY = "mobilize:orders:recheck:{order_id}"
WAVE_KEY = "mobilize:orders:wave:{order_id}"
WAVE_GUARD_S = 5  # one wave job per order at a time is plenty: the job itself decides whether a wave is due
JOB_TIMEOUT_S = 300


def install(runtime: Runtime) -> None:
    """Turn the follow-ups of committed transactions into jobs (idempotent, once per runtime)."""
    if runtime.__dict__.get("_wartime_followups"):
        return
    runtime.__dict__["_wartime_followups"] = True

    def after_commit(session: Session) -> None:
        requests = followups.take(session)
        changed = session.info.pop(LIVE_CHANGES, {})  # live boards: see _note_changes
        if any(requests.values()):
            kick(runtime, requests[followups.MATCH], requests[followups.WAVE])
        if changed:
            publish_changes(runtime, changed)

    event.listen(runtime.sessions, "after_commit", after_commit)
    # Live boards (issue 6): note the orders whose places, invitations or state a flush changed, with their
    # streets (looked up inside the transaction); after the commit they are announced on the `command` channel
    # and on those streets' channels (mobilize.live).
    event.listen(runtime.sessions, "after_flush", _note_changes)
    event.listen(runtime.sessions, "after_soft_rollback", lambda session, previous: None if previous.nested
                 else session.info.pop(LIVE_CHANGES, None))  # a savepoint's rollback keeps the others' notes


LIVE_CHANGES = "live.changed_orders"  # session.info: {order id: street slugs}


def _note_changes(session: Session, _flush_context) -> None:
    noted = session.info.setdefault(LIVE_CHANGES, {})
    dirty = [row for row in session.dirty if session.is_modified(row, include_collections=False)]
    new_ids = set()
    for row in (*session.new, *dirty, *session.deleted):
        if isinstance(row, AuditEvent):  # assignments move by UPDATE statements; their audit events say so
            order_id = row.subject_id if row.subject_type == "order" else (row.details or {}).get("order_id")
        else:
            order_id = row.id if isinstance(row, Order) else (
                row.order_id if isinstance(row, (Assignment, Demand, Invitation)) else None)
        if order_id is not None and order_id not in noted:
            new_ids.add(order_id)
    if not new_ids:
        return
    for order_id in new_ids:
        noted[order_id] = set()
    # The same connection and transaction: no new lock (a second session would wait on SQLite's writer lock).
    for order_id, slug in session.connection().execute(
            select(Demand.order_id, Street.slug).join(Site, Site.id == Demand.site_id)
            .join(Street, Street.id == Site.street_id).where(Demand.order_id.in_(sorted(new_ids))).distinct()):
        noted[order_id].add(slug)


def publish_changes(runtime: Runtime, changed: dict[int, set[str]]) -> None:
    """After a commit: tell the command center and the streets of these orders that their numbers changed
    (events are notifications; the pages reload what they show). Best effort: never fails the caller."""
    data = {"orders": sorted(changed)}
    live.notify(runtime, live.COMMAND, "order", data)
    for slug in sorted(set().union(*changed.values())):
        live.notify(runtime, live.street_channel(slug), "assignment", data)


def kick(runtime: Runtime, match_orders, wave_orders, match_delay_s: float | None = None,
         replace_lost: bool = False) -> None:
    """Queue the requested jobs; if Redis is unreachable the sweep requests them again from the database (with
    `replace_lost`: see request_match)."""
    delay = debounce_s(runtime) if match_delay_s is None else match_delay_s
    try:
        redis = runtime.redis
        for order_id in sorted(match_orders):
            request_match(redis, order_id, delay, replace_lost=replace_lost)
        for order_id in sorted(wave_orders):
            request_wave(redis, order_id)
    except (RedisUnavailable, RedisError, OSError) as error:
        log.warning("orders.kick_deferred", error=str(error), match=sorted(match_orders), wave=sorted(wave_orders))


def debounce_s(runtime: Runtime) -> float:
    """The match debounce of this runtime: MATCH_DEBOUNCE_S if set, else the policy's (`default_debounce_s`)."""
    from mobilize.wartime.dispatch import hold_max_s

    configured = runtime.settings.extra.get("match_debounce_s")
    return float(configured) if configured is not None else default_debounce_s(hold_max_s(runtime.settings))


def default_debounce_s(hold_max_s: float) -> float:
    """The match debounce of a matching policy: short when placing at once, longer with the hold-back."""
    return AT_ONCE_DEBOUNCE_S if hold_max_s <= 0 else MATCH_DEBOUNCE_S


def request_match(redis: Redis, order_id: int, delay_s: float = MATCH_DEBOUNCE_S, replace_lost: bool = False) -> bool:
    """At most one match job waiting per order; True if this call queued it. The guard names its job: with
    `replace_lost` (the sweep), a guard whose job is gone is replaced at once. Redis back from its append-only
    file may hold the guard without the job (the file keeps the last second of writes at best), and every
    answer's request would otherwise be refused for the guard's minute: places open, standby waiting."""
    key = MATCH_KEY.format(order_id=order_id)
    if replace_lost:
        # the guard's age is read against its shortest life (a request at once): never younger than it is
        jobs.drop_lost_guard(redis, key, MATCH_GUARD_S)
    job_id = f"match-{order_id}-{uuid.uuid4().hex}"
    if not redis.set(key, job_id, nx=True, ex=int(delay_s) + MATCH_GUARD_S):
        return False
    if delay_s > 0:
        jobs.enqueue_in(redis, delay_s, "orders.match_order", order_id, timeout=JOB_TIMEOUT_S, job_id=job_id)
    else:
        jobs.enqueue(redis, "orders.match_order", order_id, timeout=JOB_TIMEOUT_S, job_id=job_id)
    return True


def schedule_recheck(runtime: Runtime, order_id: int, delay_s: float) -> bool:
    """A match when the first hold-back ends, so that no place waits on the next sweep (up to 10 s more) for a
    volunteer whose hold-back is over. Unguarded by MATCH_KEY: answers arriving meanwhile still get their own
    debounced batch. One recheck per order at a time: hold-backs end in the order of the answers, so a later
    batch never needs an earlier recheck than the one already waiting. Best effort: the sweep is the backstop."""
    try:
        redis = runtime.redis
        key = RECHECK_KEY.format(order_id=order_id)
        if not redis.set(key, 1, nx=True, px=int(delay_s * 1000) + 1000):
            return False
        jobs.enqueue_in(redis, delay_s, "orders.match_order", order_id, timeout=JOB_TIMEOUT_S)
        return True
    except (RedisUnavailable, RedisError, OSError) as error:
        log.warning("orders.recheck_deferred", order_id=order_id, error=str(error))
        return False


def request_wave(redis: Redis, order_id: int) -> bool:
    if not redis.set(WAVE_KEY.format(order_id=order_id), 1, nx=True, ex=WAVE_GUARD_S):
        return False
    jobs.enqueue(redis, "orders.send_wave", order_id, timeout=JOB_TIMEOUT_S)
    return True
