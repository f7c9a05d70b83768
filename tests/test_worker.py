"""RQ on a real Redis: queues by workload, jobs open their own sessions, priority order, the scheduler."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
from rq import SimpleWorker
from rq.job import JobStatus
from rq.scheduler import RQScheduler

from config import Settings
from mobilize.runtime import RedisUnavailable, Runtime
from tests import factories
from workers import maintenance
from workers.queues import BULK, HIGH, QUEUE_NAMES, all_queues, queue, queue_sizes


@pytest.fixture
def worker_runtime(redis_rt):
    return redis_rt


def test_queues_are_defined_once_and_by_workload():
    assert QUEUE_NAMES == ("high", "default", "bulk")
    with pytest.raises(ValueError, match="unknown queue 'urgent'"):
        queue("urgent", connection=None)


def test_a_job_opens_its_own_session(worker_runtime):
    with worker_runtime.transaction() as session:
        factories.volunteer(session)
        factories.volunteer(session)
    job = queue("default", worker_runtime.redis).enqueue(maintenance.heartbeat)
    SimpleWorker(all_queues(worker_runtime.redis), connection=worker_runtime.redis).work(burst=True)
    assert job.get_status() == JobStatus.FINISHED
    assert job.return_value() == {"volunteers": 2}


def test_high_priority_overtakes_bulk(worker_runtime):
    redis = worker_runtime.redis
    order = []
    bulk_jobs = [queue(BULK, redis).enqueue(maintenance.heartbeat) for _ in range(5)]
    high_job = queue(HIGH, redis).enqueue(maintenance.heartbeat)
    worker = SimpleWorker(all_queues(redis), connection=redis)
    worker.work(burst=True, max_jobs=1)
    order.append(high_job.get_status())
    assert order == [JobStatus.FINISHED]
    assert all(job.get_status() == JobStatus.QUEUED for job in bulk_jobs)
    assert queue_sizes(redis) == {"high": 0, "default": 0, "bulk": 5}


def test_delayed_jobs_wait_for_the_scheduler(worker_runtime):
    redis = worker_runtime.redis
    job = queue("default", redis).enqueue_in(timedelta(milliseconds=1), maintenance.heartbeat)
    assert job.get_status() == JobStatus.SCHEDULED
    time.sleep(0.05)
    scheduler = RQScheduler(["default"], connection=redis)
    scheduler.acquire_locks()
    scheduler.enqueue_scheduled_jobs()
    scheduler.release_locks()
    SimpleWorker(all_queues(redis), connection=redis).work(burst=True)
    assert job.get_status() == JobStatus.FINISHED


def test_without_redis_url_and_no_embedded_server_the_error_says_what_to_do(tmp_path, sqlite_url):
    runtime = Runtime(Settings(instance_path=tmp_path / "nothing", database_url=sqlite_url, redis_url=None))
    with pytest.raises(RedisUnavailable, match="REDIS_URL"):
        runtime.redis_url
