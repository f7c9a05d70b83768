"""The one door for background work: the web, the services and the runtime ask for a job by name; RQ carries it.

A job's name maps to its body in `workers/` by dotted path (`JOBS`), which RQ imports when a worker runs the job,
so asking for work never imports a job body (nor does it import `workers` at all). Only this module and `workers/`
import `rq` (tests/test_architecture.py keeps it so; docs/architecture.md says why).

Queues are named by workload (DESIGN section 6):
- high: inbound replies and dispatch messages; people wait on them.
- default: matching, timers, reconciliation.
- bulk: broadcasts (invitation waves, notices); never delays `high`.
"""
from __future__ import annotations

import atexit
import os
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

import structlog
from redis import Redis, WatchError
from redis.client import Pipeline
from redis.exceptions import RedisError
from rq import Queue, Retry, Worker
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, ScheduledJobRegistry

log = structlog.get_logger(__name__)

HIGH, DEFAULT, BULK = "high", "default", "bulk"
QUEUE_NAMES: tuple[str, ...] = (HIGH, DEFAULT, BULK)  # the order workers listen in: high first

# name -> job body, resolved by the worker that runs it (the same function path RQ would store for the function)
JOBS: dict[str, str] = {
    "sms.process_inbound": "workers.sms.process_inbound",
    "sms.drain_inbox": "workers.sms.drain_inbox",
    "sms.send_pending": "workers.sms.send_pending",
    "orders.match_order": "workers.orders.match_order",
    "orders.send_wave": "workers.orders.send_wave",
    "imports.check_import": "workers.imports.check_import",  # the browser's volunteer import (issue 16)
    "imports.apply_import": "workers.imports.apply_import",
}

# The senders (workers.sms.send_pending): one waiting per priority, guarded by KICK_KEY, which the sender clears
# when it starts so that later commits kick a fresh one.
SEND_BUDGET_S = 20.0  # a sender job hands over to a fresh one after this long
KICK_KEY = "mobilize:sms:kick:{priority}"
SEND_RETRY = Retry(max=6, interval=[1, 2, 5, 15, 30, 60])  # RQ's own retry for gateway outages
KICK_GUARD_S = 30
KICK_GRACE_S = 5  # a guard this young may not have its job enqueued yet
FAILED_KEPT_S = 86400  # a failed sender or inbound job stays inspectable for a day


class UnknownJob(KeyError):
    """A job name that is not in JOBS (a typo would otherwise fail only in the worker)."""


def queue(name: str, connection: Redis) -> Queue:
    if name not in QUEUE_NAMES:
        raise ValueError(f"unknown queue {name!r}; queues are {', '.join(QUEUE_NAMES)}")
    return Queue(name, connection=connection)


def all_queues(connection: Redis, names: tuple[str, ...] = QUEUE_NAMES) -> list[Queue]:
    return [queue(name, connection) for name in names]


def queue_sizes(connection: Redis) -> dict[str, int]:
    """Jobs waiting per queue (health and metrics)."""
    return {name: queue(name, connection).count for name in QUEUE_NAMES}


def job_path(name: str) -> str:
    try:
        return JOBS[name]
    except KeyError:
        raise UnknownJob(f"no job named {name!r}; jobs are {', '.join(sorted(JOBS))}") from None


def enqueue(connection: Redis, name: str, *args: Any, queue: str = DEFAULT, timeout: float | None = None,
            job_id: str | None = None, retry: Retry | None = None, failure_ttl: int | None = None,
            pipeline: Pipeline | None = None, **kwargs: Any) -> Job:
    """Queue the job `name` with these arguments now. With `pipeline`, its writes join the caller's pipeline
    (one round trip to Redis; the caller executes it)."""
    return _queue(queue, connection).enqueue_call(job_path(name), args=args, kwargs=kwargs, timeout=timeout,
                                                  job_id=job_id, retry=retry, failure_ttl=failure_ttl,
                                                  pipeline=pipeline)


def enqueue_in(connection: Redis, delay_s: float, name: str, *args: Any, queue: str = DEFAULT,
               timeout: float | None = None, job_id: str | None = None, **kwargs: Any) -> Job:
    """Queue the job `name` to run `delay_s` seconds from now (RQ's scheduler moves it to its queue)."""
    return _queue(queue, connection).enqueue_in(timedelta(seconds=delay_s), job_path(name), args=args,
                                                kwargs=kwargs, job_timeout=timeout, job_id=job_id)


def kick_senders(connection: Redis, priorities: Iterable[Any], replace_lost: bool = False) -> None:
    """Make sure a sender job is on its way for each priority (`Priority` members or their names; at most one
    waiting per priority). The guard holds the waiting job's id; with `replace_lost` (the periodic reconcile),
    a guard whose job is gone (lost with a Redis restart from its append-only file, which keeps the last
    second of writes at best) is replaced at once instead of blocking every kick until it expires."""
    for priority in priorities:
        name = str(getattr(priority, "value", priority))
        key = KICK_KEY.format(priority=name)
        if replace_lost:
            drop_lost_guard(connection, key)
        job_id = f"send-{name}-{uuid.uuid4().hex}"
        if connection.set(key, job_id, nx=True, ex=KICK_GUARD_S):
            enqueue(connection, "sms.send_pending", name, queue=name, timeout=SEND_BUDGET_S * 4, retry=SEND_RETRY,
                    failure_ttl=FAILED_KEPT_S, job_id=job_id)


# The inbox drain (workers.sms.drain_inbox): the webhook stores a message, then kicks a drain, which processes
# every stored, unprocessed message in id order. At most one drain waits: INBOX_KICK_KEY guards it (one Redis SET
# per inbound message while a drain waits, instead of an RQ job per message: its Python was ~0.2 ms of the
# webhook's CPU). A drain clears the guard as it starts, before it tries INBOX_DRAIN_LOCK (one drain at a time)
# and looks for messages, so a message stored after its last look always finds the guard clear and kicks the
# next one. A drain that finds the lock held comes back INBOX_DRAIN_RETRY_S later (never waiting in a worker),
# and the drain holding it looks again after letting go. The periodic sweep (workers.sms.requeue_unprocessed)
# stays the backstop for a drain that died.
INBOX_KICK_KEY = "mobilize:sms:inbox:kick"
INBOX_DRAIN_LOCK = "mobilize:sms:inbox:draining"
INBOX_RETRY_KEY = "mobilize:sms:inbox:retry"
# The lock only saves two drains from walking the same rows: each message's claim (sms.inbox) is what makes it
# processed once. A live drain renews the lock per message; a killed one's lock lapses this long after.
INBOX_DRAIN_LOCK_S = 10
INBOX_DRAIN_BUDGET_S = 20.0  # a drain hands over to a fresh one after this long
INBOX_DRAIN_RETRY_S = 2.0
INBOX_DRAIN_TIMEOUT_S = 4 * INBOX_DRAIN_BUDGET_S


def queue_inbound(connection: Redis, inbound_id: int) -> None:
    """Queue one stored inbound message for processing on its own (an admin's retry of a dead letter, the sweep's
    requeue of one a drain missed); one job per message at a time (its id names the message)."""
    enqueue(connection, "sms.process_inbound", inbound_id, queue=HIGH, job_id=f"inbound-{inbound_id}", timeout=60,
            failure_ttl=FAILED_KEPT_S)


def kick_inbox_drain(connection: Redis, replace_lost: bool = False) -> bool:
    """Make sure a drain of the inbox is on its way (at most one waits); True if this call queued it. With
    `replace_lost` (the periodic sweep), a guard whose drain job is gone is replaced at once, as for the senders:
    Redis back from its append-only file may hold the guard without the job, and every webhook's kick would
    otherwise wait for the guard to expire."""
    if replace_lost:
        drop_lost_guard(connection, INBOX_KICK_KEY)
    job_id = f"drain-inbox-{uuid.uuid4().hex}"
    if not connection.set(INBOX_KICK_KEY, job_id, nx=True, ex=KICK_GUARD_S):
        return False
    enqueue(connection, "sms.drain_inbox", queue=HIGH, timeout=INBOX_DRAIN_TIMEOUT_S, failure_ttl=FAILED_KEPT_S,
            job_id=job_id)
    return True


class BackgroundKick:
    """`kick_inbox_drain` for the webhooks of one process, from a thread of its own: a webhook answers as soon as its
    message is committed, with no Redis round trip (nor Redis's health) between the commit and its answer, and
    the messages stored while one kick is on its way share the next.

    What a stored message needs is one kick that STARTS after its commit: the drain it finds waiting (guard set)
    or queues then clears the guard before its first look, so it sees the message (see INBOX_KICK_KEY).
    `request`, called after the commit, counts the request; the kicker notes the count just before each kick
    and, once the kick is done, counts the requests up to that note as covered. Kicks start at least SPACING_S
    apart (under load, one SET NX for a burst instead of one per message; the drain is a job queued for a
    worker anyway). A kick that fails (Redis down) covers its requests all the same, with a warning: they are
    stored, and the periodic sweep queues what no drain took (the webhook's rule when Redis is down); the next
    request kicks again. A process that ends between an answer and its kick leaves that message to the same
    sweep, within its period; one that exits normally (a gunicorn worker stopped or restarted) first waits up
    to EXIT_WAIT_S for the kicks it owes.

    The thread starts with the first request and ends after IDLE_EXIT_S without one (tests make many apps)."""

    SPACING_S = 0.01
    IDLE_EXIT_S = 10.0
    EXIT_WAIT_S = 2.0
    WARN_EVERY_S = 5.0  # Redis down under load: one warning per this long, with the count of failed kicks

    def __init__(self, connection: Callable[[], Redis], kick: Callable[[Redis], Any] | None = None) -> None:
        self._connection = connection
        self._kick = kick or kick_inbox_drain
        self._changed = threading.Condition(threading.Lock())
        self._requested = 0  # requests made (written under the lock)
        self._covered = 0  # requests followed by a kick that is done
        self._thread: threading.Thread | None = None
        self._pid = 0  # the process the thread runs in (a forked child has no thread)
        self._failed, self._warned_at = 0, -self.WARN_EVERY_S
        self.kicks = 0  # kicks made (tests, benchmarks)
        atexit.register(_wait_covered_at_exit, weakref.ref(self))

    def request(self) -> None:
        """Make sure a kick starts after this call (the caller's message is committed). Does not wait for it."""
        with self._changed:
            self._requested += 1
            if self._thread is None or self._pid != os.getpid():
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="inbox-kick", daemon=True)
                self._thread.start()
            else:
                self._changed.notify_all()

    def wait_covered(self, timeout: float) -> bool:
        """Wait until every request made before this call is followed by a kick that is done; False on timeout."""
        with self._changed:
            target = self._requested
            return self._changed.wait_for(lambda: self._covered >= target, timeout)

    def _run(self) -> None:
        last_start = -self.SPACING_S
        while True:
            wait = last_start + self.SPACING_S - time.monotonic()
            if wait > 0:
                time.sleep(wait)  # the requests that come meanwhile share the next kick
            with self._changed:
                if not self._changed.wait_for(lambda: self._requested > self._covered, self.IDLE_EXIT_S):
                    self._thread = None  # the next request starts another
                    return
                upto = self._requested
            last_start = time.monotonic()
            self._kick_once(upto)
            with self._changed:
                self._covered = upto
                self._changed.notify_all()

    def _kick_once(self, upto: int) -> None:
        try:
            self._kick(self._connection())
            self.kicks += 1
        except Exception as error:  # noqa: BLE001 - stored messages are the sweep's; this thread must go on
            self._failed += 1
            if time.monotonic() - self._warned_at >= self.WARN_EVERY_S:
                self._warned_at = time.monotonic()
                log.warning("sms.inbox_kick_failed", error=str(error), failed_kicks=self._failed,
                            waiting_messages=upto - self._covered)
                self._failed = 0


def _wait_covered_at_exit(kick: "weakref.ref[BackgroundKick]") -> None:
    alive = kick()
    if alive is not None and alive._pid == os.getpid():
        alive.wait_covered(alive.EXIT_WAIT_S)


def retry_inbox_drain(connection: Redis) -> bool:
    """A drain INBOX_DRAIN_RETRY_S from now (at most one scheduled): for a drain that found another at work."""
    if not connection.set(INBOX_RETRY_KEY, 1, nx=True, px=int(INBOX_DRAIN_RETRY_S * 1000)):
        return False
    enqueue_in(connection, INBOX_DRAIN_RETRY_S, "sms.drain_inbox", queue=HIGH, timeout=INBOX_DRAIN_TIMEOUT_S)
    return True


# a sender clears its guard as it starts, so a guard naming a started job outlived a worker that died right there
WAITING_STATUSES = frozenset({JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED})


def drop_lost_guard(connection: Redis, key: str, guard_s: float = KICK_GUARD_S) -> None:
    """Delete the kick guard (set for `guard_s` seconds, naming its job's id) if the job it names no longer
    waits (missing, finished or failed). A guard younger than KICK_GRACE_S is left alone: its kicker may be
    between setting it and enqueueing the job."""
    job_id = connection.get(key)
    if job_id is None or guard_s - connection.ttl(key) < KICK_GRACE_S:
        return
    try:
        # the status Job.fetch read with the job, not read again: a job that ends and is deleted in between would
        # make rq's second read raise InvalidJobOperation, and the sweep calling this fail
        status = Job.fetch(job_id.decode(), connection=connection).get_status(refresh=False)
    except NoSuchJobError:
        status = None
    if status not in WAITING_STATUSES:
        delete_if_equal(connection, key, job_id)
        log.warning("sms.kick_guard_lost", key=key, job_id=job_id.decode(), status=str(status))


def delete_if_equal(connection: Redis, key: str, value: bytes) -> None:
    """Compare-and-delete: a newer guard set meanwhile stays."""
    with connection.pipeline() as pipe:
        try:
            pipe.watch(key)
            if pipe.get(key) == value:
                pipe.multi()
                pipe.delete(key)
                pipe.execute()
        except WatchError:
            pass  # changed under us: a fresh guard, keep it


_queue = queue  # `queue` is also the keyword naming the queue in enqueue and enqueue_in


# The scheduler (workers.runner.LeasedScheduler): one `mobilize scheduler` at a time holds the lease and runs the
# periodic sweeps and the delayed jobs; it writes its heartbeat every tick, which /healthz reads.
SCHEDULER_LEASE_KEY = "mobilize:scheduler:lease"
SCHEDULER_LEASE_S = 15  # a dead scheduler is replaced within this long
SCHEDULER_HEARTBEAT_KEY = "mobilize:scheduler:heartbeat"
SCHEDULER_STALE_S = 2 * SCHEDULER_LEASE_S  # /healthz: degraded when the last heartbeat is older (two leases)


def scheduler_heartbeat(connection: Redis) -> dict | None:
    """The leading scheduler's last heartbeat: {"name", "at" (Unix time), "age_s"}, or None if there was none."""
    raw = connection.hgetall(SCHEDULER_HEARTBEAT_KEY)
    if not raw:
        return None
    values = {key.decode(): value.decode() for key, value in raw.items()}
    at = float(values["at"])
    return {"name": values.get("name"), "at": at, "age_s": round(max(0.0, time.time() - at), 1)}


def live_workers(connection: Redis) -> list[dict]:
    """The workers registered in Redis (as RQ's Worker.all finds them): name, queues, state, last heartbeat. A
    registration RQ cannot read (a damaged hash) is no sign of a live worker: left out with a warning, where
    Worker.all would raise and hide every other worker (the health check and the system page read this)."""
    found = []
    for key in Worker.all_keys(connection=connection):
        try:
            worker = Worker.find_by_key(key, connection=connection)
        except (RedisError, OSError):
            raise
        except Exception as error:  # noqa: BLE001 - one damaged registration, the others still count
            log.warning("jobs.worker_unreadable", key=key, error=f"{type(error).__name__}: {error}"[:200])
            continue
        if worker is not None:  # (gone since the listing)
            found.append({"name": worker.name, "queues": worker.queue_names(), "state": str(worker.get_state()),
                          "last_heartbeat": worker.last_heartbeat.isoformat() if worker.last_heartbeat else None})
    return found


def failed_job_counts(connection: Redis) -> dict[str, int]:
    """Jobs in RQ's failed registry per queue."""
    return {name: FailedJobRegistry(name, connection=connection).count for name in QUEUE_NAMES}


def scheduled_job_counts(connection: Redis) -> dict[str, int]:
    """Delayed jobs waiting for the scheduler per queue."""
    return {name: ScheduledJobRegistry(name, connection=connection).count for name in QUEUE_NAMES}


class NotFailed(LookupError):
    """A retry of a job that is not in the failed registry (retried already, expired, or never failed)."""


def failed_jobs(connection: Redis, limit: int = 50) -> list[dict]:
    """The most recent failed jobs of every queue (at most `limit` per queue), newest first: id, queue, job
    name, arguments, when it ended and the last line of its error (the admin's system page)."""
    found = []
    for name in QUEUE_NAMES:
        registry = FailedJobRegistry(name, connection=connection)
        ids = registry.get_job_ids(0, limit - 1, desc=True)
        for job_id, job in zip(ids, Job.fetch_many(ids, connection=connection)):
            found.append(_failed_job_view(name, job_id, job))
    return sorted(found, key=lambda job: job["ended_at"] or "", reverse=True)


_NAMES_BY_PATH = {path: name for name, path in JOBS.items()}


def _failed_job_view(queue_name: str, job_id: str, job: Job | None) -> dict:
    if job is None:  # its hash expired before the registry entry: still listed, nothing to tell
        return {"id": job_id, "queue": queue_name, "name": None, "args": "", "ended_at": None, "error": None}
    try:
        args = ", ".join(repr(arg) for arg in job.args)[:120]
        name = _NAMES_BY_PATH.get(job.func_name, job.func_name)
    except Exception:  # a job whose payload cannot be read (a renamed function, a bad pickle) is still listed
        args, name = "?", None
    return {"id": job_id, "queue": queue_name, "name": name, "args": args,
            "ended_at": job.ended_at.isoformat() if job.ended_at else None, "error": _last_error_line(job)}


def _last_error_line(job: Job) -> str | None:
    try:
        result = job.latest_result()
    except Exception as error:  # noqa: BLE001 - a result RQ cannot read back (damaged, another RQ's format)
        return f"(its result cannot be read: {type(error).__name__})"
    error_lines = (result.exc_string or "").strip().splitlines()[-1:] if result is not None else []
    return error_lines[0][:300] if error_lines else None


def requeue_failed(connection: Redis, queue_name: str, job_id: str) -> Job:
    """Put a failed job back on its queue (RQ's own FailedJobRegistry.requeue); NotFailed when it is not there."""
    if queue_name not in QUEUE_NAMES:
        raise NotFailed(f"unknown queue {queue_name!r}")
    try:
        return FailedJobRegistry(queue_name, connection=connection).requeue(job_id)
    except (NoSuchJobError, InvalidJobOperation):
        raise NotFailed(f"job {job_id!r} is not in the failed jobs of queue {queue_name!r}") from None
