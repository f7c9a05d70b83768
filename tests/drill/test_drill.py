"""The drill end to end (small), its CLI's JSON, and the hold-back matching of `wartime.dispatch`."""
from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest

from mobilize.drill import DrillConfig, run_drill
from mobilize.drill.engine import SETTLE_S, officer_rounds
from mobilize.drill.responder import AnswerModel, drill_responder
from mobilize.models._types import utcnow
from mobilize.sms.simulator.phones import Phone, PhoneProfile
from mobilize.wartime import dispatch
from tests.wartime.conftest import (
    active,
    check_capacity_invariants,
    launched,
    order_row,
    people,
    run_match,
    sent,
    sites,
    text,
)

pytestmark = pytest.mark.paced  # the service's default waves: paced to the deadline

KEYS = ("places", "filled", "time_to_fill_s", "sms_sent", "segments_sent", "standby", "backfills",
        "capacity_violations", "per_street", "peacetime", "longest_idle_place_s", "time_to_told_95_s",
        "time_to_confirmed_95_s")


def test_a_small_drill_fills_every_place_without_violations(tmp_path):
    report = run_drill(DrillConfig(volunteers=2000, places=60, seed=7, workdir=tmp_path))
    for key in KEYS:
        assert key in report
    assert report["capacity_violations"] == 0
    assert report["filled"] == report["places"] == 60
    assert report["time_to_fill_s"] is not None and report["time_to_fill_s"] > 0
    # fill first: no place stayed open longer than the hold-back while someone who could take it waited
    assert 0 < report["longest_idle_place_s"] <= dispatch.HOLD_MAX_S
    assert report["time_to_told_95_s"] <= report["time_to_confirmed_95_s"]
    assert sum(s["places"] for s in report["per_street"].values()) == 60 and len(report["per_street"]) == 11
    assert report["segments_sent"] >= report["sms_sent"] > 60
    assert report["declines"] > 0 and report["opt_outs"] >= 0
    peace = report["peacetime"]  # the roster beside the order
    for key in ("shifts_overlapping", "shifts_released", "protected_posts_staffed", "protected_posts_total",
                "gaps_backfilled"):
        assert isinstance(peace[key], int)
    assert peace["shifts_overlapping"] > 0 and peace["protected_posts_total"] > 0
    assert peace["protected_posts_staffed"] == peace["protected_posts_total"]  # protected posts are never stripped
    json.dumps(report, ensure_ascii=False)  # serialisable as it is


def test_the_report_survives_an_order_nobody_answered(tmp_path):
    """Issue 15: ended before any answer reached the service (the first invitations are handed at once, the
    quickest reply takes longer than this), the hindsight step raised a TypeError pricing no people at all."""
    report = run_drill(DrillConfig(volunteers=600, places=20, seed=3, end_s=5, workdir=tmp_path))
    assert report["accepted"] == 0 and report["filled"] == 0 and report["invited"] > 0
    assert report["matching"]["willing"] == 0 and report["matching"]["hindsight_placed"] == 0
    assert report["matching"]["online_ratio"] is None and report["matching"]["fcfs_ratio"] is None
    assert report["capacity_violations"] == 0 and report["simulated_s"] <= 5
    json.dumps(report, ensure_ascii=False)


def test_the_seeded_district_is_out_of_the_full_collections_while_the_order_runs_and_back_after(tmp_path):
    """Issue 15: the full garbage collections walked the 100,000 volunteers' district and every module, 75 times
    at 100k/5,000 (about 5% of the drill's time). Frozen for the order's run (mobilize.heap.frozen_heap), given
    back after it: a drill in a test process or a command leaves nothing frozen behind."""
    assert gc.get_freeze_count() == 0
    frozen_while: dict[str, int] = {}

    def note(message: str) -> None:
        frozen_while[message.split(":")[0].split(" with ")[0]] = gc.get_freeze_count()

    report = run_drill(DrillConfig(volunteers=600, places=20, seed=3, end_s=5, workdir=tmp_path, progress=note))
    assert report["invited"] > 0
    assert frozen_while["seeding the demo district"] == 0
    launching = [count for message, count in frozen_while.items() if message.startswith("order ")]
    assert launching and launching[0] > 50_000, frozen_while
    assert gc.get_freeze_count() == 0


def test_the_cli_prints_one_json_object(tmp_path):
    env = {**os.environ, "MOBILIZE_INSTANCE_PATH": str(tmp_path / "user-instance")}
    env.pop("DATABASE_URL", None)
    result = subprocess.run([sys.executable, "-m", "mobilize", "drill", "--volunteers", "600", "--places", "20",
                             "--seed", "3", "--json"], check=False, capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)  # one object, nothing else on stdout (progress goes to stderr)
    assert isinstance(report, dict) and report["places"] == 20 and report["capacity_violations"] == 0
    assert not (tmp_path / "user-instance" / "mobilize.db").exists()  # the user's instance is never touched


def test_the_drill_responder_answers_like_people():
    model = AnswerModel(answer_rate=1.0, stop_rate=0.0, decline_rate=0.0)
    phone = Phone("+8613800000001")
    phone.register(PhoneProfile(seed=1))
    [reply] = drill_responder(phone, "【招募令#27】全员核酸检测，明天8点，八大关。回复Y27参加，N27不参加。退订回TD", model)
    assert reply.intent == "accept" and reply.delay > 0
    replies = drill_responder(phone, "【派遣#27】请于8:00到太平角检测点（x）任登记，联系人王。回复Y27确认，到达回复到27，不能来回复0 27",
                              model)
    assert len(replies) <= 1 and all(r.intent in ("accept", "drop_out") for r in replies)


# --- hold-back matching ---------------------------------------------------------------------------------------


def test_a_far_volunteer_is_held_while_nearer_answers_are_pending_then_placed_by_the_cap(rt):
    with rt.transaction() as session:
        site, _ = sites(session)
        crowd = people(session, 20, step_m=100)  # crowd[0] is nearest
    # invites all twenty, who answer eagerly and fast: a silent invitee says yes within the hold-back's minute with a
    # chance of 0.5 x 60 / 120, so a scenario with nobody nearer is rare and the far volunteer is held
    order_id = launched(rt, [(site.id, "registration", 1)], expected_answer_rate=0.5, over_recruit_factor=10.0,
                        wave_interval_s=120)
    far = crowd[-1]
    assert text(rt, far, "Y") == "accepted"
    now = utcnow()
    outcome = run_match(rt, order_id, now)
    assert outcome.placed == 0 and outcome.held == 1  # nineteen nearer invitees may still say yes
    assert sent(rt, "standby", far) == []  # held, not told "standby"
    later = now + timedelta(seconds=dispatch.HOLD_MAX_S + 1)
    outcome = run_match(rt, order_id, later)  # the cap: placed after at most HOLD_MAX_S
    assert outcome.placed == 1 and outcome.held == 0
    [assignment] = active(rt, order_id)
    assert assignment.volunteer_id == far.id
    check_capacity_invariants(rt, order_id)


def test_a_near_volunteer_is_placed_at_once_and_nearer_answers_win_the_rest(rt):
    with rt.transaction() as session:
        site, _ = sites(session)
        crowd = people(session, 6, step_m=200)
    # an interval of a minute: every silent invitee may still say yes within the hold-back (at the order's rate)
    order_id = launched(rt, [(site.id, "registration", 2)], expected_answer_rate=0.5, over_recruit_factor=1.5,
                        wave_interval_s=60)
    text(rt, crowd[0], "Y")  # the nearest of all: every scenario places them
    outcome = run_match(rt, order_id)
    assert outcome.placed == 1
    text(rt, crowd[5], "Y")  # far; held while nearer ones may answer
    assert run_match(rt, order_id).placed == 0
    text(rt, crowd[1], "Y")
    run_match(rt, order_id)
    placed = {a.volunteer_id for a in active(rt, order_id)}
    assert placed == {crowd[0].id, crowd[1].id}
    run_match(rt, order_id)
    assert len(sent(rt, "standby", crowd[5])) == 1  # no room left: now they hear "standby"
    check_capacity_invariants(rt, order_id)


def test_with_every_answer_in_nobody_is_held(rt):
    with rt.transaction() as session:
        site, _ = sites(session)
        crowd = people(session, 3, step_m=200)
    order_id = launched(rt, [(site.id, "registration", 1)], expected_answer_rate=1.0)  # invites one
    text(rt, crowd[0], "Y")
    outcome = run_match(rt, order_id)  # no answer pending: placed at once
    assert outcome.placed == 1 and outcome.held == 0
    check_capacity_invariants(rt, order_id)


# --- the drill's end ------------------------------------------------------------------------------------------


def test_places_freed_by_the_officers_last_round_are_backfilled_before_the_drill_ends(tmp_path):
    """Regression (seed 2022 ended 433/435 with 238 on standby): the officers' last no-show round fell on the
    drill's very last second, so the backfill the service makes 2 s later was never seen. Every round now
    leaves the drill `SETTLE_S` to watch its backfills."""
    config = DrillConfig(volunteers=2000, places=60, seed=7, workdir=tmp_path,
                         model=AnswerModel(no_show_rate=0.3))  # many no-shows: both rounds free places
    rounds = officer_rounds(config)
    assert len(rounds) == 2 and rounds[-1] + SETTLE_S <= config.starts_after_s + config.run_after_start_s
    report = run_drill(config)
    assert report["no_shows"] > 0 and report["standby"] > 0
    assert report["filled"] == report["places"] == 60
    assert report["capacity_violations"] == 0


def test_a_round_too_close_to_the_end_is_not_held():
    config = DrillConfig(run_after_start_s=1800 + 3600)  # the second round would fall on the last second
    assert officer_rounds(config) == [config.starts_after_s + 1800]


def test_dispatches_overtake_queued_invitations_and_a_filled_order_withdraws_the_rest(tmp_path):
    """The sender model as workers.sms behaves: a dispatch written while thousands of invitations wait goes out
    within a slice (bulk yields to high priority at any moment), and the invitations still queued when the
    order fills are never sent. Simulated seconds: deterministic."""
    quick = AnswerModel(delay_median_s=5.0, delay_sigma=0.3)  # yes within seconds, while invitations still queue
    report = run_drill(DrillConfig(volunteers=3000, places=20, seed=5, workdir=tmp_path, strategy="all_at_once",
                                   hold_max_s=0.0, confirmation_required=False, stop_at_fill=1.0, model=quick))
    handed = report["sms_handed_by_kind"]
    assert report["fill_definition"] == "told" and report["time_to_fill_s"] is not None
    assert report["filled_known"] == report["places"] == 20
    assert report["invitations_withdrawn"] > 0 and handed["invitation"] + report["invitations_withdrawn"] > 2000
    # the accept -> dispatch handed: the match debounce (2 s) and a slice, not the invitation backlog (~25 s)
    assert report["reply_to_dispatch_s"]["p95"] < 3.0
    assert report["capacity_violations"] == 0


def test_a_backfill_takes_one_place_and_the_demands_other_places_stay_held(rt):
    """A place freed by a drop-out is refilled at once, but only that place: the demand's other open places keep
    the hold-back (seed 7 of the drill placed volunteers 1.4-2.2 km away on demands with an early drop-out)."""
    with rt.transaction() as session:
        site, _ = sites(session)
        crowd = people(session, 40, step_m=200)
    # 3 places, 3.3x over-recruited at 0.3: the 33 nearest are invited
    order_id = launched(rt, [(site.id, "registration", 3)], expected_answer_rate=0.3, over_recruit_factor=3.3,
                        wave_interval_s=60)  # (every silent invitee may still say yes within the hold-back)
    text(rt, crowd[0], "Y")
    assert run_match(rt, order_id).placed == 1
    code = order_row(rt, order_id).reply_code
    text(rt, crowd[0], f"0 {code}")  # drops out: one place to backfill
    for volunteer in (crowd[1], crowd[31], crowd[32]):
        text(rt, volunteer, "Y")
    outcome = run_match(rt, order_id)
    placed = {a.volunteer_id for a in active(rt, order_id)}
    assert placed == {crowd[1].id}  # the backfill, the nearest
    # the far two wait: 29 nearer invitees may still say yes (in practically every scenario two of them do)
    assert outcome.held == 2
    check_capacity_invariants(rt, order_id)


def test_a_deadline_run_reports_whether_95_percent_were_told_by_then_and_ends_early(tmp_path):
    report = run_drill(DrillConfig(volunteers=2000, places=40, seed=7, workdir=tmp_path, hold_max_s=0.0,
                                   confirmation_required=False, needed_by_s=900.0, end_after_told_95_s=0.0))
    assert report["needed_by_s"] == 900.0 and report["fill_definition"] == "told"
    assert report["time_to_told_95_s"] is not None
    assert report["met_deadline"] == (report["time_to_told_95_s"] <= 900.0)
    # ended once 95% were told and the deadline had passed, not 2 hours after the order's start
    assert report["simulated_s"] < 900.0 + 60.0
    assert report["segments_per_place"] == round(report["segments_sent"] / report["filled"], 3)
    assert report["capacity_violations"] == 0


def test_a_deadline_too_early_is_reported_missed(tmp_path):
    report = run_drill(DrillConfig(volunteers=2000, places=40, seed=7, workdir=tmp_path, hold_max_s=0.0,
                                   confirmation_required=False, needed_by_s=30.0, end_after_told_95_s=0.0))
    assert report["met_deadline"] is False  # nobody answers within 30 s in the answer model (median 4 min)


def test_the_cli_takes_the_deadline_options_and_refuses_them_live(tmp_path):
    env = {**os.environ, "MOBILIZE_INSTANCE_PATH": str(tmp_path / "user-instance")}
    env.pop("DATABASE_URL", None)
    args = [sys.executable, "-m", "mobilize", "drill", "--volunteers", "600", "--places", "20", "--seed", "3",
            "--needed-by-s", "600", "--no-confirmation", "--hold-max-s", "0", "--expected-answer-rate", "0.3",
            "--end-after-told-95-s", "0", "--json"]
    result = subprocess.run(args, check=False, capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["needed_by_s"] == 600 and report["config"]["expected_answer_rate"] == 0.3
    assert report["fill_definition"] == "told" and isinstance(report["met_deadline"], bool)
    live = subprocess.run([sys.executable, "-m", "mobilize", "drill", "--live", "--urgent"], check=False,
                          capture_output=True, text=True, env=env, timeout=60)
    assert live.returncode == 2 and "--urgent" in live.stderr
