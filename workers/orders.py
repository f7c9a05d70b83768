"""Wartime jobs: waves, matching micro-batches and the periodic sweep. Thin: each opens a transaction and calls
`mobilize.wartime`; the database is the truth, Redis only carries the reminders.

Follow-ups requested by a transaction (`wartime.followups`) become jobs once it commits: `install(runtime)` hooks
the runtime's session factory (the web app and the workers call it when they start). A match request is debounced
(one job per order a couple of seconds later, guarded by SET NX) so that answers trickling in are placed in
micro-batches; the job clears the guard first, so an answer arriving during a batch gets the next one.
"""
from __future__ import annotations

from datetime import timedelta

import structlog
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import event
from sqlalchemy.orm import Session

from mobilize.models._types import utcnow
from mobilize.runtime import RedisUnavailable, Runtime
from mobilize.wartime import dispatch, followups, timers, waves
from mobilize.wartime.errors import NotFound
from workers.context import get_runtime
from workers.queues import DEFAULT, queue

log = structlog.get_logger(__name__)

MATCH_DEBOUNCE_S = 2.0  # settings.extra["match_debounce_s"] (MATCH_DEBOUNCE_S) overrides (0: at once)
MATCH_KEY = "mobilize:orders:match:{order_id}"
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
    from sqlalchemy import select

    from mobilize.models import Assignment, AuditEvent, Demand, Invitation, Order, Site, Street

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
    from mobilize import live

    data = {"orders": sorted(changed)}
    live.notify(runtime, live.COMMAND, "order", data)
    for slug in sorted(set().union(*changed.values())):
        live.notify(runtime, live.street_channel(slug), "assignment", data)


def kick(runtime: Runtime, match_orders, wave_orders, match_delay_s: float | None = None) -> None:
    """Queue the requested jobs; if Redis is unreachable the sweep requests them again from the database."""
    delay = debounce_s(runtime) if match_delay_s is None else match_delay_s
    try:
        redis = runtime.redis
        for order_id in sorted(match_orders):
            request_match(redis, order_id, delay)
        for order_id in sorted(wave_orders):
            request_wave(redis, order_id)
    except (RedisUnavailable, RedisError, OSError) as error:
        log.warning("orders.kick_deferred", error=str(error), match=sorted(match_orders), wave=sorted(wave_orders))


def debounce_s(runtime: Runtime) -> float:
    return float(runtime.settings.extra.get("match_debounce_s", MATCH_DEBOUNCE_S))


def hold_max_s(runtime: Runtime) -> float:
    """The matching's longest hold-back; settings.extra["hold_max_s"] (MATCH_HOLD_MAX_S) overrides, 0: none."""
    return float(runtime.settings.extra.get("hold_max_s", dispatch.HOLD_MAX_S))


def request_match(redis: Redis, order_id: int, delay_s: float = MATCH_DEBOUNCE_S) -> bool:
    """At most one match job waiting per order; True if this call queued it."""
    if not redis.set(MATCH_KEY.format(order_id=order_id), 1, nx=True, ex=int(delay_s) + 60):
        return False
    jobs = queue(DEFAULT, redis)
    if delay_s > 0:
        jobs.enqueue_in(timedelta(seconds=delay_s), match_order, order_id, job_timeout=JOB_TIMEOUT_S)
    else:
        jobs.enqueue(match_order, order_id, job_timeout=JOB_TIMEOUT_S)
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
        queue(DEFAULT, redis).enqueue_in(timedelta(seconds=delay_s), match_order, order_id,
                                         job_timeout=JOB_TIMEOUT_S)
        return True
    except (RedisUnavailable, RedisError, OSError) as error:
        log.warning("orders.recheck_deferred", order_id=order_id, error=str(error))
        return False


def request_wave(redis: Redis, order_id: int) -> bool:
    if not redis.set(WAVE_KEY.format(order_id=order_id), 1, nx=True, ex=WAVE_GUARD_S):
        return False
    queue(DEFAULT, redis).enqueue(send_wave, order_id, job_timeout=JOB_TIMEOUT_S)
    return True


def _clear(key: str) -> None:
    try:
        get_runtime().redis.delete(key)
    except (RedisUnavailable, RedisError, OSError):
        pass  # the guard expires by itself


def match_order(order_id: int) -> dict:
    """One matching micro-batch for one order."""
    runtime = get_runtime()
    install(runtime)
    _clear(MATCH_KEY.format(order_id=order_id))  # answers arriving from now on get the next batch
    try:
        with runtime.transaction() as session:
            outcome = dispatch.run_matching(session, order_id, utcnow(), runtime.settings.timezone,
                                            hold_max_s=hold_max_s(runtime))
    except NotFound:
        return {"skipped": f"no order {order_id}"}
    log.info("orders.matched", order_id=order_id, placed=outcome.placed, skipped=outcome.skipped,
             standby_told=outcome.standby_told, open_places=outcome.open_places, held=outcome.held,
             recheck_in_s=outcome.recheck_in_s)
    if outcome.recheck_in_s is not None:
        schedule_recheck(runtime, order_id, outcome.recheck_in_s)
    return {"placed": outcome.placed, "skipped": outcome.skipped, "standby_told": outcome.standby_told,
            "open_places": outcome.open_places}


def send_wave(order_id: int) -> dict:
    """The next invitation wave of an order, if one is due."""
    runtime = get_runtime()
    install(runtime)
    _clear(WAVE_KEY.format(order_id=order_id))
    try:
        with runtime.transaction() as session:
            result = waves.send_wave(session, order_id, utcnow(), runtime.settings.timezone)
    except NotFound:
        return {"skipped": f"no order {order_id}"}
    log.info("orders.wave", order_id=order_id, invited=result.invited, wave=result.wave, reason=result.reason)
    return {"invited": result.invited, "wave": result.wave, "reason": result.reason}


def sweep_orders() -> dict:
    """Periodic (every ~10 s): timeouts, fill state, and the matching and waves the database says are needed.
    One transaction per order, so one order's trouble does not hold up the others."""
    runtime = get_runtime()
    install(runtime)
    with runtime.transaction() as session:
        order_ids = timers.running_order_ids(session)
    summary = {"orders": len(order_ids), "timed_out": 0, "match_requested": 0, "wave_requested": 0}
    for order_id in order_ids:
        with runtime.transaction() as session:
            result = timers.sweep_order(session, order_id, utcnow(), runtime.settings)
            requests = followups.take(session)  # queued below, at once: the sweep is already the batch
        kick(runtime, requests[followups.MATCH], requests[followups.WAVE], match_delay_s=0)
        summary["timed_out"] += result.timed_out
        summary["match_requested"] += result.match_requested
        summary["wave_requested"] += result.wave_requested
    if summary["timed_out"] or summary["match_requested"] or summary["wave_requested"]:
        log.info("orders.swept", **summary)
    return summary
