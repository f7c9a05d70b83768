"""Crashes and lost queues: a worker killed inside a matching transaction loses nothing and overfills nothing;
a Redis flushed mid-order (every queued job gone) is rebuilt by the sweep from the database."""
from __future__ import annotations

import multiprocessing
import os
import signal
import time
from datetime import timedelta

import pytest
from rq import SimpleWorker
from sqlalchemy import func, select, update

from mobilize.models import Assignment, AssignmentStatus, OutboundMessage
from mobilize.models._types import utcnow
from mobilize.runtime import Runtime
from mobilize.wartime import lifecycle
from tests.conftest import make_settings
from tests.wartime import worker_proc
from tests.wartime.conftest import (
    COMMANDER,
    active,
    check_capacity_invariants,
    draft,
    handed_to_the_gateway,
    invited_ids,
    people,
    run_match,
    run_wave,
    sent,
    sites,
    text,
)
from workers import orders as order_jobs
from workers.context import set_runtime
from workers.queues import all_queues, queue_sizes


def test_a_worker_killed_inside_a_matching_transaction_loses_nothing(rt, tmp_path):
    with rt.transaction() as session:
        site, _ = sites(session)
        crowd = people(session, 6)
    order_id = draft(rt, [(site.id, "registration", 3)], expected_answer_rate=0.5)
    with rt.transaction() as session:
        lifecycle.launch(session, order_id, COMMANDER, utcnow())
    run_wave(rt, order_id)
    for volunteer in crowd:
        text(rt, volunteer, "Y")
    marker = tmp_path / "inside"
    victim = multiprocessing.get_context("fork").Process(
        target=worker_proc.run_hang, args=(rt.settings.database_url, str(marker), order_id))
    victim.start()
    deadline = time.monotonic() + 30
    while not marker.exists():
        assert victim.is_alive() and time.monotonic() < deadline, "the worker never got inside the transaction"
        time.sleep(0.01)
    os.kill(victim.pid, signal.SIGKILL)  # mid-transaction: one place reserved, one dispatch written, not committed
    victim.join(10)
    assert victim.exitcode == -signal.SIGKILL
    assert active(rt, order_id) == [] and sent(rt, "dispatch") == []  # nothing of it survived
    check_capacity_invariants(rt, order_id)
    outcome = run_match(rt, order_id)  # another worker (here: us) takes over, the lock is free again
    assert outcome.placed == 3
    check_capacity_invariants(rt, order_id)
    assert len(sent(rt, "dispatch")) == 3 and len(sent(rt, "standby")) == 3


@pytest.fixture
def qrt(tmp_path, database_url, redis_url, redis_client) -> Runtime:
    for priority in ("high", "bulk"):  # SMS senders are not the subject here: the outbox rows are
        redis_client.set(f"mobilize:sms:kick:{priority}", 1, ex=600)
    runtime = Runtime(make_settings(tmp_path, database_url, redis_url, extra={"match_debounce_s": 0}))
    set_runtime(runtime)
    order_jobs.install(runtime)
    yield runtime
    set_runtime(None)
    runtime.close()


def work(redis) -> None:
    SimpleWorker(all_queues(redis), connection=redis).work(burst=True, logging_level="ERROR")


def flush(redis) -> None:
    """Redis lost everything: queued jobs, guards, kicks (the SMS kicks stay blocked for the test's sake)."""
    redis.flushdb()
    for priority in ("high", "bulk"):
        redis.set(f"mobilize:sms:kick:{priority}", 1, ex=600)


def test_redis_flushed_mid_order_the_sweep_rebuilds(qrt, redis_client):
    with qrt.transaction() as session:
        site, _ = sites(session)
        crowd = people(session, 6)
    order_id = draft(qrt, [(site.id, "registration", 2)], expected_answer_rate=0.5, over_recruit_factor=1.5,
                     confirmation_timeout_s=60)
    with qrt.transaction() as session:
        lifecycle.launch(session, order_id, COMMANDER, utcnow())
    assert queue_sizes(redis_client)["default"] == 1  # the first wave's job, queued after the commit
    flush(redis_client)  # ... and lost
    order_jobs.sweep_orders()  # the sweep finds an open order that never had a wave
    work(redis_client)
    assert len(invited_ids(qrt, order_id)) == 6
    handed_to_the_gateway(qrt)  # they answer the invitations they received
    for volunteer in crowd[:4]:
        text(qrt, volunteer, "Y")  # each commit queued a match job...
    flush(redis_client)  # ... all lost
    assert active(qrt, order_id) == []
    summary = order_jobs.sweep_orders()
    assert summary["match_requested"] == 1
    work(redis_client)
    placed = active(qrt, order_id)
    assert [a.volunteer_id for a in placed] == [crowd[0].id, crowd[1].id]
    assert len(sent(qrt, "standby")) == 2
    # time passes: the first dispatch is not confirmed in time; Redis is flushed again before anyone notices
    with qrt.transaction() as session:
        session.execute(update(Assignment).where(Assignment.id == placed[0].id)
                        .values(confirm_by=utcnow() - timedelta(seconds=1)))
    flush(redis_client)
    summary = order_jobs.sweep_orders()
    assert summary["timed_out"] == 1
    work(redis_client)
    check_capacity_invariants(qrt, order_id)
    now_placed = {a.volunteer_id for a in active(qrt, order_id)}
    assert now_placed == {crowd[1].id, crowd[2].id}  # the nearest on standby took the place
    assert len(sent(qrt, "confirm_timeout", crowd[0])) == 1
    with qrt.transaction() as session:
        statuses = dict(session.execute(select(Assignment.volunteer_id, Assignment.status)
                                        .where(Assignment.backfill.is_(True))).all())
        assert statuses == {crowd[2].id: AssignmentStatus.notified}
        assert session.scalar(select(func.count()).select_from(OutboundMessage)
                              .where(OutboundMessage.kind == "dispatch")) == 3


def test_match_requests_are_debounced_into_one_job(tmp_path, sqlite_url, redis_url, redis_client):
    from rq.registry import ScheduledJobRegistry

    runtime = Runtime(make_settings(tmp_path, sqlite_url, redis_url))
    set_runtime(runtime)
    try:
        assert order_jobs.request_match(redis_client, 7, delay_s=2)
        assert not order_jobs.request_match(redis_client, 7, delay_s=2)  # answers trickling in: same batch
        assert order_jobs.request_match(redis_client, 8, delay_s=2)  # another order has its own
        assert ScheduledJobRegistry("default", connection=redis_client).count == 2
        assert order_jobs.match_order(7) == {"skipped": "no order 7"}  # the guard is cleared all the same
        assert order_jobs.request_match(redis_client, 7, delay_s=0)
        assert queue_sizes(redis_client)["default"] == 1
    finally:
        set_runtime(None)
        runtime.close()


def test_a_recheck_leaves_the_waiting_batchs_guard_alone_and_the_batch_clears_it(tmp_path, sqlite_url, redis_url,
                                                                                 redis_client):
    """A recheck (the end of a hold-back) runs while the debounced batch still waits: the answers arriving after it
    still join that batch (one waiting match job per order), and the batch clears its guard when it runs. The
    recheck used to clear it, and from then on two batches took turns (issue 15: a match every second)."""
    from mobilize import jobs

    runtime = Runtime(make_settings(tmp_path, sqlite_url, redis_url))
    set_runtime(runtime)
    key = order_jobs.MATCH_KEY.format(order_id=7)
    worker = SimpleWorker(all_queues(redis_client), connection=redis_client)
    try:
        assert order_jobs.request_match(redis_client, 7, delay_s=30)  # the batch, waiting for its answers
        batch = redis_client.get(key)
        recheck = jobs.enqueue(redis_client, "orders.match_order", 7)  # not the guard's job
        assert worker.work(burst=True)
        assert recheck.get_status(refresh=True) == "finished"
        assert redis_client.get(key) == batch
        assert not order_jobs.request_match(redis_client, 7, delay_s=30)  # an answer now joins the waiting batch
        redis_client.delete(key)
        assert order_jobs.request_match(redis_client, 7, delay_s=0)  # a batch due at once, run by the worker
        assert worker.work(burst=True)
        assert redis_client.get(key) is None
        assert order_jobs.request_match(redis_client, 7, delay_s=30)  # the next answer gets the next batch
    finally:
        set_runtime(None)
        runtime.close()


def test_a_match_guard_redis_kept_without_its_job_is_replaced_by_the_sweep_not_after_a_minute(tmp_path, sqlite_url,
                                                                                             redis_url,
                                                                                             redis_client):
    """Redis back from its append-only file with an order's match guard but not the scheduled job it names
    (chaos, redis_restart_aof): answers' requests are refused by the guard; the sweep's request replaces it. A
    guard whose job still waits, or one just set, is left alone."""
    from rq.registry import ScheduledJobRegistry

    from mobilize.wartime.after_commit import MATCH_GUARD_S, MATCH_KEY

    runtime = Runtime(make_settings(tmp_path, sqlite_url, redis_url))
    set_runtime(runtime)
    scheduled = ScheduledJobRegistry("default", connection=redis_client)
    key = MATCH_KEY.format(order_id=7)
    try:
        assert order_jobs.request_match(redis_client, 7, delay_s=2)
        assert redis_client.get(key).decode() == scheduled.get_job_ids()[0]  # the guard names its job
        redis_client.expire(key, MATCH_GUARD_S - 10)  # old enough to be judged
        assert not order_jobs.request_match(redis_client, 7, delay_s=0, replace_lost=True)  # its job waits
        for job_id in scheduled.get_job_ids():  # ...and now it is gone with Redis's last second
            scheduled.remove(job_id, delete_job=True)
        assert not order_jobs.request_match(redis_client, 7, delay_s=2)  # an answer's request: refused
        assert order_jobs.request_match(redis_client, 7, delay_s=0, replace_lost=True)  # the sweep's: replaced
        assert queue_sizes(redis_client)["default"] == 1
        jobs_queued = all_queues(redis_client)
        redis_client.set(key, "match-7-just-set", ex=MATCH_GUARD_S)  # a request between its SET and its enqueue
        for queue in jobs_queued:
            queue.empty()
        assert not order_jobs.request_match(redis_client, 7, delay_s=0, replace_lost=True)
        assert redis_client.get(key) == b"match-7-just-set"
    finally:
        set_runtime(None)
        runtime.close()
