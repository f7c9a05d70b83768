"""Peacetime sign-up by SMS through the conversation: open shifts near home, take one by its code, the waitlist,
leave, check in and out (签到/签退) with wartime first when an order claims the reply, hours and stars (时长),
and swaps answered by both volunteers."""
from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from mobilize.models import AssignmentStatus, ServiceRecord, Shift, ShiftSignup, ShiftSwap, SignupStatus, SwapStatus
from mobilize.models._types import utcnow
from mobilize.peacetime import service, staffing, swaps
from tests.peacetime.conftest import (
    BADAGUAN,
    CFG,
    OFFICER,
    ZHANSHAN,
    check_capacity,
    people,
    post,
    sent,
    shift,
    text,
    wartime_assignment,
)


def _last(runtime, volunteer, kind=None):
    messages = sent(runtime, kind, volunteer=volunteer)
    assert messages, f"no {kind or 'message'} to {volunteer.name}"
    return messages[-1]


def test_ask_take_wait_leave_and_promotion_by_sms(rt) -> None:
    now = utcnow()
    with rt.transaction() as session:
        near, far = post(session, at=BADAGUAN, slots=1), post(session, "湛山", at=ZHANSHAN, slots=2)
        first_near = shift(session, near, now + timedelta(days=1))
        shift(session, near, now + timedelta(days=2))  # the same post later: one per post in the list
        first_far = shift(session, far, now + timedelta(days=1, hours=3))
        alice, bob = people(session, 2)
    assert text(rt, alice, "班次") == "shifts_listed"
    listing = _last(rt, alice, "shift_list").body
    codes = re.findall(r"(\d{4}) \d+月", listing)
    assert codes == [first_near.code, first_far.code]  # nearest post first, then the one 1.6 km away
    assert f"如班次{first_near.code}" in listing

    assert text(rt, alice, f"班次{first_near.code}") == "shift_booked"
    assert f"【班次{first_near.code}】报名成功" in _last(rt, alice, "shift_booked").body
    assert text(rt, alice, f"班次{first_near.code}") == "shift_already_booked"
    assert text(rt, bob, f"SHIFT {first_near.code}") == "shift_waitlisted"  # full: on the waitlist
    assert "候补第1位" in _last(rt, bob, "shift_waitlisted").body
    assert text(rt, bob, "班次") == "shifts_listed"
    assert first_near.code not in _last(rt, bob, "shift_list").body  # full, and already waiting

    assert text(rt, alice, f"取消班次{first_near.code}") == "shift_left"
    assert _last(rt, alice).kind == "shift_left"
    assert _last(rt, bob).kind == "shift_promoted"
    with rt.transaction() as session:
        statuses = {s.volunteer_id: s.status for s in session.scalars(
            select(ShiftSignup).where(ShiftSignup.shift_id == first_near.id))}
    assert statuses == {alice.id: SignupStatus.cancelled, bob.id: SignupStatus.booked}
    assert text(rt, alice, "取消班次") == "shifts_mine_none"
    assert text(rt, bob, "取消班次") == "shifts_mine_listed"
    assert first_near.code in _last(rt, bob, "shift_mine").body
    check_capacity(rt)


def test_unknown_codes_conflicts_and_english(rt) -> None:
    now = utcnow()
    with rt.transaction() as session:
        row = post(session, slots=2)
        mine = shift(session, row, now + timedelta(days=1))
        clash = shift(session, post(session), now + timedelta(days=1, minutes=30))
        shift(session, post(session), now + timedelta(days=2))
        carol = people(session, 1, language="en")[0]
        staffing.sign_up(session, mine.id, carol.id, actor=OFFICER, now=now, cfg=CFG, source="officer",
                         notify=False)
    assert text(rt, carol, "SHIFT 9999") == "shift_unavailable"
    assert text(rt, carol, f"shift {clash.code}") == "shift_conflict"
    assert "overlaps your other shift" in _last(rt, carol, "shift_conflict").body
    assert text(rt, carol, "shifts") == "shifts_listed"
    assert _last(rt, carol, "shift_list").body.startswith("Open shifts near you:")
    assert text(rt, carol, f"can't take shift {clash.code}") == "shifts_mine_listed"  # not on it: their list
    assert text(rt, carol, "DROP SHIFT") == "shifts_mine_listed"
    assert _last(rt, carol, "shift_mine").body.startswith(f"Your shifts: {mine.code}")


def test_check_in_check_out_hours_and_stars_by_sms(rt) -> None:
    now = utcnow()
    with rt.transaction() as session:
        current = shift(session, post(session, slots=2), now - timedelta(minutes=30), hours=3)
        dave = people(session, 1)[0]
        session.add(ServiceRecord(volunteer_id=dave.id, kind="imported", description="导入", hours=99.5,
                                  certified_hours=99.5, status="certified"))
        session.execute(ShiftSignup.__table__.insert().values(
            shift_id=current.id, volunteer_id=dave.id, status="booked", source="officer", created_by="t",
            created_at=now - timedelta(days=1), booked_at=now - timedelta(days=1)))
        current.filled = 1
    assert text(rt, dave, "签到") == "shift_checked_in"
    assert _last(rt, dave).kind == "shift_checkin_ack"
    assert text(rt, dave, "签到") == "shift_already_checked_in"
    assert text(rt, dave, "签退") == "shift_checked_out"
    done = _last(rt, dave, "shift_checkout_ack").body
    assert "待负责人认证" in done
    assert text(rt, dave, "时长") == "hours_sent"
    assert "累计认证服务99.5小时，积分99.5，当前为0星" in _last(rt, dave, "hours_reply").body
    with rt.transaction() as session:
        record = session.scalar(select(ServiceRecord).where(ServiceRecord.volunteer_id == dave.id,
                                                            ServiceRecord.kind == "shift"))
        service.certify(session, record.id, actor=OFFICER, now=utcnow(), hours=0.5, reason="核对签到表")
    assert text(rt, dave, "HOURS") == "hours_sent"
    assert "累计认证服务100小时，积分100，当前为1星" in _last(rt, dave, "hours_reply").body


def test_a_wartime_order_running_now_keeps_arrivals_a_later_one_does_not(rt) -> None:
    now = utcnow()
    with rt.transaction() as session:
        row = post(session, slots=3)
        current = shift(session, row, now - timedelta(minutes=10), hours=2)
        erin, frank = people(session, 2)
        for volunteer in (erin, frank):
            session.execute(ShiftSignup.__table__.insert().values(
                shift_id=current.id, volunteer_id=volunteer.id, status="booked", source="officer", created_by="t",
                created_at=now - timedelta(days=1), booked_at=now - timedelta(days=1)))
        current.filled = 2
        # erin is also dispatched to an order running now (its peacetime policy will settle this; the reply
        # belongs to the order), frank to one tomorrow
        wartime_assignment(session, erin, now - timedelta(hours=1), now + timedelta(hours=4), code="27")
        wartime_assignment(session, frank, now + timedelta(days=1), now + timedelta(days=1, hours=5), code="28",
                           status=AssignmentStatus.confirmed)
    assert text(rt, erin, "到") == "arrived"  # the wartime handler's outcome
    assert text(rt, frank, "签到") == "shift_checked_in"
    with rt.transaction() as session:
        statuses = {s.volunteer_id: s.status for s in session.scalars(select(ShiftSignup))}
    assert statuses == {erin.id: SignupStatus.booked, frank.id: SignupStatus.checked_in}


def test_a_swap_accepted_by_both_by_sms(rt) -> None:
    now = utcnow()
    with rt.transaction() as session:
        row = post(session, slots=2)
        x = shift(session, row, now + timedelta(days=1))
        y = shift(session, row, now + timedelta(days=2))
        gina, hank = people(session, 2)
        sx = staffing.sign_up(session, x.id, gina.id, actor=OFFICER, now=now, cfg=CFG, source="officer",
                              notify=False).signup
        sy = staffing.sign_up(session, y.id, hank.id, actor=OFFICER, now=now, cfg=CFG, source="officer",
                              notify=False).signup
        swap = swaps.propose(session, sx.id, hank.id, second_signup_id=sy.id, actor=OFFICER, now=now, cfg=CFG)
        code = swap.code
    request = _last(rt, gina, "swap_request").body
    assert f"【换班{code}】" in request and f"同意回复换班{code}" in request
    assert text(rt, gina, f"换班{code}") == "swap_accepted"
    with rt.transaction() as session:
        assert session.get(ShiftSwap, swap.id).status is SwapStatus.proposed  # one yes is not enough
    assert text(rt, hank, "换班") == "swap_completed"  # bare: their only open swap
    with rt.transaction() as session:
        live = {(s.shift_id, s.volunteer_id): s.status for s in session.scalars(select(ShiftSignup))}
        assert live == {(x.id, gina.id): SignupStatus.swapped, (y.id, hank.id): SignupStatus.swapped,
                        (x.id, hank.id): SignupStatus.booked, (y.id, gina.id): SignupStatus.booked}
        assert [session.get(Shift, s).filled for s in (x.id, y.id)] == [1, 1]
    assert _last(rt, gina).kind == "swap_done" and _last(rt, hank).kind == "swap_done"
    check_capacity(rt)


def test_a_swap_refused_by_one_or_no_longer_possible_changes_nothing(srt) -> None:
    now = utcnow()
    with srt.transaction() as session:
        row = post(session, slots=2)
        x = shift(session, row, now + timedelta(days=1))
        other = shift(session, post(session), now + timedelta(days=1))
        ivy, jack, kim = people(session, 3)
        sx = staffing.sign_up(session, x.id, ivy.id, actor=OFFICER, now=now, cfg=CFG, source="officer",
                              notify=False).signup
        refused = swaps.propose(session, sx.id, jack.id, actor=OFFICER, now=now, cfg=CFG)  # a hand-over
    assert text(srt, jack, f"不换班{refused.code}") == "swap_declined"
    assert _last(srt, ivy).kind == "swap_declined"
    with srt.transaction() as session:
        failing = swaps.propose(session, sx.id, kim.id, actor=OFFICER, now=now, cfg=CFG)
        staffing.sign_up(session, other.id, kim.id, actor=OFFICER, now=now, cfg=CFG, source="officer",
                         notify=False)  # kim is now busy at that time
    assert text(srt, ivy, f"SWAP {failing.code}") == "swap_accepted"
    assert text(srt, kim, f"SWAP {failing.code}") == "swap_failed"
    with srt.transaction() as session:
        assert session.get(ShiftSignup, sx.id).status is SignupStatus.booked
        assert session.get(ShiftSwap, failing.id).outcome.startswith("volunteer")
    check_capacity(srt)
