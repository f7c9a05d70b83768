"""The inbox drain (issue 15): the webhook stores each message and kicks one drain job (at most one waits), which
processes every stored message in id order; a burst is processed exactly once each, also when the drain is
killed midway (the next drain, or the periodic sweep, picks up the rest)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from rq import SimpleWorker
from rq.registry import ScheduledJobRegistry
from rq.scheduler import RQScheduler
from sqlalchemy import func, select

from mobilize import jobs
from mobilize.models import InboundMessage, OutboundMessage
from tests.test_twilio_webhooks import client, inbound_form, runtime, signed_post  # noqa: F401  (fixtures)
from workers.queues import all_queues
from workers.sms import requeue_unprocessed

ROOT = Path(__file__).resolve().parents[1]
BURST = 500


def phone(index: int) -> str:
    return f"+86139{index:08d}"


def post_burst(client, count: int, start: int = 0) -> None:  # noqa: F811
    for index in range(start, start + count):
        response = signed_post(client, "/twilio/sms", inbound_form(sid=f"SM{index:032d}", sender=phone(index),
                                                                   body="帮助"))
        assert response.status_code == 200, response.get_data(as_text=True)


def queued_job_names(redis_client) -> list[str]:
    names = {path: name for name, path in jobs.JOBS.items()}
    return [names[job.func_name] for job in jobs.queue(jobs.HIGH, redis_client).get_jobs()]


def processed(runtime) -> int:  # noqa: F811
    # a plain read: a transaction would take SQLite's write lock (BEGIN IMMEDIATE) from the drain's writes
    connection = runtime.engine.raw_connection()
    try:
        if runtime.engine.dialect.name == "postgresql":
            connection.driver_connection.autocommit = True
        cursor = connection.cursor()
        cursor.execute("SELECT count(*) FROM inbound_messages WHERE processed_at IS NOT NULL")
        return cursor.fetchone()[0]
    finally:
        connection.invalidate()  # not back to the pool in autocommit


def assert_each_processed_once(runtime, count: int) -> None:  # noqa: F811
    with runtime.transaction() as session:
        rows = session.execute(select(InboundMessage.processed_at, InboundMessage.outcome,
                                      InboundMessage.attempts)).all()
        assert len(rows) == count
        assert all(at is not None and outcome and not attempts for at, outcome, attempts in rows)
        # one answer per message: a message processed twice would have answered its sender twice
        replies = session.execute(select(OutboundMessage.to_phone, func.count())
                                  .group_by(OutboundMessage.to_phone)).all()
        assert sorted(to for to, _ in replies) == sorted(phone(index) for index in range(count))
        assert {n for _, n in replies} == {1}


def run_worker(redis_client, with_scheduler: bool = False) -> None:
    """A worker runs the inbox jobs (the sender jobs the replies kicked are taken off first: no gateway here);
    `with_scheduler`: the delayed jobs due are queued first, as `mobilize scheduler` does."""
    high = jobs.queue(jobs.HIGH, redis_client)
    if with_scheduler:
        scheduler = RQScheduler([high], connection=redis_client)
        assert scheduler.acquire_locks()
        scheduler.enqueue_scheduled_jobs()
        scheduler.release_locks()
    for job in high.get_jobs():
        if job.func_name not in (jobs.JOBS["sms.drain_inbox"], jobs.JOBS["sms.process_inbound"]):
            high.remove(job)
    SimpleWorker(all_queues(redis_client)[:1], connection=redis_client).work(burst=True)


def scheduled_drains(redis_client) -> int:
    return ScheduledJobRegistry(jobs.HIGH, connection=redis_client).count


def start_drain(runtime, tmp_path) -> subprocess.Popen:  # noqa: F811
    """A drain in a process of its own (a worker's work horse), on the test's database and Redis."""
    settings = runtime.settings
    env = dict(os.environ, DATABASE_URL=settings.database_url, REDIS_URL=settings.redis_url,
               MOBILIZE_INSTANCE_PATH=str(tmp_path / "drain-instance"), SECRET_KEY="test-secret")
    return subprocess.Popen([sys.executable, "-c", "from workers.sms import drain_inbox; drain_inbox()"],
                            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_processed(runtime, drain: subprocess.Popen, count: int) -> None:  # noqa: F811
    deadline = time.monotonic() + 60
    while processed(runtime) < count:
        assert drain.poll() is None, drain.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "the drain processed nothing within a minute"
        time.sleep(0.05)


def test_a_burst_kicks_one_drain_that_processes_each_message_once(client, runtime, redis_client):  # noqa: F811
    post_burst(client, BURST)
    assert queued_job_names(redis_client) == ["sms.drain_inbox"]  # one job for the burst, not one each
    run_worker(redis_client)
    assert_each_processed_once(runtime, BURST)
    assert redis_client.get(jobs.INBOX_KICK_KEY) is None  # the next message kicks a fresh drain
    post_burst(client, 1, start=BURST)
    assert queued_job_names(redis_client)[-1:] == ["sms.drain_inbox"]
    run_worker(redis_client)
    assert_each_processed_once(runtime, BURST + 1)
    assert requeue_unprocessed(older_than_s=0) == 0


def test_a_drain_killed_midway_leaves_every_message_processed_exactly_once(client, runtime, redis_client,  # noqa: F811
                                                                           tmp_path):
    post_burst(client, BURST)
    drain = start_drain(runtime, tmp_path)
    try:
        wait_processed(runtime, drain, 50)
        os.kill(drain.pid, signal.SIGKILL)  # killed with -9 midway: no cleanup, its lock left behind
        drain.wait(timeout=10)
    finally:
        if drain.poll() is None:
            drain.kill()
            drain.wait()
    done = processed(runtime)
    assert 50 <= done < BURST, f"the kill came too late to test anything ({done} processed)"
    # the killed drain cleared the guard as it started: the next message kicks a fresh drain, which finds the
    # dead one's lock, does not wait for it in the worker, and comes back after a moment
    post_burst(client, 1, start=BURST)
    run_worker(redis_client)
    assert processed(runtime) == done and scheduled_drains(redis_client) == 1
    deadline = time.monotonic() + jobs.INBOX_DRAIN_LOCK_S + 5
    while redis_client.exists(jobs.INBOX_DRAIN_LOCK):  # the dead drain's lock lapses
        assert time.monotonic() < deadline
        time.sleep(0.2)
    time.sleep(jobs.INBOX_DRAIN_RETRY_S)
    run_worker(redis_client, with_scheduler=True)  # the scheduler hands the retry to the worker
    assert_each_processed_once(runtime, BURST + 1)
    assert requeue_unprocessed(older_than_s=0) == 0


def test_a_drain_finding_another_at_work_leaves_at_once_and_what_came_meanwhile_is_processed(  # noqa: F811
        client, runtime, redis_client, tmp_path):
    """Two workers, a drain at work in one: a second drain kicked meanwhile must not wait for it in the other
    (that worker is the matching's); the drain at work looks again when it is done."""
    post_burst(client, BURST)
    jobs.queue(jobs.HIGH, redis_client).empty()
    drain = start_drain(runtime, tmp_path)
    try:
        wait_processed(runtime, drain, 50)
        post_burst(client, 1, start=BURST)  # kicks a second drain while the first holds the lock
        [job] = [job for job in jobs.queue(jobs.HIGH, redis_client).get_jobs()
                 if job.func_name == jobs.JOBS["sms.drain_inbox"]]
        run_worker(redis_client)
        assert job.latest_result().return_value == {"processed": 0, "failed": 0, "deferred": True}
        assert drain.wait(timeout=120) == 0, drain.stderr.read().decode()[-2000:]
    finally:
        if drain.poll() is None:
            drain.kill()
            drain.wait()
    run_worker(redis_client)  # what the first drain kicked as it let go, if it had not taken the message itself
    assert_each_processed_once(runtime, BURST + 1)
    assert requeue_unprocessed(older_than_s=0) == 0


def test_the_sweep_is_the_backstop_when_no_drain_comes(client, runtime, redis_client):  # noqa: F811
    post_burst(client, 20)
    jobs.queue(jobs.HIGH, redis_client).empty()  # the drain job lost (a Redis restart that lost its last writes)
    assert requeue_unprocessed(older_than_s=0) == 20
    run_worker(redis_client)
    assert_each_processed_once(runtime, 20)


def test_a_drain_lost_with_redis_while_its_guard_came_back_is_replaced_by_the_next_sweep(client, runtime,  # noqa: F811
                                                                                          redis_client):
    """Redis back from its append-only file with the kick guard but without the drain job it names (the file
    keeps the last second of writes at best): every webhook's kick is refused by the guard, so the sweep
    replaces it at once, for young messages too, instead of leaving replies until the guard expires."""
    post_burst(client, 5)
    jobs.queue(jobs.HIGH, redis_client).empty()  # the drain job is gone...
    redis_client.expire(jobs.INBOX_KICK_KEY, jobs.KICK_GUARD_S - jobs.KICK_GRACE_S - 1)  # ...its guard is not
    post_burst(client, 1, start=5)
    assert queued_job_names(redis_client) == []  # an ordinary kick respects the guard
    assert requeue_unprocessed(older_than_s=3600) == 0  # none old enough for the per-message backstop
    assert queued_job_names(redis_client) == ["sms.drain_inbox"]
    assert redis_client.get(jobs.INBOX_KICK_KEY).decode() == jobs.queue(jobs.HIGH, redis_client).job_ids[0]
    run_worker(redis_client)
    assert_each_processed_once(runtime, 6)
    requeue_unprocessed(older_than_s=0)
    assert queued_job_names(redis_client) == []  # nothing waiting: the sweep kicks nothing


def test_a_fresh_inbox_guard_is_left_alone_by_the_sweep(client, runtime, redis_client):  # noqa: F811
    post_burst(client, 2)
    jobs.queue(jobs.HIGH, redis_client).empty()
    redis_client.set(jobs.INBOX_KICK_KEY, "drain-inbox-just-set", ex=jobs.KICK_GUARD_S)  # its job on its way
    requeue_unprocessed(older_than_s=3600)
    assert queued_job_names(redis_client) == [] and redis_client.get(jobs.INBOX_KICK_KEY) == b"drain-inbox-just-set"


def test_a_failing_message_is_counted_and_the_drain_goes_on(runtime, redis_client):  # noqa: F811
    fail_at = 3
    from mobilize.models._types import utcnow
    from workers.sms import drain_inbox

    with runtime.transaction() as session:
        for index in range(6):
            # an empty From cannot be answered: its processing raises (tests/test_inbound_dead_letter.py)
            session.add(InboundMessage(message_sid=f"SM{index:032d}", from_phone="" if index == fail_at
                                       else phone(index), to_phone="+8610690000", body="帮助",
                                       received_at=utcnow()))
    assert drain_inbox() == {"processed": 5, "failed": 1}
    with runtime.transaction() as session:
        attempts = dict(session.execute(select(InboundMessage.message_sid, InboundMessage.attempts)).all())
    assert attempts[f"SM{fail_at:032d}"] == 1
    assert processed(runtime) == 5
    assert drain_inbox() == {"processed": 0, "failed": 1}  # tried again, counted again
