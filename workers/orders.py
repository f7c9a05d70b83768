"""Wartime jobs: waves, matching micro-batches and the periodic sweep. Thin: each opens a transaction and calls
`mobilize.wartime`; the database is the truth, Redis only carries the reminders.

What turns a transaction's follow-ups into these jobs (`install`, the debounced `request_match`, `request_wave`,
`schedule_recheck`, `kick`) is `mobilize.wartime.after_commit`, on the jobs door (`mobilize.jobs`), so that the
web app and the CLI wire it without importing this module; it is re-exported here for the workers and the drill.
"""
from __future__ import annotations

import structlog
from redis.exceptions import RedisError
from rq import get_current_job

from mobilize import jobs
from mobilize.models._types import utcnow
from mobilize.runtime import RedisUnavailable, Runtime
from mobilize.wartime import dispatch, followups, timers, waves
from mobilize.wartime.after_commit import (  # noqa: F401  (re-exported: the workers' and the drill's names)
    JOB_TIMEOUT_S,
    LIVE_CHANGES,
    MATCH_DEBOUNCE_S,
    MATCH_KEY,
    RECHECK_KEY,
    WAVE_GUARD_S,
    WAVE_KEY,
    debounce_s,
    default_debounce_s,
    install,
    kick,
    publish_changes,
    request_match,
    request_wave,
    schedule_recheck,
)
from mobilize.wartime.errors import NotFound
from workers.context import get_runtime
from workers.periodic import exclusive

log = structlog.get_logger(__name__)


def hold_max_s(runtime: Runtime) -> float:
    """The matching's longest hold-back for this runtime (`dispatch.hold_max_s`)."""
    return dispatch.hold_max_s(runtime.settings)


def _clear(key: str) -> None:
    try:
        get_runtime().redis.delete(key)
    except (RedisUnavailable, RedisError, OSError):
        pass  # the guard expires by itself


def _clear_match_guard(order_id: int) -> None:
    """Clear the order's match guard if it names this job (the debounced batch answers were folded into), so that
    answers arriving from now on get the next batch. A recheck (`schedule_recheck`) is not the guard's job and
    leaves it alone: clearing it while the debounced job still waited let the next answer queue a second one, and
    from then on two batches took turns, each clearing the guard for the other (issue 15: a match every second
    instead of every MATCH_DEBOUNCE_S at district scale, twice the matching's and the waves' work, and batches
    half as large). Called in-process, outside any job, it clears the guard whatever it names."""
    key, job = MATCH_KEY.format(order_id=order_id), get_current_job()
    try:
        redis = get_runtime().redis
        if job is None:
            redis.delete(key)
        else:
            jobs.delete_if_equal(redis, key, job.id.encode())
    except (RedisUnavailable, RedisError, OSError):
        pass  # the guard expires by itself


def match_order(order_id: int) -> dict:
    """One matching micro-batch for one order."""
    runtime = get_runtime()
    install(runtime)
    _clear_match_guard(order_id)
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
            result = waves.send_wave(session, order_id, utcnow(), runtime.settings.timezone,
                                     runtime.settings.sms_segments_per_second)
    except NotFound:
        return {"skipped": f"no order {order_id}"}
    log.info("orders.wave", order_id=order_id, invited=result.invited, wave=result.wave, reason=result.reason)
    return {"invited": result.invited, "wave": result.wave, "reason": result.reason}


@exclusive("orders.sweep_orders", lease_s=60)
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
        kick(runtime, requests[followups.MATCH], requests[followups.WAVE], match_delay_s=0, replace_lost=True)
        summary["timed_out"] += result.timed_out
        summary["match_requested"] += result.match_requested
        summary["wave_requested"] += result.wave_requested
    if summary["timed_out"] or summary["match_requested"] or summary["wave_requested"]:
        log.info("orders.swept", **summary)
    return summary
