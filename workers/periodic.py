"""Periodic jobs that must never overlap themselves: a Redis lock with a lease (redis-py's Lock, non-blocking).

A run that finds the lock taken skips; a run whose process dies holds it at most `lease_s`.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import structlog
from redis import Redis
from redis.exceptions import LockError

from mobilize.runtime import RedisUnavailable
from workers.context import get_runtime

log = structlog.get_logger(__name__)

LOCK_KEY = "mobilize:periodic:{name}"


@contextmanager
def single_run(redis: Redis, name: str, lease_s: float) -> Iterator[bool]:
    """Yields True to the one run that holds the lock (released at the end), False to a run that overlaps it."""
    lock = redis.lock(LOCK_KEY.format(name=name), timeout=lease_s, blocking=False)
    if not lock.acquire(blocking=False):
        yield False
        return
    try:
        yield True
    finally:
        try:
            lock.release()
        except LockError:  # the lease ran out (the run outlived it) and someone else may hold it now
            log.warning("periodic.lease_expired", job=name, lease_s=lease_s)


def exclusive(name: str, lease_s: float) -> Callable[[Callable[..., dict]], Callable[..., dict]]:
    """A periodic job that never overlaps itself across processes (a sweep that outlives its interval, or two
    schedulers during a leader change): a run that finds another holding the lock returns {"skipped": True}.
    Without Redis there is no scheduler to overlap with (a test or a script calls the job): it simply runs."""

    def wrap(job: Callable[..., dict]) -> Callable[..., dict]:
        @functools.wraps(job)  # RQ's cron stores the job by its dotted name: it must stay the job's own
        def run(*args, **kwargs) -> dict:
            try:
                redis = get_runtime().redis
            except RedisUnavailable:
                return job(*args, **kwargs)
            with single_run(redis, name, lease_s) as mine:
                if not mine:
                    log.info("periodic.skipped", job=name, reason="another run holds the lock")
                    return {"skipped": True}
                return job(*args, **kwargs)

        return run

    return wrap
