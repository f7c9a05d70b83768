"""Fill first (issue 10): a place is held for a nearer answer at most HOLD_MAX_S, counted per place as well as per
person; nobody hears "full" while a place they qualify for is open; a standby volunteer who said they can go at
short notice is dispatched as confirmed; an urgent order gives ten minutes to confirm and says until when."""
from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from rq.registry import ScheduledJobRegistry
from sqlalchemy import select, update

from mobilize.models import Assignment, AssignmentStatus, Demand, Invitation
from mobilize.models._types import utcnow
from mobilize.runtime import Runtime
from mobilize.wartime import dispatch
from tests.conftest import make_settings
from tests.wartime.conftest import (
    active,
    check_capacity_invariants,
    launched,
    later,
    people,
    run_match,
    sent,
    sites,
    text,
)


# An order whose invitees answer eagerly and fast: a silent invitee says yes within the next minute with a chance of
# 0.5 x 60 / 120 (the waves' model of silence, `dispatch.answer_chances`), so with a score of nearer invitees silent
# a far yes is held back. One place: all twenty invited.
EAGER = {"expected_answer_rate": 0.5, "over_recruit_factor": 10.0, "wave_interval_s": 120}


def answered_at(rt, volunteer, moment) -> None:
    """When the volunteer's yes reached the service (tests text in real time; the story needs other moments)."""
    with rt.transaction() as session:
        session.execute(update(Invitation).where(Invitation.volunteer_id == volunteer.id).values(answered_at=moment))


def idle_since(rt, order_id: int):
    with rt.transaction() as session:
        return session.scalar(select(Demand.idle_since).where(Demand.order_id == order_id))


def test_a_place_waits_for_a_nearer_answer_at_most_hold_max_s_however_the_answers_keep_coming(rt):
    with rt.transaction() as session:
        site, _ = sites(session)
        crowd = people(session, 20, step_m=100)  # crowd[0] is nearest
    order_id = launched(rt, [(site.id, "registration", 1)], **EAGER)
    far, nearer = crowd[19], crowd[18]
    t0 = utcnow()
    text(rt, far, "Y")
    answered_at(rt, far, t0)
    outcome = run_match(rt, order_id, t0)
    assert outcome.placed == 0 and outcome.held == 1  # nineteen nearer invitees may still say yes
    assert outcome.recheck_in_s == dispatch.HOLD_MAX_S  # matched again when the hold-back ends, not at a sweep
    assert idle_since(rt, order_id) == t0

    text(rt, nearer, "Y")  # a nearer yes, 50 s later: the plan now keeps the place for them
    answered_at(rt, nearer, t0 + timedelta(seconds=50))
    outcome = run_match(rt, order_id, t0 + timedelta(seconds=50))
    assert outcome.placed == 0
    assert outcome.recheck_in_s == dispatch.HOLD_MAX_S - 50  # the place's hold-back, not the newcomer's
    assert sent(rt, "standby", far) == []  # out of the plan, but the place they qualify for is still open
    assert idle_since(rt, order_id) == t0  # the place has been waiting since the first yes

    outcome = run_match(rt, order_id, t0 + timedelta(seconds=dispatch.HOLD_MAX_S))
    assert outcome.placed == 1  # the place is filled now, although the nearer volunteer answered 10 s ago
    [assignment] = active(rt, order_id)
    assert assignment.volunteer_id == nearer.id
    assert len(sent(rt, "standby", far)) == 1  # told only once nothing they qualify for is open
    assert idle_since(rt, order_id) is None
    check_capacity_invariants(rt, order_id)


def test_nobody_hears_full_while_a_place_they_qualify_for_is_open(rt):
    with rt.transaction() as session:
        site, _ = sites(session)
        crowd = people(session, 10, step_m=200)
    order_id = launched(rt, [(site.id, "registration", 2)], **dict(EAGER, over_recruit_factor=2.5))  # all ten
    for volunteer in crowd[6:]:  # four far yeses for two places while nearer invitees are silent
        text(rt, volunteer, "Y")
    run_match(rt, order_id)
    assert len(active(rt, order_id)) < 2  # held back for the nearer invitations still pending
    assert sent(rt, "standby") == []  # a place is open that each of them could take: nobody hears "full"
    run_match(rt, order_id, utcnow() + timedelta(seconds=dispatch.HOLD_MAX_S + 1))
    assert len(active(rt, order_id)) == 2
    assert len(sent(rt, "standby")) == 2  # now it is true


def one_place_two_yeses(rt):
    """One place, two yeses: the nearer is dispatched, the other hears "standby" (and its question)."""
    with rt.transaction() as session:
        site, _ = sites(session)
        first, second = people(session, 2, step_m=200)
    order_id = launched(rt, [(site.id, "registration", 1)], expected_answer_rate=1.0, over_recruit_factor=2.0)
    text(rt, first, "Y")
    text(rt, second, "Y")
    run_match(rt, order_id, utcnow() + timedelta(seconds=dispatch.HOLD_MAX_S + 1))
    return order_id, first, second


def test_a_ready_standby_volunteer_is_dispatched_as_confirmed_when_a_place_frees(rt):
    order_id, first, second = one_place_two_yeses(rt)
    [standby_sms] = sent(rt, "standby", second)
    assert "Y" in standby_sms.body  # the standby SMS asks: can you go at short notice?
    assert text(rt, second, "Y") == "standby_ready"
    assert len(sent(rt, "standby_ready", second)) == 1
    assert text(rt, second, "Y") == "standby_ready"  # said twice: acknowledged once
    assert len(sent(rt, "standby_ready", second)) == 1

    assert text(rt, first, "0") == "dropped_out"  # the place frees
    run_match(rt, order_id)
    [assignment] = active(rt, order_id)
    assert assignment.volunteer_id == second.id
    assert assignment.status is AssignmentStatus.confirmed and assignment.confirm_by is None
    assert assignment.confirmed_at is not None
    [dispatch_sms] = sent(rt, "dispatch_direct", second)  # "no need to confirm"
    assert sent(rt, "dispatch", second) == []
    assert text(rt, second, "Y") == "already_confirmed"
    check_capacity_invariants(rt, order_id)


def test_a_stale_readiness_is_not_a_confirmation(rt):
    order_id, first, second = one_place_two_yeses(rt)
    text(rt, second, "Y")
    text(rt, first, "0")
    run_match(rt, order_id, utcnow() + timedelta(seconds=dispatch.READY_FOR_S + 60))
    [assignment] = active(rt, order_id)
    assert assignment.volunteer_id == second.id and assignment.status is AssignmentStatus.notified
    assert len(sent(rt, "dispatch", second)) == 1


def dispatched(rt, starts_in_hours: float, **overrides) -> tuple[Assignment, str]:
    with rt.transaction() as session:
        site, _ = sites(session)
        [volunteer] = people(session, 1)
    order_id = launched(rt, [(site.id, "registration", 1)], starts_at=later(starts_in_hours),
                        ends_at=later(starts_in_hours + 4), expected_answer_rate=1.0, **overrides)
    text(rt, volunteer, "Y")
    run_match(rt, order_id)
    [assignment] = active(rt, order_id)
    [message] = sent(rt, "dispatch", volunteer)
    return assignment, message.body


def test_an_urgent_order_gives_ten_minutes_to_confirm_and_says_until_when(rt):
    assignment, body = dispatched(rt, starts_in_hours=1.5, confirmation_timeout_s=1800)
    window = (assignment.confirm_by - assignment.created_at).total_seconds()
    assert window == dispatch.URGENT_CONFIRM_S
    assert f"{assignment.confirm_by.astimezone(ZoneInfo('Asia/Shanghai')):%H:%M}前回复Y" in body


def test_an_order_a_day_ahead_keeps_its_confirmation_window(rt):
    assignment, body = dispatched(rt, starts_in_hours=24, confirmation_timeout_s=1800)
    assert (assignment.confirm_by - assignment.created_at).total_seconds() == 1800
    assert f"{assignment.confirm_by.astimezone(ZoneInfo('Asia/Shanghai')):%H:%M}前回复Y" in body


def test_the_match_job_schedules_itself_for_when_the_hold_back_ends(tmp_path, sqlite_url, redis_url, redis_client):
    from workers import orders as order_jobs
    from workers.context import set_runtime

    runtime = Runtime(make_settings(tmp_path, sqlite_url, redis_url, extra={"match_debounce_s": 0}))
    set_runtime(runtime)
    try:
        with runtime.transaction() as session:
            site, _ = sites(session)
            crowd = people(session, 20, step_m=100)
        order_id = launched(runtime, [(site.id, "registration", 1)], **EAGER)
        text(runtime, crowd[-1], "Y")
        redis_client.flushdb()  # only what the match job itself asks for from here
        result = order_jobs.match_order(order_id)
        assert result["placed"] == 0
        scheduled = ScheduledJobRegistry("default", connection=redis_client)
        assert scheduled.count == 1  # the recheck, at the end of the hold-back
        order_jobs.match_order(order_id)  # another batch meanwhile: still one recheck waiting
        assert scheduled.count == 1
    finally:
        set_runtime(None)
        runtime.close()
