"""The concurrency proof: worker processes racing on one order, with duplicate accepts and duplicate inbound
messages, never fill a demand past capacity, keep `filled` equal to the active assignments and never dispatch
anyone twice. On PostgreSQL (row locks, conditional UPDATEs, the partial unique index) and on SQLite."""
from __future__ import annotations

import multiprocessing
import time
from collections import Counter

import pytest
from rq.registry import FailedJobRegistry
from sqlalchemy import func, select

from mobilize.models import Assignment, InboundMessage, OutboundMessage, Response
from mobilize.runtime import Runtime
from tests.conftest import make_settings
from tests.wartime import worker_proc
from tests.wartime.conftest import (
    ZHANSHAN,
    active,
    check_capacity_invariants,
    handed_to_the_gateway,
    invited_ids,
    launched,
    order_row,
    people,
    sites,
)
from workers.context import set_runtime
from workers.queues import DEFAULT, HIGH, all_queues, queue

WORKERS = 4


@pytest.fixture
def qrt(tmp_path, database_url, redis_url, redis_client) -> Runtime:
    """A runtime with Redis, on each database. SMS senders are someone else's subject: their kicks are blocked
    (the outbox rows are what these tests read)."""
    for priority in ("high", "bulk"):
        redis_client.set(f"mobilize:sms:kick:{priority}", 1, ex=600)
    runtime = Runtime(make_settings(tmp_path, database_url, redis_url, extra={"match_debounce_s": 0}))
    set_runtime(runtime)
    yield runtime
    set_runtime(None)
    runtime.close()


def start(target, *args) -> multiprocessing.Process:
    """A worker process of its own (forked: the modules are loaded already; it builds its own engine and Redis
    connection and leaves with os._exit, never touching the parent's)."""
    process = multiprocessing.get_context("fork").Process(target=target, args=args)
    process.start()
    return process


def race(redis, processes: list[multiprocessing.Process], timeout: float = 90) -> None:
    """Let them all go at once and wait for every one to finish cleanly."""
    deadline = time.monotonic() + timeout
    while redis.scard("test:ready") < len(processes):
        assert all(p.exitcode is None for p in processes), [p.exitcode for p in processes]
        assert time.monotonic() < deadline, "workers did not start"
        time.sleep(0.01)
    redis.set("test:go", 1)
    for process in processes:
        process.join(max(1, deadline - time.monotonic()))
        assert process.exitcode == 0, f"worker exited with {process.exitcode}"


def test_four_worker_processes_with_duplicate_accepts_and_messages(qrt, redis_client):
    with qrt.transaction() as session:
        site, other = sites(session)
        crowd = people(session, 12, step_m=60) + people(session, 12, "湛山", near=ZHANSHAN, step_m=60)
    demands = [(site.id, "registration", 3), (site.id, "queue_keeping", 2), (other.id, "registration", 3)]
    order_id = launched(qrt, demands, expected_answer_rate=8 / 24)
    assert len(invited_ids(qrt, order_id)) == 24
    handed_to_the_gateway(qrt)  # they answer what they received (unsent invitations are withdrawn on fill)
    code = order_row(qrt, order_id).reply_code
    with qrt.transaction() as session:  # every volunteer says yes twice, in two different messages
        inbound = [InboundMessage(message_sid=f"SM{v.id:016d}{n:016d}", from_phone=v.phone, to_phone="+8610690000",
                                  body=body) for n, body in enumerate(("Y", f"是{code}")) for v in crowd]
        session.add_all(inbound)
        session.flush()
        inbound_ids = [m.id for m in inbound]
    from workers.orders import match_order
    from workers.sms import process_inbound

    jobs = queue(DEFAULT, redis_client)
    for index, inbound_id in enumerate(inbound_ids):
        jobs.enqueue(process_inbound, inbound_id)
        jobs.enqueue(process_inbound, inbound_id)  # the same message queued twice, as after a restart
        if index % 2 == 0:
            jobs.enqueue(match_order, order_id)
    race(redis_client, [start(worker_proc.run_rq, qrt.settings.database_url, qrt.settings.redis_url)
                        for _ in range(WORKERS)])

    assert all(FailedJobRegistry(q.name, connection=redis_client).count == 0 for q in all_queues(redis_client))
    check_capacity_invariants(qrt, order_id)
    assert len(active(qrt, order_id)) == 8 and order_row(qrt, order_id).state.value == "filled"
    with qrt.transaction() as session:
        per_volunteer = Counter(session.scalars(select(OutboundMessage.volunteer_id)
                                                .where(OutboundMessage.kind == "dispatch")))
        standby = Counter(session.scalars(select(OutboundMessage.volunteer_id)
                                          .where(OutboundMessage.kind == "standby")))
        assert sum(per_volunteer.values()) == 8 and max(per_volunteer.values()) == 1
        assert sum(standby.values()) == 16 and max(standby.values()) == 1
        # every inbound message was processed, and exactly once: one response each
        assert session.scalar(select(func.count()).select_from(InboundMessage)
                              .where(InboundMessage.processed_at.is_(None))) == 0
        assert session.scalar(select(func.count()).select_from(Response)) == len(inbound_ids)
        assert session.scalar(select(func.count()).select_from(Assignment)) == 8  # no placement was undone
    assert queue(HIGH, redis_client).count == 0


def test_the_capacity_guards_hold_without_any_lock(qrt, redis_client):
    """Single placements racing on random pairs, skipping the order lock: only the conditional UPDATE and the
    partial unique index stand between them and an overfilled demand or a volunteer placed twice."""
    with qrt.transaction() as session:
        site, other = sites(session)
        people(session, 30)
    order_id = launched(qrt, [(site.id, "registration", 4), (other.id, "registration", 3)],
                        expected_answer_rate=7 / 30)
    race(redis_client, [start(worker_proc.run_place, qrt.settings.database_url, qrt.settings.redis_url, order_id,
                              seed, 25) for seed in range(WORKERS)])
    check_capacity_invariants(qrt, order_id)
    placed = active(qrt, order_id)
    assert len(placed) == 7
    assert len({a.volunteer_id for a in placed}) == 7
