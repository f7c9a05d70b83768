"""The queues, named by workload, defined in one place (DESIGN section 6; issue 2 item 8).

- high: inbound replies and dispatch messages; people wait on them.
- default: matching, timers, reconciliation.
- bulk: broadcasts (invitation waves, notices); never delays `high`.
"""
from __future__ import annotations

from redis import Redis
from rq import Queue

HIGH, DEFAULT, BULK = "high", "default", "bulk"
QUEUE_NAMES: tuple[str, ...] = (HIGH, DEFAULT, BULK)  # the order workers listen in: high first


def queue(name: str, connection: Redis) -> Queue:
    if name not in QUEUE_NAMES:
        raise ValueError(f"unknown queue {name!r}; queues are {', '.join(QUEUE_NAMES)}")
    return Queue(name, connection=connection)


def all_queues(connection: Redis, names: tuple[str, ...] = QUEUE_NAMES) -> list[Queue]:
    return [queue(name, connection) for name in names]


def queue_sizes(connection: Redis) -> dict[str, int]:
    return {name: queue(name, connection).count for name in QUEUE_NAMES}
