"""Timers from the database: confirmation timeouts, backfill from standby then by waves, no-shows, the sweep."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from mobilize.models import Assignment, AssignmentStatus, Invitation, InvitationStatus, Order, OrderState
from mobilize.models._types import utcnow
from mobilize.wartime import board, followups, timers
from tests.wartime.conftest import (
    COMMANDER,
    active,
    check_capacity_invariants,
    invited_ids,
    launched,
    order_row,
    people,
    run_match,
    run_wave,
    sent,
    sites,
    text,
)


def sweep(rt, order_id, now):
    with rt.transaction() as session:
        result = timers.sweep_order(session, order_id, now)
        requests = followups.take(session)
    return result, requests


def test_an_unconfirmed_dispatch_times_out_and_the_nearest_standby_takes_the_place(rt):
    with rt.transaction() as session:
        site, _ = sites(session)
        first, second, third = people(session, 3)
    order_id = launched(rt, [(site.id, "registration", 1)], expected_answer_rate=1 / 3, confirmation_timeout_s=60)
    for volunteer in (third, first, second):
        text(rt, volunteer, "Y")
    run_match(rt, order_id)
    [placed] = active(rt, order_id)
    assert placed.volunteer_id == first.id and placed.confirm_by is not None
    result, requests = sweep(rt, order_id, utcnow() + timedelta(seconds=30))
    assert result.timed_out == 0  # not yet
    result, requests = sweep(rt, order_id, utcnow() + timedelta(seconds=61))
    assert result.timed_out == 1 and order_id in requests[followups.MATCH]
    assert len(sent(rt, "confirm_timeout", first)) == 1
    check_capacity_invariants(rt, order_id)
    run_match(rt, order_id)
    [backfill] = active(rt, order_id)
    assert backfill.volunteer_id == second.id and backfill.backfill  # the nearest on standby
    # the one who timed out may still say yes: back on standby, told so
    assert text(rt, first, "Y") == "accepted"
    run_match(rt, order_id)
    assert len(sent(rt, "standby", first)) == 1
    with rt.transaction() as session:
        assert session.scalar(select(Assignment.end_reason).where(Assignment.id == placed.id)) == "confirm_timeout"


def test_a_confirmation_in_time_beats_the_timer(rt):
    with rt.transaction() as session:
        site, _ = sites(session)
        volunteer = people(session, 1)[0]
    order_id = launched(rt, [(site.id, "registration", 1)], expected_answer_rate=1.0, confirmation_timeout_s=60)
    text(rt, volunteer, "Y")
    run_match(rt, order_id)
    assert text(rt, volunteer, "Y") == "confirmed"
    result, _ = sweep(rt, order_id, utcnow() + timedelta(hours=1))
    assert result.timed_out == 0 and active(rt, order_id)[0].status is AssignmentStatus.confirmed


def test_without_standby_a_timed_out_place_goes_to_a_new_wave(rt):
    with rt.transaction() as session:
        site, _ = sites(session)
        crowd = people(session, 5)
    order_id = launched(rt, [(site.id, "registration", 1)], expected_answer_rate=1.0, confirmation_timeout_s=60,
                        wave_interval_s=300)
    assert invited_ids(rt, order_id) == [crowd[0].id]
    text(rt, crowd[0], "Y")
    run_match(rt, order_id)
    later = utcnow() + timedelta(seconds=301)
    result, requests = sweep(rt, order_id, later)
    assert result.timed_out == 1 and result.wave_requested and order_id in requests[followups.WAVE]
    assert run_match(rt, order_id, later).placed == 0
    assert run_wave(rt, order_id, later).invited == 1
    assert invited_ids(rt, order_id) == [crowd[0].id, crowd[1].id]  # the next nearest, nobody twice


def test_a_no_show_frees_the_place_for_standby(rt):
    with rt.transaction() as session:
        site, _ = sites(session)
        crowd = people(session, 2)
    order_id = launched(rt, [(site.id, "registration", 1)], expected_answer_rate=0.5)
    for volunteer in crowd:
        text(rt, volunteer, "Y")
    run_match(rt, order_id)
    assert order_row(rt, order_id).state is OrderState.filled
    with rt.transaction() as session:
        assignment = session.get(Assignment, active(rt, order_id)[0].id)
        board.officer_no_show(session, assignment, COMMANDER, utcnow())
    assert order_row(rt, order_id).state is OrderState.open
    check_capacity_invariants(rt, order_id)
    run_match(rt, order_id)
    [backfill] = active(rt, order_id)
    assert backfill.volunteer_id == crowd[1].id and backfill.backfill
    with rt.transaction() as session:  # the no-show is not standby any more
        assert session.scalar(select(Invitation.status).where(Invitation.volunteer_id == crowd[0].id)) \
            is InvitationStatus.accepted
    assert run_match(rt, order_id).placed == 0


def test_the_sweep_reconciles_state_and_requests_what_the_database_says(rt):
    with rt.transaction() as session:
        site, _ = sites(session)
        crowd = people(session, 3)
    order_id = launched(rt, [(site.id, "registration", 1)], expected_answer_rate=1 / 3)
    for volunteer in crowd:
        text(rt, volunteer, "Y")  # nobody matched: as if the match jobs were lost
    result, requests = sweep(rt, order_id, utcnow())
    assert result.match_requested and order_id in requests[followups.MATCH]
    run_match(rt, order_id)
    with rt.transaction() as session:  # a state out of step with the demands is put right
        session.execute(update(Order).where(Order.id == order_id).values(state=OrderState.open))
    sweep(rt, order_id, utcnow())
    assert order_row(rt, order_id).state is OrderState.filled
    result, requests = sweep(rt, order_id, utcnow() + timedelta(minutes=10))
    assert not result.match_requested and not result.wave_requested  # filled, standby told: nothing to do
