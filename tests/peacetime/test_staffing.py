"""Sign-up within capacity under concurrency, no overlapping bookings (peacetime or wartime), officer assignment,
cancellation and the waitlist promoted automatically with an SMS."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from mobilize.models import AssignmentStatus, OrderState, ShiftSignup, SignupStatus
from mobilize.models._types import utcnow
from mobilize.peacetime import posts, staffing
from mobilize.peacetime.errors import Conflict, Full, Overlap
from mobilize.wartime.audit import Actor
from tests.peacetime.conftest import CFG, OFFICER, check_capacity, people, post, sent, shift, wartime_assignment


def test_concurrent_sign_up_for_the_last_place_has_exactly_one_winner(rt) -> None:
    now = utcnow()
    with rt.transaction() as session:
        row = post(session, slots=3)
        target = shift(session, row, now + timedelta(days=1))
        crowd = people(session, 10)
        for volunteer in crowd[:2]:
            staffing.sign_up(session, target.id, volunteer.id, actor=OFFICER, now=now, cfg=CFG, source="officer",
                             notify=False)
        contenders = [v.id for v in crowd[2:]]
        shift_id = target.id
    barrier = threading.Barrier(len(contenders))
    outcomes: dict[int, str] = {}

    def attempt(volunteer_id: int) -> None:
        barrier.wait()
        try:
            with rt.transaction() as session:
                result = staffing.sign_up(session, shift_id, volunteer_id, actor=Actor.sms("+8613900000000"),
                                          now=utcnow(), cfg=CFG, source="sms")
                outcomes[volunteer_id] = result.outcome
        except Full:
            outcomes[volunteer_id] = "full"

    threads = [threading.Thread(target=attempt, args=(vid,)) for vid in contenders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes.values()) == ["booked"] + ["full"] * (len(contenders) - 1)
    check_capacity(rt)
    with rt.transaction() as session:
        booked = session.scalars(select(ShiftSignup).where(ShiftSignup.shift_id == shift_id,
                                                           ShiftSignup.status == SignupStatus.booked)).all()
        assert len(booked) == 3


def test_concurrent_waitlist_sign_ups_book_exactly_the_free_places(rt) -> None:
    now = utcnow()
    with rt.transaction() as session:
        target = shift(session, post(session, slots=2), now + timedelta(days=1))
        ids, shift_id = [v.id for v in people(session, 6)], target.id
    barrier = threading.Barrier(len(ids))

    def attempt(volunteer_id: int) -> None:
        barrier.wait()
        with rt.transaction() as session:
            staffing.sign_up(session, shift_id, volunteer_id, actor=OFFICER, now=utcnow(), cfg=CFG, source="api",
                             waitlist=True, notify=False)

    threads = [threading.Thread(target=attempt, args=(vid,)) for vid in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    with rt.transaction() as session:
        statuses = sorted(s.status.value for s in session.scalars(
            select(ShiftSignup).where(ShiftSignup.shift_id == shift_id)))
    assert statuses == ["booked"] * 2 + ["waitlisted"] * 4
    check_capacity(rt)


def test_no_two_overlapping_shifts(rt) -> None:
    now = utcnow()
    with rt.transaction() as session:
        row, other = post(session, slots=2), post(session, slots=2)
        start = now + timedelta(days=2)
        first = shift(session, row, start, hours=2)
        overlapping = shift(session, other, start + timedelta(hours=1), hours=2)
        touching = shift(session, other, start + timedelta(hours=2), hours=2)  # starts when the first ends
        volunteer = people(session, 1)[0]
        staffing.sign_up(session, first.id, volunteer.id, actor=OFFICER, now=now, cfg=CFG, source="officer")
        with pytest.raises(Overlap) as error:
            staffing.sign_up(session, overlapping.id, volunteer.id, actor=OFFICER, now=now, cfg=CFG,
                             source="officer", waitlist=True)
        assert error.value.details["overlaps"][0]["kind"] == "shift"
        assert staffing.sign_up(session, touching.id, volunteer.id, actor=OFFICER, now=now, cfg=CFG,
                                source="officer").outcome == "booked"
        again = staffing.sign_up(session, first.id, volunteer.id, actor=OFFICER, now=now, cfg=CFG, source="sms")
        assert again.outcome == "already_booked"
    check_capacity(rt)


def test_no_shift_overlapping_a_live_wartime_assignment(rt) -> None:
    now = utcnow()
    with rt.transaction() as session:
        row = post(session)
        start = now + timedelta(days=1)
        target = shift(session, row, start, hours=2)
        later = shift(session, row, start + timedelta(hours=6), hours=2)
        dispatched, released, cancelled_order = people(session, 3)
        wartime_assignment(session, dispatched, start - timedelta(hours=1), start + timedelta(hours=5))
        wartime_assignment(session, released, start, start + timedelta(hours=5), status=AssignmentStatus.released,
                           code="28")
        wartime_assignment(session, cancelled_order, start, start + timedelta(hours=5), code="29",
                           state=OrderState.cancelled)
        with pytest.raises(Overlap) as error:
            staffing.sign_up(session, target.id, dispatched.id, actor=OFFICER, now=now, cfg=CFG, source="officer")
        assert error.value.details["overlaps"][0] | {"id": 0} == {
            "kind": "order", "id": 0, "code": "27", "starts_at": (start - timedelta(hours=1)).isoformat(),
            "ends_at": (start + timedelta(hours=5)).isoformat()}
        assert staffing.sign_up(session, later.id, dispatched.id, actor=OFFICER, now=now, cfg=CFG,
                                source="officer").outcome == "booked"  # after the order's window
        for volunteer in (released, cancelled_order):  # released, or the order was cancelled: free again
            assert staffing.sign_up(session, target.id, volunteer.id, actor=OFFICER, now=now, cfg=CFG,
                                    source="officer").outcome == "booked"


def test_officer_assignment_to_a_full_shift_is_refused_and_started_shifts_are_closed(rt) -> None:
    now = utcnow()
    with rt.transaction() as session:
        row = post(session, slots=1)
        target = shift(session, row, now + timedelta(days=1))
        started = shift(session, row, now - timedelta(minutes=5))
        a, b = people(session, 2)
        staffing.sign_up(session, target.id, a.id, actor=OFFICER, now=now, cfg=CFG, source="officer")
        with pytest.raises(Full):
            staffing.sign_up(session, target.id, b.id, actor=OFFICER, now=now, cfg=CFG, source="officer")
        with pytest.raises(Conflict) as error:
            staffing.sign_up(session, started.id, b.id, actor=OFFICER, now=now, cfg=CFG, source="officer")
        assert error.value.code == "shift_started"
    check_capacity(rt)


def test_a_freed_place_goes_to_the_waitlist_in_order_with_an_sms(rt) -> None:
    now = utcnow()
    with rt.transaction() as session:
        row = post(session, slots=1)
        start = now + timedelta(days=1)
        target = shift(session, row, start)
        elsewhere = shift(session, post(session), start + timedelta(minutes=30))
        holder, busy, next_in_line, last = people(session, 4)
        staffing.sign_up(session, target.id, holder.id, actor=OFFICER, now=now, cfg=CFG, source="officer")
        for volunteer in (busy, next_in_line, last):
            result = staffing.sign_up(session, target.id, volunteer.id, actor=OFFICER, now=now, cfg=CFG,
                                      source="sms", waitlist=True)
            assert result.outcome == "waitlisted"
        assert result.position == 3
        # the first on the waitlist books an overlapping shift meanwhile: skipped at promotion
        staffing.sign_up(session, elsewhere.id, busy.id, actor=OFFICER, now=now, cfg=CFG, source="officer")
        holder_signup = session.scalar(select(ShiftSignup).where(ShiftSignup.volunteer_id == holder.id))
    with rt.transaction() as session:
        staffing.cancel_signup(session, holder_signup.id, actor=Actor.sms(holder.phone), now=utcnow(), cfg=CFG)
    with rt.transaction() as session:
        by_volunteer = {s.volunteer_id: s for s in session.scalars(
            select(ShiftSignup).where(ShiftSignup.shift_id == target.id))}
        assert by_volunteer[holder.id].status is SignupStatus.cancelled
        assert (by_volunteer[busy.id].status, by_volunteer[busy.id].end_reason) == (SignupStatus.cancelled,
                                                                                    "conflict")
        assert by_volunteer[next_in_line.id].status is SignupStatus.booked
        assert by_volunteer[next_in_line.id].source == "waitlist"
        assert by_volunteer[last.id].status is SignupStatus.waitlisted
    assert [m.kind for m in sent(rt, volunteer=next_in_line)] == ["shift_waitlisted", "shift_promoted"]
    assert [m.kind for m in sent(rt, volunteer=holder)][-1] == "shift_left"
    promoted = sent(rt, "shift_promoted")[0]
    assert target.code in promoted.body and "候补成功" in promoted.body
    check_capacity(rt)


def test_more_places_promote_the_waitlist_and_fewer_never_go_below_taken(srt) -> None:
    now = utcnow()
    with srt.transaction() as session:
        target = shift(session, post(session, slots=1), now + timedelta(days=1))
        a, b, c = people(session, 3)
        for volunteer in (a, b, c):
            staffing.sign_up(session, target.id, volunteer.id, actor=OFFICER, now=now, cfg=CFG, source="api",
                             waitlist=True, notify=False)
        posts.set_capacity(session, target.id, 2, actor=OFFICER, now=now, cfg=CFG)
        assert target.filled == 2
        with pytest.raises(Conflict):
            posts.set_capacity(session, target.id, 1, actor=OFFICER, now=now, cfg=CFG)
    check_capacity(srt)
