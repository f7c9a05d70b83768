"""A separate worker process for the concurrency and crash tests: `python -m tests.wartime.worker_proc MODE ...`.

Modes:
  rq DB_URL REDIS_URL                       an RQ SimpleWorker, started when the parent says go, burst mode
  place DB_URL REDIS_URL ORDER_ID SEED N    N single placements on random (demand, volunteer) pairs, no order lock
  hang DB_URL MARKER ORDER_ID               matching that stops forever inside its transaction after one placement
"""
from __future__ import annotations

import random
import sys
import time
from pathlib import Path

from config import Settings
from mobilize.runtime import Runtime


def runtime_for(database_url: str, redis_url: str | None) -> Runtime:
    settings = Settings(instance_path=Path("/tmp/mobilize-worker-proc"), database_url=database_url,
                        redis_url=redis_url, secret_key="test", testing=True, extra={"match_debounce_s": 0})
    return Runtime(settings)


def wait_for_go(redis) -> None:
    """Everyone starts together, so that the workers really race."""
    redis.sadd("test:ready", str(id(redis)) + str(time.time()))
    deadline = time.monotonic() + 60
    while not redis.get("test:go"):
        if time.monotonic() > deadline:
            raise SystemExit("no go")
        time.sleep(0.005)


def run_rq(database_url: str, redis_url: str) -> None:
    from rq import SimpleWorker

    from workers.context import set_runtime
    from workers.orders import install
    from workers.queues import all_queues

    runtime = runtime_for(database_url, redis_url)
    set_runtime(runtime)
    install(runtime)
    redis = runtime.redis
    wait_for_go(redis)
    SimpleWorker(all_queues(redis), connection=redis).work(burst=True, logging_level="ERROR")


def run_place(database_url: str, redis_url: str, order_id: int, seed: int, count: int) -> None:
    from sqlalchemy import select

    from mobilize.models import Demand, Invitation
    from mobilize.models._types import utcnow
    from mobilize.wartime.places import place

    runtime = runtime_for(database_url, redis_url)
    with runtime.transaction() as session:
        demands = list(session.scalars(select(Demand.id).where(Demand.order_id == order_id)))
        volunteers = list(session.scalars(select(Invitation.volunteer_id).where(Invitation.order_id == order_id)))
    rng = random.Random(seed)
    wait_for_go(runtime.redis)
    for _ in range(count):
        with runtime.transaction() as session:  # one placement per transaction, and no order lock at all
            place(session, order_id, rng.choice(demands), rng.choice(volunteers), utcnow())


def run_hang(database_url: str, marker: str, order_id: int) -> None:
    from mobilize.models._types import utcnow
    from mobilize.wartime import dispatch

    runtime = runtime_for(database_url, None)
    real_send = dispatch.send_dispatch

    def send_then_hang(session, order, assignment, zone):
        real_send(session, order, assignment, zone)
        session.flush()
        Path(marker).write_text("inside the transaction")
        time.sleep(120)  # the parent kills us here

    dispatch.send_dispatch = send_then_hang
    with runtime.transaction() as session:
        dispatch.run_matching(session, order_id, utcnow())


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    if mode == "rq":
        run_rq(*args)
    elif mode == "place":
        run_place(args[0], args[1], int(args[2]), int(args[3]), int(args[4]))
    elif mode == "hang":
        run_hang(args[0], args[1], int(args[2]))
    else:
        raise SystemExit(f"unknown mode {mode}")
