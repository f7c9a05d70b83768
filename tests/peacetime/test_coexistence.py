"""Peacetime shifts beside a wartime order (issue 5, item 5): the order's policy for volunteers booked on an
overlapping shift (leave: not eligible; release: eligible, released from the shift when placed, the gap shown and
backfilled by people not in the order), protected posts never stripped, later shifts kept after the order, a
booking and a placement of one volunteer serialised, and the drill's peacetime report. On SQLite and PostgreSQL.
"""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from mobilize.models import (
    Assignment,
    Invitation,
    Order,
    OutboundMessage,
    Shift,
    ShiftSignup,
    ShiftStatus,
    SignupStatus,
)
from mobilize.models._types import utcnow
from mobilize.peacetime import staffing
from mobilize.peacetime.coexistence import peacetime_report
from mobilize.peacetime.errors import Overlap
from mobilize.wartime import dispatch, lifecycle
from mobilize.wartime.audience import preview
from mobilize.wartime.places import ACTIVE, lock_order, place
from tests.peacetime.conftest import (
    CFG,
    OFFICER,
    check_capacity,
    people,
    post,
    shift,
    text,
)
from tests.wartime.conftest import COMMANDER, check_capacity_invariants, draft, sites

START, END = 24, 29  # the order's window, hours after BASE
BASE = utcnow().replace(microsecond=0)  # one instant for the whole module: windows and shifts meet exactly


def hours(h: float):
    return BASE + timedelta(hours=h)


def book(session, shift_row: Shift, volunteer) -> int:
    return staffing.sign_up(session, shift_row.id, volunteer.id, actor=OFFICER, now=utcnow(), cfg=CFG,
                            source="officer", notify=False).signup.id


def order_of(rt, site_id: int, policy: str, capacity: int = 1, launch: bool = True, **overrides) -> int:
    order_id = draft(rt, [(site_id, "registration", capacity)], peacetime_policy=policy, starts_at=hours(START),
                     ends_at=hours(END), **overrides)
    if launch:
        with rt.transaction() as session:
            lifecycle.launch(session, order_id, COMMANDER, utcnow())
    return order_id


def previewed(rt, order_id: int):
    with rt.transaction() as session:
        return preview(session, session.get(Order, order_id))


def try_place(rt, order_id: int, volunteer_id: int) -> int | None:
    """A placement as dispatch makes it: the order locked, then `place` (None when refused)."""
    with rt.transaction() as session:
        lock_order(session, order_id)
        demand_id = session.get(Order, order_id).demands[0].id
        assignment = place(session, order_id, demand_id, volunteer_id, utcnow())
        return assignment.id if assignment is not None else None


def signup_row(rt, signup_id: int) -> ShiftSignup:
    with rt.transaction() as session:
        return session.get(ShiftSignup, signup_id)


def filled(rt, shift_id: int) -> int:
    with rt.transaction() as session:
        return session.get(Shift, shift_id).filled


def test_leave_policy_excludes_volunteers_on_overlapping_shifts(rt) -> None:
    with rt.transaction() as session:
        site, _ = sites(session)
        row = post(session, slots=3)
        overlapping = shift(session, row, hours(START + 1), hours=2)
        touching = shift(session, row, hours(START - 2), hours=2)  # ends as the order starts: no overlap
        on_shift, on_touching, free = people(session, 3)
        signup_id = book(session, overlapping, on_shift)
        book(session, touching, on_touching)
        ids = on_shift.id, on_touching.id, free.id
    order_id = order_of(rt, site.id, "leave", capacity=3)
    result = previewed(rt, order_id)
    assert result.excluded["busy_peacetime_shift"] == 1 and result.excluded["busy_protected_post"] == 0
    assert result.eligible == 2
    # the wave invites the other two only
    from tests.wartime.conftest import invited_ids, run_wave

    run_wave(rt, order_id)
    assert sorted(invited_ids(rt, order_id)) == sorted(ids[1:])
    # and even a direct placement (an invitation from before the booking) leaves the shift alone
    assert try_place(rt, order_id, ids[0]) is None
    assert signup_row(rt, signup_id).status is SignupStatus.booked and filled(rt, overlapping.id) == 1
    check_capacity_invariants(rt, order_id)


def test_release_policy_makes_them_eligible_and_placement_releases_the_overlapping_shift(rt) -> None:
    with rt.transaction() as session:
        site, _ = sites(session)
        row = post(session, slots=2)  # beside the order's site (BADAGUAN)
        overlapping = shift(session, row, hours(START + 1), hours=2)
        crowd = people(session, 8)  # 100 m, 200 m ... east
        signup_id = book(session, overlapping, crowd[0])
        assert overlapping.filled == 1
        ids = [v.id for v in crowd]
    # a wave of 3 (one place, answer rate 1/3): the three nearest, the volunteer on the shift included
    order_id = order_of(rt, site.id, "release", expected_answer_rate=1 / 3, over_recruit_factor=1.0)
    result = previewed(rt, order_id)
    assert result.eligible == 8 and result.excluded["busy_peacetime_shift"] == 0
    from tests.wartime.conftest import invited_ids, run_wave

    run_wave(rt, order_id)
    assert sorted(invited_ids(rt, order_id)) == ids[:3]
    # the volunteer on the shift says yes and is placed by matching: released from the shift in that transaction
    text(rt, crowd[0], "Y")
    with rt.transaction() as session:
        outcome = dispatch.run_matching(session, order_id, utcnow(), hold_max_s=0)
    assert outcome.placed == 1
    with rt.transaction() as session:
        placed = session.scalars(select(Assignment).where(Assignment.order_id == order_id,
                                                          Assignment.status.in_(list(ACTIVE)))).all()
        assert [a.volunteer_id for a in placed] == [ids[0]]
    released = signup_row(rt, signup_id)
    assert released.status is SignupStatus.released and released.released_by_order_id == order_id
    assert released.end_reason == "released_by_order"
    # the gap shows on the peacetime board: filled dropped, the shift is in the gap report
    assert filled(rt, overlapping.id) == 0
    from mobilize.peacetime import gaps

    with rt.transaction() as session:
        board = gaps.report(session, utcnow(), CFG, days=3)
        items = [i for s in board["streets"] for i in s["items"] if i["shift_id"] == overlapping.id]
        assert items and items[0]["open"] == 2
        # backfill invitations went to nearby volunteers who are not in the order: never the invitees
        backfill = [m.volunteer_id for m in session.scalars(
            select(OutboundMessage).where(OutboundMessage.kind == "shift_backfill").order_by(OutboundMessage.id))]
        in_order = set(session.scalars(select(Invitation.volunteer_id).where(Invitation.order_id == order_id)))
    assert backfill == ids[3:]  # 2 open places x 3 wanted, the 5 nearby people not in the order, nearest first
    assert not set(backfill) & in_order
    check_capacity(rt)
    check_capacity_invariants(rt, order_id)


@pytest.mark.parametrize("policy", ["leave", "release"])
def test_protected_posts_are_never_stripped(rt, policy) -> None:
    with rt.transaction() as session:
        site, _ = sites(session)
        guarded = post(session, slots=2, protected=True)
        ordinary = post(session, slots=2)
        on_guarded = shift(session, guarded, hours(START), hours=3)
        on_ordinary = shift(session, ordinary, hours(START + 2), hours=2)
        guard, both, regular = people(session, 3)
        guard_signup = book(session, on_guarded, guard)
        both_guard = book(session, shift(session, guarded, hours(START + 3), hours=2), both)
        both_regular = book(session, shift(session, ordinary, hours(START - 1), hours=2), both)
        regular_signup = book(session, on_ordinary, regular)
        ids = guard.id, both.id, regular.id
    order_id = order_of(rt, site.id, policy, capacity=3)
    result = previewed(rt, order_id)
    assert result.excluded["busy_protected_post"] == 2  # the guard, and the one also on an ordinary shift
    assert result.excluded["busy_peacetime_shift"] == (1 if policy == "leave" else 0)
    assert result.eligible == (0 if policy == "leave" else 1)
    assert try_place(rt, order_id, ids[0]) is None and try_place(rt, order_id, ids[1]) is None
    for signup_id in (guard_signup, both_guard, both_regular):
        assert signup_row(rt, signup_id).status is SignupStatus.booked
    placed = try_place(rt, order_id, ids[2])
    assert (placed is None) == (policy == "leave")
    expected = SignupStatus.booked if policy == "leave" else SignupStatus.released
    assert signup_row(rt, regular_signup).status is expected
    assert filled(rt, on_guarded.id) == 1
    check_capacity(rt)
    check_capacity_invariants(rt, order_id)


@pytest.mark.parametrize("ending", ["finish", "cancel"])
def test_after_the_order_released_volunteers_are_back_on_their_later_shifts(rt, ending) -> None:
    with rt.transaction() as session:
        site, _ = sites(session)
        row = post(session, slots=2)
        earlier = shift(session, row, hours(START - 4), hours=2)  # before the window
        across_start = shift(session, post(session, slots=1), hours(START - 1), hours=2)  # overlaps the start
        during = shift(session, row, hours(START + 1), hours=2)
        later = shift(session, row, hours(END), hours=2)  # starts as the order ends: not overlapping
        next_day = shift(session, row, hours(END + 20), hours=2)
        volunteer, = people(session, 1)
        signups = {name: book(session, s, volunteer) for name, s in
                   (("earlier", earlier), ("across_start", across_start), ("during", during), ("later", later),
                    ("next_day", next_day))}
        vid = volunteer.id
    order_id = order_of(rt, site.id, "release")
    assert try_place(rt, order_id, vid) is not None
    with rt.transaction() as session:
        if ending == "finish":  # (at the window's start: finishing before it is refused)
            lifecycle.finish(session, order_id, COMMANDER, hours(START))
        else:
            lifecycle.cancel(session, order_id, COMMANDER, utcnow(), "test")
    statuses = {name: signup_row(rt, sid) for name, sid in signups.items()}
    for name in ("across_start", "during"):
        assert statuses[name].status is SignupStatus.released and statuses[name].released_by_order_id == order_id
    for name in ("earlier", "later", "next_day"):
        assert statuses[name].status is SignupStatus.booked and statuses[name].released_by_order_id is None
    assert [filled(rt, s.id) for s in (earlier, across_start, during, later, next_day)] == [1, 0, 0, 1, 1]
    # free again after the order, they can book another shift in the old window
    with rt.transaction() as session:
        again = shift(session, row, hours(START + 3), hours=1)
        staffing.sign_up(session, again.id, vid, actor=OFFICER, now=utcnow(), cfg=CFG, source="officer",
                         notify=False)
    check_capacity(rt)


@pytest.mark.parametrize("policy", ["leave", "release"])
def test_a_booking_and_a_placement_of_the_same_volunteer_are_serialised(rt, policy) -> None:
    """Each volunteer is booked on an overlapping shift and placed on the order at the same moment, from two
    threads: never both (a live sign-up on an overlapping shift beside an active assignment)."""
    with rt.transaction() as session:
        site, _ = sites(session)
        row = post(session, slots=10)
        target = shift(session, row, hours(START + 1), hours=2, capacity=10)
        crowd = [v.id for v in people(session, 6)]
        shift_id = target.id
    order_id = order_of(rt, site.id, policy, capacity=10)
    outcomes: dict[int, tuple] = {}
    for vid in crowd:
        barrier = threading.Barrier(2)
        result: dict[str, object] = {}

        def booking(volunteer_id=vid, result=result, barrier=barrier) -> None:
            barrier.wait()
            try:
                with rt.transaction() as session:
                    staffing.sign_up(session, shift_id, volunteer_id, actor=OFFICER, now=utcnow(), cfg=CFG,
                                     source="api", notify=False)
                result["booking"] = "booked"
            except Overlap:
                result["booking"] = "overlap"

        def placing(volunteer_id=vid, result=result, barrier=barrier) -> None:
            barrier.wait()
            result["placement"] = "placed" if try_place(rt, order_id, volunteer_id) else "refused"

        threads = [threading.Thread(target=booking), threading.Thread(target=placing)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        outcomes[vid] = (result.get("booking"), result.get("placement"))
    with rt.transaction() as session:
        for vid in crowd:
            live = session.scalars(select(ShiftSignup).where(ShiftSignup.volunteer_id == vid,
                                                             ShiftSignup.status == SignupStatus.booked)).all()
            active = session.scalars(select(Assignment).where(Assignment.volunteer_id == vid,
                                                              Assignment.status.in_(list(ACTIVE)))).all()
            assert not (live and active), (vid, outcomes[vid])
            assert len(live) + len(active) == 1, (vid, outcomes[vid])
            booking, placement = outcomes[vid]
            if policy == "leave":  # whoever came first wins, the other is refused
                assert (booking, placement) in (("booked", "refused"), ("overlap", "placed")), outcomes[vid]
            else:  # the placement always wins: it releases a booking that came first
                assert placement == "placed" and booking in ("booked", "overlap"), outcomes[vid]
                released = session.scalars(select(ShiftSignup).where(
                    ShiftSignup.volunteer_id == vid, ShiftSignup.status == SignupStatus.released)).all()
                assert len(released) == (booking == "booked")
                assert all(s.released_by_order_id == order_id for s in released)
    check_capacity(rt)
    check_capacity_invariants(rt, order_id)


def test_peacetime_report_numbers(rt) -> None:
    with rt.transaction() as session:
        site, _ = sites(session)
        ordinary = post(session, slots=2)
        guarded = post(session, slots=2, protected=True, name="栈桥站文明引导")
        empty_guard = post(session, slots=1, protected=True, name="火车站文明引导")
        s1 = shift(session, ordinary, hours(START + 1), hours=2)
        s2 = shift(session, ordinary, hours(START + 3), hours=2)
        g1 = shift(session, guarded, hours(START), hours=5)
        shift(session, empty_guard, hours(START), hours=5)
        shift(session, ordinary, hours(END + 2), hours=2)  # later: not overlapping
        shift(session, guarded, hours(START - 6), hours=2)  # earlier: not overlapping
        a, b, guard, c, newcomer = people(session, 5)
        book(session, s1, a)
        book(session, s1, b)
        book(session, s2, c)
        book(session, g1, guard)
        ids = a.id, b.id, guard.id, c.id, newcomer.id
    order_id = order_of(rt, site.id, "release", capacity=5)
    before = None
    with rt.transaction() as session:
        before = peacetime_report(session, session.get(Order, order_id))
    assert (before["shifts_overlapping"], before["shifts_released"], before["protected_posts_total"],
            before["protected_posts_staffed"], before["gaps_backfilled"]) == (4, 0, 2, 1, 0)
    for vid in ids[:3]:
        try_place(rt, order_id, vid)  # the guard is refused
    with rt.transaction() as session:  # one of the two freed places of s1 is taken again
        staffing.sign_up(session, s1.id, ids[4], actor=OFFICER, now=utcnow(), cfg=CFG, source="sms",
                         notify=False)
    with rt.transaction() as session:
        report = peacetime_report(session, session.get(Order, order_id))
    assert report["shifts_overlapping"] == 4  # s1, s2, g1, e1
    assert report["shifts_released"] == 1 and report["signups_released"] == 2  # s1: a and b
    assert report["protected_posts_total"] == 2
    assert report["protected_posts_staffed"] == 1  # g1 kept its guard; e1 never had anyone
    assert {p["post_id"]: p["staffed"] for p in report["protected_posts"]} == {guarded.id: True,
                                                                              empty_guard.id: False}
    assert report["gaps_backfilled"] == 1
    assert report["backfill_invitations"] >= 1
    assert report["policy"] == "release"
    import json

    json.dumps(report)  # the drill prints it in its --json report


@pytest.mark.parametrize("policy", ["leave", "release"])
def test_the_standby_filter_offered_to_dispatch_names_who_cannot_be_placed(rt, policy) -> None:
    """`blocked_by_roster(order)`: the SQL condition for `dispatch.standby_candidates`, so that a standby volunteer
    the roster keeps (booked after their invitation) is not planned batch after batch."""
    from mobilize.models import Volunteer
    from mobilize.peacetime.coexistence import blocked_by_roster

    with rt.transaction() as session:
        site, _ = sites(session)
        guard, regular, free, cancelled_shift = people(session, 4)
        book(session, shift(session, post(session, protected=True), hours(START + 1)), guard)
        book(session, shift(session, post(session), hours(START + 1)), regular)
        book(session, shift(session, post(session), hours(END)), free)  # after the window
        gone = shift(session, post(session), hours(START + 1))
        book(session, gone, cancelled_shift)
        gone.status = ShiftStatus.cancelled
        ids = guard.id, regular.id
    order_id = order_of(rt, site.id, policy)
    with rt.transaction() as session:
        order = session.get(Order, order_id)
        blocked = set(session.scalars(select(Volunteer.id).where(blocked_by_roster(order))))
    assert blocked == ({ids[0], ids[1]} if policy == "leave" else {ids[0]})
