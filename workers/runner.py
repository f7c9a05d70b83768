"""Run RQ workers and the periodic scheduler with the app's runtime built once per process.

Both ride out a Redis outage: a connection error is logged as a warning and retried with a capped backoff, never
the end of the process. The periodic sweeps and the delayed jobs are run by one `mobilize scheduler` at a time,
the one holding the lease (a Redis key with a TTL it renews); the others wait and take over when it lapses.
"""
from __future__ import annotations

import os
import signal
import socket
import sys
import time
import uuid

import structlog
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import SimpleWorker, Worker
from rq.scheduler import RQScheduler
from rq.scripts import acquire_or_refresh_lock, release_lock

from mobilize import jobs
from mobilize.runtime import Runtime
from workers.context import set_runtime
from workers.queues import QUEUE_NAMES, all_queues

log = structlog.get_logger(__name__)

REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, ConnectionError, TimeoutError)
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 5.0  # capped: a process is back at work within seconds of Redis returning
SCHEDULER_TICK_S = 1.0  # how often the leader looks for due sweeps and delayed jobs


class Backoff:
    """Delays 0.5, 1, 2, 4, 5, 5... seconds; reset after a success."""

    def __init__(self, first: float = BACKOFF_FIRST_S, cap: float = BACKOFF_MAX_S):
        self.first, self.cap, self.attempt = first, cap, 0

    def next(self) -> float:
        delay = min(self.cap, self.first * 2 ** self.attempt)
        self.attempt += 1
        return delay

    def reset(self) -> None:
        self.attempt = 0


def _wait_for_redis(connection, error: BaseException, what: str, stopping=lambda: False) -> None:
    """Block until Redis answers a PING (or a stop is requested), logging each retry as a warning."""
    backoff = Backoff()
    while not stopping():
        delay = backoff.next()
        log.warning("redis.unreachable", part=what, error=f"{type(error).__name__}: {error}"[:200],
                    retry_in_s=delay, attempt=backoff.attempt)
        time.sleep(delay)
        try:
            connection.ping()
        except REDIS_DOWN as again:
            error = again
            continue
        log.warning("redis.reconnected", part=what, attempts=backoff.attempt)
        return


# --- the worker -----------------------------------------------------------------------------------------------

def _set_parent_death_signal(signum: int = signal.SIGTERM) -> None:
    """Linux: the kernel sends `signum` to this process when its parent dies (prctl PR_SET_PDEATHSIG)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signum), 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - no libc prctl: the parent pid check still holds
        pass


class GuardedScheduler(RQScheduler):
    """RQ's scheduler for delayed jobs, forked by `worker --with-scheduler`, that dies with its worker (so it never
    keeps the scheduler lock as an orphan) and survives a Redis outage instead of exiting until RQ's 10-minute
    maintenance pass restarts it."""

    def work(self):
        parent = os.getppid()
        _set_parent_death_signal()
        if os.getppid() != parent:  # the worker died before prctl took effect
            return
        self._install_signal_handlers()
        self._retry(self.register_birth)
        while True:
            if self._stop_requested or os.getppid() != parent:
                try:
                    self.stop()  # releases the locks it holds
                except REDIS_DOWN:
                    pass  # the locks lapse within their TTL
                break
            try:
                if self.should_reacquire_locks:
                    self.acquire_locks()
                self.heartbeat()
                self.enqueue_scheduled_jobs()
            except REDIS_DOWN as error:
                self._scheduled_job_registries = []
                _wait_for_redis(self.connection, error, "worker_scheduler",
                                stopping=lambda: self._stop_requested or os.getppid() != parent)
                continue
            time.sleep(self.interval)

    def _retry(self, action) -> None:
        while not self._stop_requested:
            try:
                return action()
            except REDIS_DOWN as error:
                _wait_for_redis(self.connection, error, "worker_scheduler", stopping=lambda: self._stop_requested)


class ResilientWorkerMixin:
    """The few places where RQ's work loop lets a Redis error through ("unhandled exception, quitting"): the
    suspension check, the maintenance pass and the heartbeat after a job. RQ's own dequeue loop already retries
    with a backoff; ours caps it at BACKOFF_MAX_S."""

    max_connection_wait_time = BACKOFF_MAX_S
    stop_requested_by_signal = False

    def request_stop(self, signum, frame):
        self.stop_requested_by_signal = True
        return super().request_stop(signum, frame)

    def check_for_suspension(self, burst: bool):
        try:
            return super().check_for_suspension(burst)
        except REDIS_DOWN as error:
            _wait_for_redis(self.connection, error, "worker", stopping=lambda: self.stop_requested_by_signal)

    def run_maintenance_tasks(self):
        try:
            super().run_maintenance_tasks()
        except REDIS_DOWN as error:
            _wait_for_redis(self.connection, error, "worker", stopping=lambda: self.stop_requested_by_signal)

    def heartbeat(self, timeout=None, pipeline=None):
        if pipeline is not None:
            return super().heartbeat(timeout, pipeline=pipeline)
        try:
            return super().heartbeat(timeout)
        except REDIS_DOWN as error:  # the next Redis call meets the outage and waits for it
            log.warning("worker.heartbeat_missed", error=f"{type(error).__name__}: {error}"[:200])

    def _start_scheduler(self, burst=False, logging_level="INFO", date_format=None, log_format=None):
        """RQ's own _start_scheduler with GuardedScheduler in place of RQScheduler."""
        kwargs = {key: value for key, value in (("date_format", date_format), ("log_format", log_format))
                  if value is not None}
        self.scheduler = GuardedScheduler(self.queues, connection=self.connection,
                                          logging_level=logging_level if logging_level is not None else self.log.level,
                                          serializer=self.serializer, **kwargs)
        self.scheduler.acquire_locks()
        if self.scheduler.acquired_locks:
            if burst:
                try:
                    self.scheduler.register_birth()
                    self.scheduler.enqueue_scheduled_jobs()
                finally:
                    self.scheduler.release_locks()
                    self.scheduler.register_death()
            else:
                self.scheduler.start()


class ResilientWorker(ResilientWorkerMixin, Worker):
    pass


class ResilientSimpleWorker(ResilientWorkerMixin, SimpleWorker):
    pass


def run_worker(runtime: Runtime, queues: tuple[str, ...] = QUEUE_NAMES, burst: bool = False,
               with_scheduler: bool = False, fork: bool = False, name: str | None = None,
               freeze_heap: bool = False) -> bool:
    """Listen on the queues, highest priority first. SimpleWorker runs jobs in-process (no fork per job):
    our jobs are short database transactions, and forking costs more than the jobs themselves.

    Outside burst mode the worker only ends on SIGTERM or SIGINT: if RQ's loop quits on an error anyway (Redis
    gone at an unguarded moment), it waits for Redis and starts working again."""
    from mobilize.app import create_app

    set_runtime(runtime)
    app = create_app(runtime=runtime)  # built once; jobs that need URLs or templates use its context
    worker_class = ResilientWorker if fork else ResilientSimpleWorker
    redis = runtime.redis
    if freeze_heap:  # a worker process of its own (`mobilize worker`), not a test's burst
        log.info("worker.heap_frozen", objects=_freeze_with_the_jobs_loaded())
    worker = None
    worked = False
    while True:
        try:
            if worker is None:
                worker = worker_class(all_queues(redis, queues), connection=redis, name=name)
                log.info("worker.starting", queues=list(queues), burst=burst, scheduler=with_scheduler,
                         worker_class=worker_class.__name__)
            with app.app_context():
                worked = worker.work(burst=burst, with_scheduler=with_scheduler, logging_level="WARNING") or worked
            error: BaseException | None = None
        except REDIS_DOWN as caught:  # at start, or in RQ's teardown
            error = caught
        if burst or (worker is not None and worker.stop_requested_by_signal):
            if error is not None:
                raise error
            return worked
        log.warning("worker.restarting", reason=f"{type(error).__name__}: {error}"[:200] if error else
                    "RQ's work loop quit")
        _wait_for_redis(redis, error or RuntimeError("work loop quit"), "worker",
                        stopping=lambda: worker is not None and worker.stop_requested_by_signal)
        if worker is not None:
            try:
                worker.register_death()  # RQ refuses a second birth under a name that is not dead
            except REDIS_DOWN:
                pass
            worker = None


def _freeze_with_the_jobs_loaded() -> int:
    """mobilize.heap.freeze_startup_heap once the jobs' modules are loaded (the matching's numpy and scipy among
    them), so that what the first jobs would load is frozen too."""
    from mobilize.heap import freeze_startup_heap

    periodic_jobs()  # imports every module of workers' jobs
    return freeze_startup_heap()


# --- the scheduler --------------------------------------------------------------------------------------------

def periodic_jobs() -> list[dict]:
    """The periodic sweeps: (function, queue, interval in seconds)."""
    from workers import maintenance, orders, roster, sms

    return [
        {"func": maintenance.heartbeat, "queue_name": "default", "interval": 60},
        {"func": maintenance.expire_open_call_dialogues, "queue_name": "default", "interval": 300},
        {"func": sms.reconcile_outbox, "queue_name": "default", "interval": 10},
        {"func": sms.requeue_unprocessed, "queue_name": "default", "interval": 10},
        {"func": orders.sweep_orders, "queue_name": "default", "interval": 10},
        {"func": roster.generate_roster, "queue_name": "default", "interval": 3600},
        {"func": roster.sweep_roster, "queue_name": "default", "interval": 60},
    ]


class LeasedScheduler:
    """The periodic sweeps (RQ's CronScheduler) and the delayed jobs (RQ's scheduled registries), run by whoever
    holds the lease `jobs.SCHEDULER_LEASE_KEY`: taken with SET NX and a TTL, renewed every tick by its holder,
    released on a clean stop. A scheduler that dies stops renewing, and another takes over when the TTL lapses.
    While leading it also holds RQ's per-queue scheduler locks on the same lease, so a worker started with
    `--with-scheduler` does not move delayed jobs at the same time."""

    def __init__(self, redis, lease_s: float = jobs.SCHEDULER_LEASE_S, tick_s: float = SCHEDULER_TICK_S,
                 queues: tuple[str, ...] = QUEUE_NAMES):
        from rq.cron import CronScheduler

        self.redis = redis
        self.lease_s = max(2, int(round(lease_s)))
        self.tick_s = tick_s
        self.queues = queues
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.cron = CronScheduler(connection=redis, name=self.name)
        for job in periodic_jobs():
            self.cron.register(**job)
        self.delayed = RQScheduler(list(queues), connection=redis, name=self.name)
        self.leading = False
        self.stopping = False

    def request_stop(self, _signum=None, _frame=None) -> None:
        self.stopping = True

    def run(self) -> None:
        signal.signal(signal.SIGINT, self.request_stop)
        signal.signal(signal.SIGTERM, self.request_stop)
        log.info("scheduler.starting", name=self.name, lease_s=self.lease_s,
                 jobs=[job["func"].__name__ for job in periodic_jobs()])
        backoff = Backoff()
        try:
            while not self.stopping:
                try:
                    self.tick()
                    backoff.reset()
                except REDIS_DOWN as error:
                    if self.leading:
                        log.warning("scheduler.lease_uncertain", name=self.name)
                    self.leading = False
                    delay = backoff.next()
                    log.warning("redis.unreachable", part="scheduler", error=f"{type(error).__name__}: {error}"[:200],
                                retry_in_s=delay, attempt=backoff.attempt)
                    self._sleep(delay)
                    continue
                self._sleep(self.tick_s)
        finally:
            self.release()

    def tick(self) -> None:
        held = acquire_or_refresh_lock(self.redis, jobs.SCHEDULER_LEASE_KEY, self.name, self.lease_s)
        if held == "taken":
            if self.leading:
                log.warning("scheduler.lease_lost", name=self.name)
            self.leading = False
            return
        if not self.leading:
            log.warning("scheduler.leading", name=self.name, lease_s=self.lease_s)
            self.leading = True
            self.cron.register_birth()
        if self.cron.enqueue_jobs():
            self.cron.save()
        self.cron.heartbeat()
        self._move_delayed_jobs()
        self.redis.hset(jobs.SCHEDULER_HEARTBEAT_KEY,
                        mapping={"at": repr(time.time()), "name": self.name, "lease_s": self.lease_s})

    def _move_delayed_jobs(self) -> None:
        owned = [name for name in self.queues
                 if acquire_or_refresh_lock(self.redis, RQScheduler.get_locking_key(name), self.name,
                                            self.lease_s) != "taken"]
        if owned:
            self.delayed.prepare_registries(owned)
            self.delayed.enqueue_scheduled_jobs()

    def release(self) -> None:
        if not self.leading:
            return
        self.leading = False
        try:
            for name in self.queues:
                release_lock(self.redis, RQScheduler.get_locking_key(name), self.name)
            self.cron.register_death()
            release_lock(self.redis, jobs.SCHEDULER_LEASE_KEY, self.name)
            log.info("scheduler.lease_released", name=self.name)
        except REDIS_DOWN:
            pass  # the lease lapses by itself

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(min(0.2, deadline - time.monotonic()))


def run_cron(runtime: Runtime, lease_s: float = jobs.SCHEDULER_LEASE_S) -> None:
    """The periodic sweeps and delayed jobs under the scheduler lease; runs until SIGTERM or SIGINT, through
    Redis outages. The database is the truth, so a sweep run again after a takeover does no harm."""
    set_runtime(runtime)
    LeasedScheduler(runtime.redis, lease_s=lease_s).run()
