"""The kick guards' replacement (jobs.drop_lost_guard, called by the periodic sweeps): a guard whose job no longer
waits is dropped, one whose job waits is kept, also when the job ends between the reads. A real Redis."""
from __future__ import annotations

import pytest
from redis import Redis
from rq import Queue
from rq.job import JobStatus

from mobilize import jobs


class _JobEndsRightAfterItIsRead(Redis):
    """The worker running the guard's job finishes it, and its hash goes (result_ttl 0), the moment the guard's
    check has read it: what a busy worker does at any instant."""

    doomed = ""  # the job's key

    def hgetall(self, name):
        data = super().hgetall(name)
        if (name.decode() if isinstance(name, bytes) else name) == self.doomed:
            self.delete(name)
        return data


@pytest.fixture
def connection(redis_url, redis_client):
    client = _JobEndsRightAfterItIsRead.from_url(redis_url)
    yield client
    client.close()


def _guard_for(connection: Redis, status: JobStatus, age_s: float = jobs.KICK_GRACE_S + 1) -> tuple[str, str]:
    job = Queue(jobs.HIGH, connection=connection).enqueue("workers.sms.drain_inbox", job_id="drain-inbox-under-test")
    job.set_status(status)
    connection.set(jobs.INBOX_KICK_KEY, job.id, ex=int(jobs.KICK_GUARD_S - age_s))
    return jobs.INBOX_KICK_KEY, job.id


def test_a_guard_whose_job_started_and_ended_while_it_was_checked_is_dropped(connection):
    key, job_id = _guard_for(connection, JobStatus.STARTED)
    connection.doomed = f"rq:job:{job_id}"
    jobs.drop_lost_guard(connection, key)  # rq's second read of the vanished job raised InvalidJobOperation here
    assert connection.get(key) is None and not connection.exists(f"rq:job:{job_id}")


def test_a_guard_whose_job_waits_is_kept_and_one_whose_job_is_gone_is_dropped(connection):
    key, job_id = _guard_for(connection, JobStatus.QUEUED)
    jobs.drop_lost_guard(connection, key)
    assert connection.get(key) == job_id.encode()
    connection.delete(f"rq:job:{job_id}")
    jobs.drop_lost_guard(connection, key)
    assert connection.get(key) is None


def test_a_young_guard_is_left_alone_even_without_its_job(connection):
    connection.set(jobs.INBOX_KICK_KEY, "drain-inbox-not-enqueued-yet", ex=jobs.KICK_GUARD_S)
    jobs.drop_lost_guard(connection, jobs.INBOX_KICK_KEY)
    assert connection.get(jobs.INBOX_KICK_KEY) == b"drain-inbox-not-enqueued-yet"
