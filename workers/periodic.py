"""Periodic jobs that must never overlap themselves: a Redis lock with a lease (redis-py's Lock, non-blocking).

A run that finds the lock taken skips; a run whose process dies holds it at most `lease_s`.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import structlog
from redis import Redis
from redis.exceptions import LockError

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
