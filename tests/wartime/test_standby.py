"""Who is on an order's standby, read straight from the rows (issue 15 made the read an anti-join on the order's
assignments: every way in and out of the standby is pinned here, each volunteer in exactly one situation)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from mobilize.models import Assignment, AssignmentStatus, Demand, Invitation, InvitationStatus, Order, Volunteer
from mobilize.models._types import utcnow
from mobilize.domain.matching import match
from mobilize.wartime import audience, standby
from mobilize.wartime.standby import OFFICER_RELEASE_REASON
from tests.wartime.conftest import draft, later, people, sites

# volunteer situation -> (invitation status, this order's assignment (status, end reason) or None)
SITUATIONS = {
    "waiting": (InvitationStatus.accepted, None),
    "placed": (InvitationStatus.accepted, (AssignmentStatus.notified, None)),
    "confirmed": (InvitationStatus.accepted, (AssignmentStatus.confirmed, None)),
    "arrived": (InvitationStatus.accepted, (AssignmentStatus.arrived, None)),
    "no_show": (InvitationStatus.accepted, (AssignmentStatus.no_show, "officer")),
    "released_by_officer": (InvitationStatus.accepted, (AssignmentStatus.released, OFFICER_RELEASE_REASON)),
    # a timed-out dispatch or a drop-out who says yes again is standby again
    "timed_out_then_yes": (InvitationStatus.accepted, (AssignmentStatus.released, "confirmation_timeout")),
    "dropped_out_then_yes": (InvitationStatus.accepted, (AssignmentStatus.declined, "dropped_out")),
    "timed_out_silent": (InvitationStatus.invited, (AssignmentStatus.released, "confirmation_timeout")),
    "invited": (InvitationStatus.invited, None),
    "declined": (InvitationStatus.declined, None),
    "opted_out": (InvitationStatus.accepted, None),
    "phone_invalid": (InvitationStatus.accepted, None),
    "no_show_elsewhere": (InvitationStatus.accepted, None),  # blocked in the other order only
    "busy_elsewhere": (InvitationStatus.accepted, None),  # standby, but not placeable while placed elsewhere
}
STANDBY = {"waiting", "timed_out_then_yes", "dropped_out_then_yes", "no_show_elsewhere", "busy_elsewhere"}


def test_the_standby_is_who_accepted_and_nothing_blocks_in_this_order(rt):
    now = utcnow()
    with rt.transaction() as session:
        site, _ = sites(session)
        everyone = dict(zip(SITUATIONS, people(session, len(SITUATIONS))))
    order_id = draft(rt, [(site.id, "registration", 30)])
    # another order over the same window, whose assignments must not count in this one (except "busy elsewhere")
    other_id = draft(rt, [(site.id, "queue_keeping", 30)])
    with rt.transaction() as session:
        demand = session.scalar(select(Demand).where(Demand.order_id == order_id))
        other_demand = session.scalar(select(Demand).where(Demand.order_id == other_id))
        for name, (status, assignment) in SITUATIONS.items():
            volunteer = everyone[name]
            session.add(Invitation(order_id=order_id, volunteer_id=volunteer.id, wave=1, status=status,
                                   invited_at=now, answered_at=None if status is InvitationStatus.invited else now))
            if assignment is not None:
                session.add(Assignment(order_id=order_id, demand_id=demand.id, volunteer_id=volunteer.id,
                                       status=assignment[0], end_reason=assignment[1], created_at=now))
        session.get(Volunteer, everyone["opted_out"].id).opted_out_at = now
        session.get(Volunteer, everyone["phone_invalid"].id).phone_invalid = True
        elsewhere = (("no_show_elsewhere", AssignmentStatus.no_show), ("busy_elsewhere", AssignmentStatus.confirmed))
        for name, status in elsewhere:
            session.add(Assignment(order_id=other_id, demand_id=other_demand.id, volunteer_id=everyone[name].id,
                                   status=status, created_at=now))
        session.get(Order, other_id).starts_at = later(24)
    names = {volunteer.id: name for name, volunteer in everyone.items()}
    with rt.transaction() as session:
        order = session.get(Order, order_id)
        on_standby = {names[i.volunteer_id] for i in session.scalars(select(Invitation).where(
            standby.standby_filter(order_id)))}
        assert on_standby == STANDBY
        assert standby.standby_count(session, order_id) == len(STANDBY)
        placeable = STANDBY - {"busy_elsewhere"}
        assert {names[c.volunteer_id] for c in standby.standby_candidates(session, order)} == placeable
        # the other order's standby: its own rows only (nobody accepted there)
        assert standby.standby_count(session, other_id) == 0


def test_the_standby_read_sees_what_the_transaction_has_not_flushed_yet(rt):
    """The candidates are read on the connection (no ORM rows): the session's pending changes are flushed first,
    as the ORM's autoflush would (the sweep times a dispatch out and then assesses the standby, unflushed)."""
    with rt.transaction() as session:
        site, _ = sites(session)
        [volunteer] = people(session, 1)
    order_id = draft(rt, [(site.id, "registration", 1)])
    with rt.transaction() as session:
        invitation = Invitation(order_id=order_id, volunteer_id=volunteer.id, wave=1,
                                status=InvitationStatus.accepted, invited_at=utcnow(), answered_at=utcnow())
        session.add(invitation)
        session.flush()
        order = session.get(Order, order_id)
        assert [c.volunteer_id for c in standby.standby_candidates(session, order)] == [volunteer.id]
        invitation.status = InvitationStatus.invited  # not flushed
        assert standby.standby_candidates(session, order) == []


def test_the_hold_back_chances_weigh_each_pending_invitee_by_the_time_left_in_its_interval(rt):
    """`dispatch.answer_chances` (the pending invitees' ages read as numpy microseconds since issue 15): the
    planning rate times the share of the hold-back still inside the invitation's interval, to the microsecond."""
    from datetime import timedelta

    from mobilize.wartime import dispatch

    now = utcnow()
    with rt.transaction() as session:
        site, _ = sites(session)
        volunteers = people(session, 3)
    order_id = draft(rt, [(site.id, "registration", 3)], wave_interval_s=600, expected_answer_rate=0.4)
    ages = [30.0, 580.250001, 700.0]  # inside the interval with the whole hold-back ahead, 19.75 s left, over
    with rt.transaction() as session:
        for volunteer, age in zip(volunteers, ages):
            session.add(Invitation(order_id=order_id, volunteer_id=volunteer.id, wave=1,
                                   status=InvitationStatus.invited, invited_at=now - timedelta(seconds=age)))
    with rt.transaction() as session:
        order = session.get(Order, order_id)
        pending = standby.pending_candidates(session, order, now)
        assert [c.volunteer_id for c in pending] == [v.id for v in volunteers[:2]]  # the third: silence, a no
        chances = dispatch.answer_chances(session, order, pending, now, 60.0)
        # the matching reads the candidates and their invitations' ages together: the very same chances
        invitees = standby.pending_invitees(session, order, now)
        assert invitees.candidates == pending
        assert dispatch.answer_chances(session, order, pending, now, 60.0, invitees.invited_s_ago) == chances
    assert chances == {volunteers[0].id: 0.4 * 60.0 / 600, volunteers[1].id: 0.4 * (600 - 580.250001) / 600}


def test_busy_elsewhere_follows_the_order_window_as_it_is_now(rt):
    """The placeable standby's conditions are built once per order and window (issue 15): a window moved off the
    other order's is seen at the next read (the volunteer placed there is placeable here again)."""
    from datetime import timedelta

    now = utcnow()
    with rt.transaction() as session:
        site, _ = sites(session)
        [volunteer] = people(session, 1)
    order_id = draft(rt, [(site.id, "registration", 1)])
    other_id = draft(rt, [(site.id, "queue_keeping", 1)])
    with rt.transaction() as session:
        other_demand = session.scalar(select(Demand).where(Demand.order_id == other_id))
        session.add(Invitation(order_id=order_id, volunteer_id=volunteer.id, wave=1, status=InvitationStatus.accepted,
                               invited_at=now, answered_at=now))
        session.add(Assignment(order_id=other_id, demand_id=other_demand.id, volunteer_id=volunteer.id,
                               status=AssignmentStatus.confirmed, created_at=now))
    with rt.transaction() as session:
        assert standby.standby_candidates(session, session.get(Order, order_id)) == []
        order = session.get(Order, order_id)
        order.starts_at, order.ends_at = order.ends_at + timedelta(hours=1), order.ends_at + timedelta(hours=6)
    with rt.transaction() as session:
        order = session.get(Order, order_id)
        assert [c.volunteer_id for c in standby.standby_candidates(session, order)] == [volunteer.id]


def test_the_standby_for_open_places_carries_the_skills_those_places_require_and_only_those(rt):
    """Matching reads a candidate's skills only against the places it matches them to, so the standby read for
    those places reads only the skills they require (none required: none read); without places, all of them."""
    with rt.transaction() as session:
        site, _ = sites(session)
        medic = people(session, 1, skills=("medical", "driving"))[0]
        driver = people(session, 1, skills=("driving",))[0]
    order_id = draft(rt, [(site.id, "registration", 2), (site.id, "queue_keeping", 1, "medical")])
    with rt.transaction() as session:
        for volunteer in (medic, driver):
            session.add(Invitation(order_id=order_id, volunteer_id=volunteer.id, wave=1, invited_at=utcnow(),
                                   status=InvitationStatus.accepted, answered_at=utcnow()))
    with rt.transaction() as session:
        order = session.get(Order, order_id)
        slots = audience.order_slots(session, order, open_only=True)
        unskilled = [slot for slot in slots if slot.required_skill is None]

        def skills(places) -> dict[int, frozenset[str]]:
            return {c.volunteer_id: c.skills for c in standby.standby_candidates(session, order, places)}

        assert skills(None) == {medic.id: {"medical", "driving"}, driver.id: {"driving"}}
        assert skills(slots) == {medic.id: {"medical"}, driver.id: frozenset()}
        assert skills(unskilled) == {medic.id: frozenset(), driver.id: frozenset()}
        # and the matching still tells who may take the medical place
        placed = match(standby.standby_candidates(session, order, slots), slots, audience.WEIGHTS)
        medical = {slot.demand_id for slot in slots if slot.required_skill == "medical"}
        assert [p.volunteer_id for p in placed.placements if p.demand_id in medical] == [medic.id]


def _marks(session, order_id: int) -> dict[int, tuple[bool, bool]]:
    """Per volunteer invited to the order: (its invitation's off_standby mark, what the assignments say)."""
    from mobilize.wartime.places import off_standby_now

    return {volunteer_id: (bool(mark), bool(truth)) for volunteer_id, mark, truth in session.execute(
        select(Invitation.volunteer_id, Invitation.off_standby,
               off_standby_now(Invitation.order_id, Invitation.volunteer_id))
        .where(Invitation.order_id == order_id))}


def test_the_off_standby_mark_follows_the_assignments_through_every_way_in_and_out(rt):
    """Issue 15: the standby's read trusts `invitations.off_standby` to skip the placed, so the mark must follow
    the assignments as `places` writes them: a placement, a confirmation, a timeout, an officer's release, a
    no-show, a drop-out, and a placement the full demand refused (its savepoint rolled back, the mark with it)."""
    from mobilize.wartime import places

    now = utcnow()
    with rt.transaction() as session:
        site, _ = sites(session)
        volunteers = people(session, 5)
    order_id = draft(rt, [(site.id, "registration", 4)])
    ids = [v.id for v in volunteers]
    with rt.transaction() as session:
        for volunteer_id in ids:
            session.add(Invitation(order_id=order_id, volunteer_id=volunteer_id, wave=1, invited_at=now,
                                   status=InvitationStatus.accepted, answered_at=now))
    with rt.transaction() as session:
        demand_id = session.scalar(select(Demand.id).where(Demand.order_id == order_id))
        assignments = [places.place(session, order_id, demand_id, volunteer_id, now) for volunteer_id in ids[:4]]
        assert places.place(session, order_id, demand_id, ids[4], now) is None  # full: nothing written

    def after(step) -> tuple[dict, set[int]]:
        with rt.transaction() as session:
            step(session)
        with rt.transaction() as session:
            marks = _marks(session, order_id)
            waiting = {i.volunteer_id for i in session.scalars(select(Invitation).where(
                standby.standby_filter(order_id)))}
        assert all(mark == truth for mark, truth in marks.values()), marks
        return {vid: mark for vid, (mark, _truth) in marks.items()}, waiting

    first, second, third, fourth = [a.id for a in assignments]
    marks, waiting = after(lambda session: None)
    assert marks == {**dict.fromkeys(ids[:4], True), ids[4]: False} and waiting == {ids[4]}

    def end(assignment_id, status, reason):
        return lambda session: places.end_assignment(session, session.get(Assignment, assignment_id), status,
                                                     reason, now, from_statuses=places.ACTIVE)

    confirm = lambda session: places.move_assignment(  # noqa: E731
        session, first, [AssignmentStatus.notified], status=AssignmentStatus.confirmed, confirmed_at=now)
    steps = [  # (what happens, whose mark it clears (True: kept off) )
        (confirm, ids[0], True),
        (end(second, AssignmentStatus.released, "confirmation_timeout"), ids[1], False),
        (end(third, AssignmentStatus.released, standby.OFFICER_RELEASE_REASON), ids[2], True),
        (end(fourth, AssignmentStatus.no_show, "officer"), ids[3], True),
        (end(first, AssignmentStatus.declined, "dropped_out"), ids[0], False),
    ]
    for step, volunteer_id, kept_off in steps:
        marks, waiting = after(step)
        assert marks[volunteer_id] is kept_off
        assert (volunteer_id in waiting) is not kept_off
    assert waiting == {ids[0], ids[1], ids[4]}
    # and the one who timed out is placed again: kept off again
    with rt.transaction() as session:
        assert places.place(session, order_id, demand_id, ids[1], now) is not None
    marks, waiting = after(lambda session: None)
    assert marks[ids[1]] is True and waiting == {ids[0], ids[4]}


def test_the_standby_read_walks_only_the_unmarked_invitations(rt):
    """The point of the mark: SQLite reads the standby from ix_invitations_order_standby's range of the order's
    accepted, unmarked invitations (the thousands placed are never visited)."""
    if rt.engine.dialect.name != "sqlite":
        pytest.skip("a SQLite query plan")
    statement = select(Invitation.id).where(standby.standby_filter(1))
    sql = str(statement.compile(rt.engine, compile_kwargs={"literal_binds": True}))
    with rt.engine.connect() as connection:
        plan = " / ".join(row[-1] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
    assert "SEARCH invitations USING COVERING INDEX ix_invitations_order_standby " \
           "(order_id=? AND status=? AND off_standby=?)" in plan, plan


def test_the_migration_marks_the_invitations_already_there(rt, database_url):
    """Migration 0018 marks existing invitations from their assignments. Here every situation above, whose
    assignments were written around `places` (unmarked: the standby's read still asks the assignments of the
    few it walks, so the standby was right all along), taken back down to 0017 and up again."""
    from alembic import command

    from mobilize.migrate import alembic_config, upgrade

    test_the_standby_is_who_accepted_and_nothing_blocks_in_this_order(rt)

    def marks_and_standby() -> tuple[list[tuple[bool, bool]], dict[int, set[int]]]:
        with rt.transaction() as session:
            orders = session.scalars(select(Order.id)).all()
            marks = [pair for order_id in orders for pair in _marks(session, order_id).values()]
            waiting = {order_id: set(session.scalars(select(Invitation.volunteer_id).where(
                standby.standby_filter(order_id)))) for order_id in orders}
        return marks, waiting

    marks, waiting = marks_and_standby()
    assert any(mark != truth for mark, truth in marks)
    rt.engine.dispose()
    command.downgrade(alembic_config(database_url), "0017")
    upgrade(database_url)
    marks_after, waiting_after = marks_and_standby()
    assert waiting_after == waiting
    assert all(mark == truth for mark, truth in marks_after) and {mark for mark, _ in marks_after} == {True, False}
