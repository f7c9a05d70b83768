"""Periodic sweeps never overlap themselves across processes (issue 12): a run that finds another holding the lock
skips; without Redis (a test, a script) the sweep simply runs."""
from __future__ import annotations

import pytest
from rq.utils import import_attribute

from workers import orders, roster
from workers.periodic import single_run


@pytest.mark.parametrize("job, name", [(orders.sweep_orders, "orders.sweep_orders"),
                                       (roster.sweep_roster, "roster.sweep_roster"),
                                       (roster.generate_roster, "roster.generate_roster")])
def test_an_overlapping_sweep_skips_and_a_lone_one_runs(redis_rt, redis_client, job, name):
    with single_run(redis_client, name, lease_s=30) as mine:  # another process's run, still going
        assert mine
        assert job() == {"skipped": True}
    result = job()  # the other run is over
    assert result != {"skipped": True} and isinstance(result, dict)


def test_rq_finds_the_sweeps_by_their_own_names():
    """RQ's cron stores a job by its dotted path: the guarded sweep must still be found there."""
    for job in (orders.sweep_orders, roster.sweep_roster, roster.generate_roster):
        assert import_attribute(f"{job.__module__}.{job.__qualname__}") is job


def test_without_redis_a_sweep_runs_unguarded(rt):
    assert "orders" in orders.sweep_orders()
