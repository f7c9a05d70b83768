"""The queues, named by workload: defined by the jobs door (`mobilize.jobs`), re-exported for the workers."""
from __future__ import annotations

from mobilize.jobs import BULK, DEFAULT, HIGH, QUEUE_NAMES, all_queues, queue, queue_sizes

__all__ = ["BULK", "DEFAULT", "HIGH", "QUEUE_NAMES", "all_queues", "queue", "queue_sizes"]
