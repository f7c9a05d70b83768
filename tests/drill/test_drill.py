"""The drill end to end (small), its CLI's JSON, and the hold-back matching of `wartime.dispatch`."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta

from mobilize.drill import DrillConfig, run_drill
from mobilize.drill.responder import AnswerModel, drill_responder
from mobilize.models._types import utcnow
from mobilize.sms.simulator.phones import Phone, PhoneProfile
from mobilize.wartime import dispatch
from tests.wartime.conftest import (
    active,
    check_capacity_invariants,
    launched,
    people,
    run_match,
    sent,
    sites,
    text,
)

KEYS = ("places", "filled", "time_to_fill_s", "sms_sent", "segments_sent", "standby", "backfills",
        "capacity_violations", "per_street", "peacetime")


def test_a_small_drill_fills_every_place_without_violations(tmp_path):
    report = run_drill(DrillConfig(volunteers=2000, places=60, seed=7, workdir=tmp_path))
    for key in KEYS:
        assert key in report
    assert report["capacity_violations"] == 0
    assert report["filled"] == report["places"] == 60
    assert report["time_to_fill_s"] is not None and report["time_to_fill_s"] > 0
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


def test_the_cli_prints_one_json_object(tmp_path):
    env = {**os.environ, "MOBILIZE_INSTANCE_PATH": str(tmp_path / "user-instance")}
    env.pop("DATABASE_URL", None)
    result = subprocess.run([sys.executable, "-m", "mobilize", "drill", "--volunteers", "600", "--places", "20",
                             "--seed", "3", "--json"], capture_output=True, text=True, env=env, timeout=120)
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
        crowd = people(session, 10, step_m=200)  # crowd[0] is nearest
    order_id = launched(rt, [(site.id, "registration", 1)], expected_answer_rate=0.1)  # invites all ten
    far = crowd[-1]
    assert text(rt, far, "Y") == "accepted"
    now = utcnow()
    outcome = run_match(rt, order_id, now)
    assert outcome.placed == 0 and outcome.held == 1  # nine nearer invitees may still say yes
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
    order_id = launched(rt, [(site.id, "registration", 2)], expected_answer_rate=0.5, over_recruit_factor=1.5)
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
