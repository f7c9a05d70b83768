"""scripts/chaos's aggregation of trial results into docs/reliability.md's table and the --json object (pure)."""
import argparse
import random

import pytest

from chaos.cli import _faults, parse
from chaos.faults import FAULTS, plan
from chaos.report import TrialResult, aggregate, table, trials_table


def test_clean_trials_pass_and_sum_per_fault():
    results = [TrialResult(1, "kill_scheduler", stall_s=3.0, recovery_s=1.5),
               TrialResult(2, "kill_scheduler", stall_s=7.5, recovery_s=0.0),
               TrialResult(3, "gateway_429_storm", stall_s=2.0, recovery_s=4.0, dead_letters=1)]
    summary = aggregate(results)
    assert summary["trials"] == 3
    assert (summary["duplicate_sms"], summary["lost_replies"], summary["wrongful_timeouts"],
            summary["overfills"]) == (0, 0, 0, 0)
    assert summary["max_stall_s"] == 7.5 and summary["max_recovery_s"] == 4.0
    assert summary["passed"] is True
    assert summary["faults"]["kill_scheduler"]["trials"] == 2
    assert summary["faults"]["kill_scheduler"]["max_stall_s"] == 7.5
    assert summary["faults"]["gateway_429_storm"]["dead_letters"] == 1
    assert len(summary["results"]) == 3


def test_a_duplicate_a_long_stall_or_no_recovery_fails_and_shows():
    results = [TrialResult(1, "kill_worker_sending", duplicate_sms=2, duplicate_sid=1, recovery_s=1.0),
               TrialResult(2, "redis_restart_empty", stall_s=45.0, recovery_s=None, settled=False)]
    summary = aggregate(results)
    assert summary["duplicate_sms"] == 2 and summary["duplicate_sid"] == 1
    assert summary["max_recovery_s"] is None and summary["unsettled"] == 1
    assert summary["passed"] is False
    text = table(summary)
    assert "| kill_worker_sending | 1 | 2 | 1 |" in text
    assert "not recovered" in text and "| **all** | 2 |" in text
    assert trials_table(summary).count("\n") == 3


def test_no_trial_is_not_a_pass_and_the_plan_covers_every_fault():
    assert aggregate([])["passed"] is False
    kinds = plan(len(FAULTS) + 2, random.Random(1))
    assert set(kinds[:len(FAULTS)]) == set(FAULTS) and len(kinds) == len(FAULTS) + 2


def test_faults_can_be_narrowed_to_chase_one_and_an_unknown_kind_is_named():
    args = parse(["--faults", "redis_restart_aof, kill_scheduler"])
    assert args.faults == ("redis_restart_aof", "kill_scheduler")
    assert set(plan(5, random.Random(1), args.faults)) == {"redis_restart_aof", "kill_scheduler"}
    assert parse([]).faults == FAULTS
    with pytest.raises(SystemExit):
        parse(["--faults", "redis_restart_aof,unplug_the_rack"])
    with pytest.raises(argparse.ArgumentTypeError, match="unplug_the_rack"):
        _faults("unplug_the_rack")
