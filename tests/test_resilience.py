"""Nothing stays dead (issue 12): real `mobilize worker` and `mobilize scheduler` processes on the embedded Redis,
which is stopped and started again on the same socket; two schedulers under the lease; a worker killed with -9
takes its forked RQ scheduler with it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue
from rq.job import Job, JobStatus
from rq.scheduler import RQScheduler

from mobilize import jobs
from mobilize.embedded_redis import EmbeddedRedis

pytestmark = pytest.mark.slow
LEASE_S = 3
ROOT = Path(__file__).resolve().parents[1]


class Stack:
    """An embedded Redis and the processes started against it, all stopped at the end."""

    def __init__(self, tmp_path: Path, database_url: str):
        self.instance = tmp_path / "instance"
        self.redis_server = EmbeddedRedis(self.instance).start()
        self.env = dict(os.environ, REDIS_URL=self.redis_server.url, DATABASE_URL=database_url,
                        MOBILIZE_INSTANCE_PATH=str(self.instance), SECRET_KEY="test-secret", PYTHONUNBUFFERED="1")
        self.processes: list[subprocess.Popen] = []
        self.logs = tmp_path / "logs"
        self.logs.mkdir()

    @property
    def redis(self) -> Redis:
        return Redis.from_url(self.redis_server.url)

    def start(self, *args: str) -> subprocess.Popen:
        log = open(self.logs / f"{args[0]}-{len(self.processes)}.log", "wb")
        process = subprocess.Popen([sys.executable, "-m", "mobilize", *args], env=self.env, cwd=ROOT,
                                   stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        log.close()
        self.processes.append(process)
        return process

    def restart_redis(self, down_s: float = 2.0) -> float:
        """Stop Redis (it flushes its append-only file), wait, start it on the same socket; returns when it is
        back (time.time())."""
        self.redis_server.stop()
        time.sleep(down_s)
        self.redis_server = EmbeddedRedis(self.instance).start()
        return time.time()

    def output(self) -> str:
        return "\n".join(f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
                         for path in sorted(self.logs.iterdir()))

    def close(self) -> None:
        for process in self.processes:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            process.wait()
        self.redis_server.stop()


@pytest.fixture
def stack(tmp_path, sqlite_url):
    stack = Stack(tmp_path, sqlite_url)
    yield stack
    stack.close()


def wait_for(predicate, timeout: float, what: str, stack: Stack):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except Exception:  # Redis coming back, a key not yet written
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} not within {timeout}s\n{stack.output()}")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (killed, not yet reaped) is dead too
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def scheduler_child(redis: Redis) -> tuple[str, int]:
    """The RQ scheduler holding the default queue's lock: its name and pid."""
    name = redis.get(RQScheduler.get_locking_key("default"))
    if name is None:
        return None
    pid = redis.hget(f"rq:scheduler:{name.decode()}", "pid")
    return (name.decode(), int(pid)) if pid else None


def run_heartbeat_job(stack: Stack, timeout: float = 20.0, delay_s: float | None = None) -> Job:
    queue = Queue("default", connection=stack.redis)
    if delay_s is None:
        job = queue.enqueue("workers.maintenance.heartbeat")
    else:
        from datetime import timedelta

        job = queue.enqueue_in(timedelta(seconds=delay_s), "workers.maintenance.heartbeat")
    wait_for(lambda: job.get_status(refresh=True) == JobStatus.FINISHED, timeout, f"job {job.id} finished", stack)
    return job


def test_a_worker_and_its_scheduler_ride_out_a_redis_restart(stack):
    worker = stack.start("worker", "--queues", "default", "--with-scheduler")
    wait_for(lambda: jobs.live_workers(stack.redis), 20, "the worker registered", stack)
    _, scheduler_pid = wait_for(lambda: scheduler_child(stack.redis), 10, "the worker's RQ scheduler", stack)
    run_heartbeat_job(stack)

    for _ in range(2):
        stack.restart_redis()
        time.sleep(1.0)  # the worker meets the outage's end in its backoff
        assert worker.poll() is None, stack.output()
        assert alive(scheduler_pid), "RQ's scheduler inside the worker died with the Redis restart"
        run_heartbeat_job(stack)  # the worker takes jobs again
        run_heartbeat_job(stack, delay_s=0.5)  # and its scheduler moves delayed jobs again
    assert worker.poll() is None


def test_the_scheduler_rides_out_a_redis_restart(stack):
    scheduler = stack.start("scheduler", "--lease", str(LEASE_S))
    wait_for(lambda: jobs.scheduler_heartbeat(stack.redis), 20, "the scheduler's heartbeat", stack)

    back_at = stack.restart_redis(down_s=3.0)
    heartbeat = wait_for(lambda: (beat := jobs.scheduler_heartbeat(stack.redis)) and beat["at"] > back_at and beat,
                         10, "a heartbeat after the restart", stack)
    assert scheduler.poll() is None, stack.output()
    assert heartbeat["age_s"] < 5
    # a sweep enqueued after Redis came back (reconcile_outbox runs every 10 s; the last one at most 10 s ago)
    history = "rq:cron_job:workers.sms.reconcile_outbox:jobs"
    wait_for(lambda: stack.redis.zrangebyscore(history, back_at, "+inf"), 12, "a sweep after the restart", stack)
    stack.restart_redis(down_s=1.0)
    time.sleep(2.0)
    assert scheduler.poll() is None, stack.output()


def test_one_scheduler_leads_and_another_takes_over_within_the_lease(stack):
    first = stack.start("scheduler", "--lease", str(LEASE_S))
    second = stack.start("scheduler", "--lease", str(LEASE_S))
    leader = wait_for(lambda: stack.redis.get(jobs.SCHEDULER_LEASE_KEY), 20, "a leader", stack).decode()
    wait_for(lambda: all(b"scheduler.starting" in path.read_bytes() for path in stack.logs.iterdir()), 20,
             "both schedulers running", stack)
    time.sleep(2 * LEASE_S)
    sweeps = "rq:cron_job:workers.roster.sweep_roster:jobs"  # every 60 s: run once by a leader as it takes over
    assert stack.redis.zcard(sweeps) == 1, "two schedulers ran the sweeps"
    assert stack.redis.get(jobs.SCHEDULER_LEASE_KEY).decode() == leader

    leader_pid = int(leader.split(":")[1])
    standby = second if leader_pid == first.pid else first
    assert leader_pid in (first.pid, second.pid)
    os.kill(leader_pid, signal.SIGKILL)
    killed_at = time.monotonic()
    new_leader = wait_for(lambda: (name := stack.redis.get(jobs.SCHEDULER_LEASE_KEY)) and name.decode() != leader
                          and name.decode(), LEASE_S + 5, "a new leader", stack)
    assert time.monotonic() - killed_at <= LEASE_S + 2
    assert int(new_leader.split(":")[1]) == standby.pid
    wait_for(lambda: stack.redis.zcard(sweeps) == 2, 5, "the sweeps run by the new leader", stack)
    assert jobs.scheduler_heartbeat(stack.redis)["name"] == new_leader


def test_a_killed_worker_leaves_no_orphan_scheduler(stack):
    worker = stack.start("worker", "--queues", "default", "--with-scheduler")
    name, scheduler_pid = wait_for(lambda: scheduler_child(stack.redis), 20, "the worker's RQ scheduler", stack)
    assert scheduler_pid != worker.pid and alive(scheduler_pid)

    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    wait_for(lambda: not alive(scheduler_pid), 5, "the scheduler child exited with its worker", stack)
    wait_for(lambda: stack.redis.get(RQScheduler.get_locking_key("default")) is None, 5,
             "the scheduler lock released", stack)

    successor = stack.start("worker", "--queues", "default", "--with-scheduler")
    wait_for(lambda: (child := scheduler_child(stack.redis)) and child[0] != name, 20,
             "the restarted worker's scheduler holds the lock", stack)
    run_heartbeat_job(stack, delay_s=0.5)
    assert successor.poll() is None
