"""Run RQ workers and the periodic scheduler with the app's runtime built once per process."""
from __future__ import annotations

import structlog
from rq import SimpleWorker, Worker

from mobilize.runtime import Runtime
from workers.context import set_runtime
from workers.queues import QUEUE_NAMES, all_queues

log = structlog.get_logger(__name__)


def run_worker(runtime: Runtime, queues: tuple[str, ...] = QUEUE_NAMES, burst: bool = False,
               with_scheduler: bool = False, fork: bool = False, name: str | None = None) -> bool:
    """Listen on the queues, highest priority first. SimpleWorker runs jobs in-process (no fork per job):
    our jobs are short database transactions, and forking costs more than the jobs themselves."""
    from mobilize.app import create_app

    set_runtime(runtime)
    app = create_app(runtime=runtime)  # built once; jobs that need URLs or templates use its context
    worker_class = Worker if fork else SimpleWorker
    worker = worker_class(all_queues(runtime.redis, queues), connection=runtime.redis, name=name)
    log.info("worker.starting", queues=list(queues), burst=burst, scheduler=with_scheduler,
             worker_class=worker_class.__name__)
    with app.app_context():
        return worker.work(burst=burst, with_scheduler=with_scheduler, logging_level="WARNING")


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


def run_cron(runtime: Runtime) -> None:
    """RQ's CronScheduler enqueues the periodic sweeps; they survive restarts since the database is the truth."""
    from rq.cron import CronScheduler

    set_runtime(runtime)
    cron = CronScheduler(connection=runtime.redis)
    for job in periodic_jobs():
        cron.register(**job)
    log.info("cron.starting", jobs=[job["func"].__name__ for job in periodic_jobs()])
    cron.start()
